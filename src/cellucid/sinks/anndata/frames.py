"""obs and var columns as a Cellucid-ready AnnData stores them.

Each column keeps anndata's own encodings:

- a categorical stays one, with its categories (text or numbers), their order, unused
  ones and the ``ordered`` flag;
- text (object or pandas string dtype) becomes a categorical when a value repeats or is
  missing -- anndata's ``strings_to_categoricals`` rule -- with the categories in code-point
  order and a missing value as code -1; otherwise it stays an array of strings;
- a pandas nullable integer or boolean column stays nullable when it has a missing value,
  and becomes a plain NumPy column when it has none; a nullable float column becomes a
  NumPy float column (a missing value is NaN);
- NumPy booleans, integers and floats stay as they are; an infinite float is refused
  (NaN is a missing value, an infinity has no place on a colour scale).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .names import require_distinct_keys, require_element_key


def require_frame(frame: object, what: str, *, rows: int, rows_of: str) -> pd.DataFrame:
    """Check a data frame's type, row count and column names.

    Parameters
    ----------
    frame
        The candidate ``obs`` or ``var``.
    what
        ``"obs"`` or ``"var"``, named in messages.
    rows
        The row count it must have.
    rows_of
        What decides that count, for the message (``"the embeddings"``).

    Raises
    ------
    TypeError
        Not a DataFrame, or a column name is not a non-empty string.
    ValueError
        Wrong row count, unportable or case-colliding column names, or a column
        named ``_index``.
    """
    if not isinstance(frame, pd.DataFrame):
        hint = ""
        if hasattr(frame, "data_vars"):
            hint = " Convert an xarray Dataset with .to_dataframe() (one dimension: the rows)."
        elif hasattr(frame, "to_memory"):
            hint = " Read a lazy AnnData's table into memory with .to_memory()."
        elif isinstance(frame, list | tuple | np.ndarray | pd.Index | pd.Series):
            hint = " For a list of names, pass pd.DataFrame(index=names) (one row each)."
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.{hint}")
    if len(frame) != rows:
        raise ValueError(
            f"{what} has {len(frame):,} row{'' if len(frame) == 1 else 's'}, and {rows_of} "
            f"{'has' if rows == 1 else 'have'} {rows:,}: {what} needs one row each."
        )
    columns = list(frame.columns)
    for column in columns:
        require_element_key(column, f"{what} column")
    if "_index" in columns:
        raise ValueError(
            f"{what} column '_index' is the name AnnData stores the row names under; "
            "rename the column."
        )
    require_distinct_keys(columns, f"{what} column")
    return frame


def row_names(frame: pd.DataFrame, what: str) -> list[str] | None:
    """The frame's row names, or None for pandas' default ``0 .. n-1`` index.

    Raises
    ------
    TypeError
        A row name is not non-empty text.
    """
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return None
    names = index.tolist()
    for position, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"{what} row names must be non-empty text, and row {position:,} is "
                f"{name!r}. Convert them first: {what}.index = {what}.index.astype(str)."
            )
    return names


def _missing_text(values: np.ndarray) -> np.ndarray:
    """Which values are missing: None, pandas' NA or a float NaN (and nothing else)."""
    # pandas flags the candidates fast; the few flagged are held to the narrow rule
    # (pandas also flags NaT, which is no missing text but a non-text value).
    missing = np.asarray(pd.isna(values), dtype=bool)
    for position in np.flatnonzero(missing):
        value = values[position]
        missing[position] = (
            value is None or value is pd.NA or (isinstance(value, float) and value != value)
        )
    return missing


def text_column(values: np.ndarray, label: str) -> pd.Categorical | np.ndarray:
    """A text column: categorical when a value repeats or is missing, else strings."""
    missing = _missing_text(values)
    present = values[~missing]
    if present.size and pd.api.types.infer_dtype(present, skipna=False) != "string":
        odd = next(value for value in present if not isinstance(value, str))
        raise TypeError(
            f"{label} mixes text with {type(odd).__name__} values, which AnnData cannot "
            "store. Convert it first, for example with .astype(str)."
        )
    distinct = set(present.tolist())
    if not missing.any() and len(distinct) == present.size:
        return np.asarray(values, dtype=object)
    labels = np.asarray(values, dtype=object).copy()
    labels[missing] = None
    categories = pd.Index(sorted(distinct), dtype=object)
    return pd.Categorical(labels, categories=categories, ordered=False)


