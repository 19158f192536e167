"""obs columns the export cannot store as they are: refused before anything is written.

A field is found by its name in the viewer, its values are one category or one real number
per cell. Complex numbers would lose their imaginary part when read as numbers; cells
holding lists (or arrays, dicts, sets) are no category; two columns of one name are one
field too many.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

# cell values that are neither a category nor a number
_CONTAINERS = (list, dict, set, np.ndarray)


def refuse_repeated_columns(names: Iterable[Any]) -> None:
    """Refuse an obs table with two columns of one name.

    Raises
    ------
    ValueError
        Naming the column, how many times it occurs and the fix.
    """
    repeated = [(name, n) for name, n in Counter(names).items() if n > 1]
    if repeated:
        name, n = repeated[0]
        raise ValueError(
            f"obs has {n} columns named {name!r}: each obs column needs a name of its own "
            "(the viewer finds a field by its name). Rename or drop the others, e.g. "
            "obs = obs.loc[:, ~obs.columns.duplicated()] keeps the first."
        )


def refuse_unstorable_column(key: str, series: pd.Series) -> None:
    """Refuse an obs column of complex numbers or of cells holding lists or arrays.

    Raises
    ------
    TypeError
        Naming the column, the first offending row and the fix.
    """
    if ptypes.is_complex_dtype(series.dtype):
        raise TypeError(
            f"obs column {key!r} holds complex numbers ({series.dtype}); read as numbers they "
            f"would lose their imaginary part. Convert it first, e.g. obs[{key!r}].abs() or "
            f"np.real(obs[{key!r}]) (one real number per cell), or .astype(str) for text."
        )
    if series.dtype != object:
        return
    inside = series.map(lambda value: isinstance(value, _CONTAINERS)).to_numpy(dtype=bool)
    if inside.any():
        row = int(np.argmax(inside))
        value = series.iloc[row]
        shown = repr(value if not isinstance(value, np.ndarray) else value.tolist())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise TypeError(
            f"obs column {key!r} holds {type(value).__name__} values (row {row}: {shown}); "
            "a field holds one category or one number per cell. Convert it first, e.g. "
            f"obs[{key!r}] = obs[{key!r}].astype(str) to use each value as a category, or "
            "keep one element per cell."
        )
