"""Reading obs columns: kinds, category lists and codes, continuous values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical obs column: its categories and codes (-1 = missing).

    ``categories`` are the categories as strings; ``values`` the same categories as
    Python scalars (int, float, bool or str), for layouts that write them as JSON values.
    """

    key: str
    categories: list[str]
    codes: np.ndarray
    values: tuple = ()


@dataclass(frozen=True)
class ContinuousColumn:
    """A continuous obs column as float64 (non-numeric entries are NaN)."""

    key: str
    values: np.ndarray


def is_categorical(series: pd.Series) -> bool:
    """Categorical when the dtype is category or bool, or is not numeric."""
    if isinstance(series.dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(series.dtype):
        return True
    return not ptypes.is_numeric_dtype(series.dtype)


def read_categorical(key: str, series: pd.Series) -> CategoricalColumn:
    """Categories in pandas order (existing categoricals keep theirs, unused included)."""
    as_category = (
        series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    )
    raw = list(as_category.cat.categories)
    codes = np.asarray(as_category.cat.codes, dtype=np.int64)
    values = tuple(v.item() if isinstance(v, np.generic) else v for v in raw)
    names = [str(c) for c in raw]
    if len(set(names)) != len(names):
        seen: dict[str, object] = {}
        for category in raw:
            if str(category) in seen:
                raise ValueError(
                    f"obs column '{key}' has categories {seen[str(category)]!r} and "
                    f"{category!r}, which are the same text; the viewer needs unique "
                    "categories. Convert the column with .astype(str) first."
                )
            seen[str(category)] = category
    return CategoricalColumn(key, names, codes, values)


def read_continuous(key: str, series: pd.Series) -> ContinuousColumn:
    """Values as float64; entries that are not numbers become NaN."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return ContinuousColumn(key, values)


def codes_dtype(n_categories: int, requested: str) -> str:
    """uint8 or uint16 for the codes of a field (``requested``: auto, uint8 or uint16).

    Raises
    ------
    ValueError
        If the categories do not fit the requested dtype or any codes dtype.
    """
    if n_categories > 65534:
        raise ValueError(
            f"{n_categories:,} categories do not fit the uint16 codes (at most 65534); "
            "export this column as continuous or drop it from obs_keys."
        )
    if requested == "uint8" and n_categories > 254:
        raise ValueError(
            f"{n_categories:,} categories do not fit uint8 codes (at most 254); "
            "use obs_categorical_dtype='auto' or 'uint16'."
        )
    if requested == "uint16" or n_categories > 254:
        return "uint16"
    return "uint8"


def obs_keys_of(obs: Any) -> list[Any]:
    """Column names of a DataFrame, an xarray Dataset or AnnData's lazy obs (Dataset2D)."""
    if isinstance(obs, pd.DataFrame) or hasattr(obs, "columns"):
        return list(obs.columns)
    if hasattr(obs, "data_vars"):
        return list(obs.data_vars)
    raise TypeError(
        f"obs must be a pandas DataFrame, an xarray Dataset or AnnData's lazy obs, "
        f"got {type(obs).__name__}."
    )


def require_one_dimension(obs: Any) -> None:
    """An xarray Dataset as obs has one dimension, the cells, and 1-D variables.

    Raises
    ------
    ValueError
        Naming the dimensions (or the 2-D variable) and the fix.
    """
    if isinstance(obs, pd.DataFrame) or hasattr(obs, "columns") or not hasattr(obs, "sizes"):
        return
    dims = [str(d) for d in obs.sizes]
    wide = [str(k) for k, v in obs.data_vars.items() if getattr(v, "ndim", 1) != 1]
    if len(dims) > 1 or wide:
        what = f", and variable {wide[0]!r} is {obs[wide[0]].ndim}-D" if wide else ""
        raise ValueError(
            f"obs is an xarray Dataset with the dimensions {dims}{what}: obs needs one "
            "value per cell, along one dimension. Keep the variables of the cell dimension "
            f"(e.g. ds.drop_dims({dims[1:] or dims})) or pass "
            "ds.to_dataframe() of the columns you want."
        )


def obs_length(obs: Any) -> int:
    """Number of rows (cells) of an obs table of any supported kind."""
    if isinstance(obs, pd.DataFrame) or hasattr(obs, "shape"):
        return int(obs.shape[0])
    return int(next(iter(obs.sizes.values()))) if obs.sizes else 0


def obs_series(obs: Any, key: Any) -> pd.Series:
    """One column as a pandas Series; lazy tables are read one column at a time."""
    column = obs[key]
    if isinstance(column, pd.Series):
        return column
    data = getattr(column, "data", None)
    if isinstance(data, pd.Categorical):
        return pd.Series(data)
    return pd.Series(np.asarray(column.values))


def in_memory_table(table: Any) -> Any:
    """A lazy AnnData's table (``read_lazy``'s Dataset2D) as the DataFrame it stands for.

    ``len()`` of such a table counts its columns, not its rows; var is one row per gene,
    small enough to read whole. Anything else is returned as it is.
    """
    if isinstance(table, pd.DataFrame) or not hasattr(table, "to_memory"):
        return table
    return table.to_memory()