def _categorical(series: pd.Series, label: str) -> pd.Categorical:
    categorical = pd.Categorical(series)
    kind = categorical.categories.dtype.kind
    if kind == "O" and not all(isinstance(value, str) for value in categorical.categories):
        raise TypeError(
            f"{label} has categories that are not all text. Convert them first, for "
            "example with .cat.rename_categories(str)."
        )
    if kind not in "Oiufb":
        raise TypeError(
            f"{label} has {categorical.categories.dtype} categories, which AnnData cannot "
            "store; convert them to text or numbers."
        )
    return categorical


def _nullable(series: pd.Series) -> Any:
    if series.isna().any():
        return series.array
    return series.to_numpy(dtype=series.dtype.numpy_dtype)


def _floats(values: np.ndarray, label: str) -> np.ndarray:
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        count = int(infinite.size)
        raise ValueError(
            f"{label} holds {count:,} infinite value{'' if count == 1 else 's'} (the first "
            f"at row {int(infinite[0]):,}), which no colour scale can place. Replace "
            "them with NaN, which is stored as a missing value."
        )
    return values


def _numpy_column(series: pd.Series, label: str) -> np.ndarray | pd.Categorical:
    dtype = series.dtype
    if dtype.kind == "O":
        return text_column(series.to_numpy(dtype=object), label)
    if dtype.kind in "biu":
        return series.to_numpy()
    if dtype.kind == "f":
        return _floats(series.to_numpy(), label)
    raise TypeError(
        f"{label} is a {dtype} column, which Cellucid does not store. Convert it first, "
        "for example with .astype(str) or .astype(float)."
    )


def frame_column(series: pd.Series, label: str) -> Any:
    """How one obs or var column is stored (module docstring).

    Returns
    -------
    pandas.Categorical, numpy.ndarray, IntegerArray or BooleanArray

    Raises
    ------
    TypeError
        A type AnnData cannot store (dates, complex numbers, mixed text and numbers).
    ValueError
        An infinite float.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(series, label)
    if isinstance(series.array, pd.arrays.BooleanArray | pd.arrays.IntegerArray):
        return _nullable(series)
    if isinstance(series.array, pd.arrays.FloatingArray):
        series = series.astype(dtype.numpy_dtype)
        dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return text_column(series.to_numpy(dtype=object), label)
    if isinstance(dtype, np.dtype):
        return _numpy_column(series, label)
    raise TypeError(
        f"{label} is a {dtype} column, which Cellucid does not store. Convert it first, "
        "for example with .astype(str) or .astype(float)."
    )


def frame_columns(frame: pd.DataFrame, what: str) -> dict[str, Any]:
    """Every column of ``frame``, stored by :func:`frame_column`, in column order."""
    return {
        str(name): frame_column(frame[name], f"{what} column {name!r}") for name in frame.columns
    }


def convert_obs(
    obs: object, n_cells: int, note: Callable[[str], None] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """The cell names and the stored obs columns.

    Cells are named by ``obs.index``, or ``"0" .. "n-1"`` when obs is absent or has
    pandas' default index; repeated names are made unique (anndata's rule) and ``note``
    hears about it.

    Raises
    ------
    TypeError, ValueError
        As :func:`require_frame`, :func:`row_names` and :func:`frame_column`.
    """
    from .names import make_unique, unique_names_note

    if obs is None:
        return np.asarray([str(cell) for cell in range(n_cells)], dtype=object), {}
    frame = require_frame(obs, "obs", rows=n_cells, rows_of="the embeddings")
    names = row_names(frame, "obs")
    if names is None:
        names = [str(cell) for cell in range(n_cells)]
    unique = make_unique(names)
    message = unique_names_note(unique)
    if message is not None and note is not None:
        note(f"Cell names: {message}")
    return np.asarray(unique.names, dtype=object), frame_columns(frame, "obs")
