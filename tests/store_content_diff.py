"""Compare a StoreContent with another content or with upstream 0.9.5's elements, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cellucid.sinks.anndata.content import StoreContent


def same_value(mine: Any, theirs: Any, where: str) -> list[str]:
    """Differences between two stored values: type, dtype, order of keys, values (NaN = NaN)."""
    if type(mine) is not type(theirs):
        return [f"{where}: {type(mine).__name__} != {type(theirs).__name__}"]
    if isinstance(mine, dict):
        if list(mine) != list(theirs):
            return [f"{where}: keys {list(mine)} != {list(theirs)}"]
        return [d for key in mine for d in same_value(mine[key], theirs[key], f"{where}/{key}")]
    if isinstance(mine, pd.Categorical):
        return (
            same_value(np.asarray(mine.codes), np.asarray(theirs.codes), f"{where}.codes")
            + same_value(mine.categories.to_numpy(), theirs.categories.to_numpy(), f"{where}.cat")
            + ([] if mine.ordered == theirs.ordered else [f"{where}: ordered differs"])
        )
    if isinstance(mine, pd.arrays.IntegerArray | pd.arrays.BooleanArray):
        same = mine.dtype == theirs.dtype and bool((mine == theirs).fillna(True).all())
        masks = np.array_equal(np.asarray(mine.isna()), np.asarray(theirs.isna()))
        return [] if same and masks else [f"{where}: nullable arrays differ"]
    if isinstance(mine, sparse.spmatrix | sparse.sparray):
        fields = ("data", "indices", "indptr")
        return [
            d
            for f in fields
            for d in same_value(getattr(mine, f), getattr(theirs, f), f"{where}.{f}")
        ]
    if isinstance(mine, np.ndarray):
        if mine.dtype != theirs.dtype or mine.shape != theirs.shape:
            return [f"{where}: {mine.dtype}{mine.shape} != {theirs.dtype}{theirs.shape}"]
        equal_nan = mine.dtype.kind == "f"
        return [] if np.array_equal(mine, theirs, equal_nan=equal_nan) else [f"{where}: values"]
    return [] if mine == theirs else [f"{where}: {mine!r} != {theirs!r}"]


def content_differences(mine: StoreContent, theirs: StoreContent | dict[str, Any]) -> list[str]:
    """Every difference between our content and another's, or upstream's elements (X apart)."""
    found: list[str] = []
    for name in ("obs_index", "obs", "var_index", "var", "obsm", "obsp", "uns"):
        other = theirs[name] if isinstance(theirs, dict) else getattr(theirs, name)
        found += same_value(getattr(mine, name), other, name)
    return found
