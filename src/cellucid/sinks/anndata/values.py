"""Checks on arrays of numbers held in memory: real, finite, within the float32 range.

A refusal counts what is wrong (NaN, each infinity, values float32 cannot hold) and
names the first positions, because one NaN among millions and a matrix of NaN call for
different fixes.
"""

from __future__ import annotations

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)

#: Positions named in a refusal.
_EXAMPLES = 5


def require_real_dtype(dtype: object, label: str) -> np.dtype:
    """Refuse a type that holds no real numbers (booleans count as numbers).

    Raises
    ------
    TypeError
        ``dtype`` is not boolean, integer or floating point.
    """
    resolved = np.dtype(dtype)  # type: ignore[call-overload]
    if resolved.kind not in "biuf":
        raise TypeError(f"{label} must hold real numbers, and its type is {resolved}.")
    return resolved


def within_float32(values: np.ndarray) -> bool:
    """Whether every value is finite and within the float32 range.

    Decided by the smallest and largest value alone (a NaN makes both NaN), so no
    whole-array temporary is made.
    """
    if values.size == 0 or values.dtype.kind == "b":
        return True
    low, high = float(values.min()), float(values.max())
    return bool(np.isfinite(low) and np.isfinite(high) and max(-low, high) <= FLOAT32_MAX)


def describe_unstorable(values: np.ndarray, *, positions: bool = True) -> str:
    """What is wrong with ``values``: counts of NaN, infinities and float32 overflows."""
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind not in "iuf":
        return ""
    wide = flat.astype(np.float64)
    nan = np.isnan(wide)
    counts = [
        (int(nan.sum()), "NaN"),
        (int(np.count_nonzero(wide == np.inf)), "+Inf"),
        (int(np.count_nonzero(wide == -np.inf)), "-Inf"),
        (int(np.count_nonzero(np.isfinite(wide) & (np.abs(wide) > FLOAT32_MAX))), "beyond float32"),
    ]
    found = ", ".join(f"{count:,} {name}" for count, name in counts if count)
    text = f"Found {found} among {flat.size:,} values."
    if positions:
        bad = np.flatnonzero(~np.isfinite(wide) | (np.abs(np.nan_to_num(wide)) > FLOAT32_MAX))
        shape = np.shape(values)
        where = [np.unravel_index(int(at), shape) for at in bad[:_EXAMPLES]]
        named = ", ".join(str(tuple(int(i) for i in place)) for place in where)
        text += f" First at {named}."
    return text


def require_float32_range(values: np.ndarray, label: str, *, positions: bool = True) -> None:
    """Refuse NaN, infinities and values beyond the float32 range.

    Raises
    ------
    ValueError
        With the counts of what is wrong (:func:`describe_unstorable`).
    """
    if not within_float32(values):
        raise ValueError(
            f"{label} must hold finite numbers within the float32 range. "
            + describe_unstorable(values, positions=positions)
        )
