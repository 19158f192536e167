"""Checks of values inside the inputs: real dtypes, finite and representable numbers, lists.

Each check raises a ValueError or TypeError naming the parameter and what to do, before
anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

#: largest magnitude the float32 normalization keeps meaningful (float32 tops at 3.4e38)
FLOAT32_LIMIT = 1e38
#: largest finite float32: obs values and genes beyond it would be stored as NaN
FLOAT32_MAX = float(np.finfo(np.float32).max)


def require_real(name: str, x: da.Array) -> None:
    """Refuse arrays whose values are not real numbers (complex, strings, objects).

    Raises
    ------
    TypeError
        Naming the parameter and its dtype.
    """
    if x.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {x.dtype}. Convert it first "
            "(e.g. np.real(x) or x.astype(np.float32) if the values are numbers)."
        )


def first_bad_row(x: da.Array, limit: float | None) -> int | None:
    """The first row holding NaN, Inf or (with ``limit``) a value beyond ±limit, or None."""
    good = da.isfinite(x)
    if limit is not None:
        good &= abs(x) <= limit
    bad_rows = ~good.all(axis=1) if x.ndim == 2 else ~good
    if not bool(bad_rows.any().compute()):
        return None
    return int(da.argmax(bad_rows).compute())


def require_finite(name: str, x: da.Array, limit: float | None = FLOAT32_LIMIT) -> None:
    """Refuse NaN, Inf and (with ``limit``) values too large for the float32 output.

    Raises
    ------
    ValueError
        Naming the parameter and the first bad row.
    """
    bad = first_bad_row(x, limit)
    if bad is None:
        return
    row = np.asarray(x[bad].compute(), dtype=np.float64)
    if np.isfinite(row).all():
        raise ValueError(
            f"{name} holds values beyond ±{limit:g} (first at row {bad}), too large for the "
            "float32 export (they would decode as 0 or Inf). Rescale or fix them first."
        )
    raise ValueError(
        f"{name} holds NaN or Inf values (first at row {bad}); every value must be a finite "
        "number. Remove or fix those cells first."
    )


def require_list(name: str, value: Any) -> None:
    """Refuse a single string (or bytes) where a list of names is expected.

    Raises
    ------
    TypeError
        Saying to wrap a single name in a list.
    """
    if value is None:
        return
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of names, got the string {value!r} (which would be read "
            f"letter by letter). Pass [{value!r}] for a single name."
        )
    if not isinstance(value, Sequence) and not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of names, got {type(value).__name__}.")


def require_distinct_text(name: str, keys: Sequence[Any]) -> None:
    """Refuse keys that differ but read the same as text (0 and "0").

    Raises
    ------
    ValueError
        Naming the two keys.
    """
    seen: dict[str, Any] = {}
    for key in keys:
        text = str(key)
        if text in seen and seen[text] is not key and seen[text] != key:
            raise ValueError(
                f"{name} holds {seen[text]!r} and {key!r}, which are the same name as text "
                f"({text!r}) and would share one file. Rename one of them."
            )
        seen.setdefault(text, key)


def require_float32_values(name: str, values: np.ndarray) -> None:
    """Refuse finite values beyond the float32 range in a continuous column (they would be
    stored as NaN, or make a quantization range whose width overflows).

    Raises
    ------
    ValueError
        With the count, the first row and the fix.
    """
    v = np.asarray(values, dtype=np.float64)
    beyond = np.isfinite(v) & (np.abs(v) > FLOAT32_MAX)
    n = int(beyond.sum())
    if not n:
        return
    first = int(np.argmax(beyond))
    raise ValueError(
        f"{name} holds {n:,} finite value{'s' if n != 1 else ''} beyond the float32 range "
        f"(|x| > {FLOAT32_MAX:.4g}; first at row {first}: {v[first]:g}), which the export "
        "cannot store (they would become missing). Rescale them (e.g. np.log10) or clip them "
        "to the float32 range first."
    )
