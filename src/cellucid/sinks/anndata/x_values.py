"""The value rules of the expression matrix, applied one piece of X at a time.

A Cellucid-ready store holds X as float32, or as float64 when the exported genes hold only
whole numbers and one of them is beyond 2^24 (float32 holds every integer up to 2^24
exactly, not beyond). Values must be finite and within the float32 range; one that is not
refuses the whole matrix before anything is written.

The rules are decided over the whole matrix but computed here per piece (a block of rows,
a tile of a dense matrix) into small mergeable records (:class:`ValueFaults`,
:class:`DtypeTraits`), so no task ever holds more than its piece.

Which values each rule sees (upstream 0.9.5's order): the finiteness check covers every
input gene, after duplicates were summed and stored zeros dropped; the float64 decision
covers only the exported genes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# raised by the sink's scans (csc.py, dense.py) when a rule refuses the matrix; defined
# with the other user-facing errors
from cellucid.errors import ExpressionValuesError as ExpressionValuesError

#: Largest finite float32, as a Python float (the refusal bound is ``abs(value) > this``).
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Largest integer float32 holds exactly; whole-number values beyond it make X float64.
EXACT_INTEGER_LIMIT = 2**24
# Values tested at a time by the element-wise checks, so their temporaries stay small
# beside the piece itself.
_STEP = 1 << 20


@dataclass(frozen=True)
class ValueFaults:
    """Refused values found in one piece (or several, merged).

    Attributes
    ----------
    total
        Values looked at (stored values of a sparse piece, every value of a dense one).
    nan, positive_infinity, negative_infinity, beyond_float32
        Refused values by kind (``beyond_float32``: finite, ``abs(value) > FLOAT32_MAX``).
    cell, gene
        Row and input column of the first refused value, or -1 when there is none.
    """

    total: int
    nan: int = 0
    positive_infinity: int = 0
    negative_infinity: int = 0
    beyond_float32: int = 0
    cell: int = -1
    gene: int = -1

    @property
    def count(self) -> int:
        """Refused values of every kind."""
        return self.nan + self.positive_infinity + self.negative_infinity + self.beyond_float32

    def merge(self, other: ValueFaults) -> ValueFaults:
        """Both pieces' faults; the example is the earlier one (lowest cell, then gene)."""
        examples = [(piece.cell, piece.gene) for piece in (self, other) if piece.count]
        first = min(examples) if examples else (-1, -1)
        return ValueFaults(
            total=self.total + other.total,
            nan=self.nan + other.nan,
            positive_infinity=self.positive_infinity + other.positive_infinity,
            negative_infinity=self.negative_infinity + other.negative_infinity,
            beyond_float32=self.beyond_float32 + other.beyond_float32,
            cell=first[0],
            gene=first[1],
        )

    def describe(self, label: str = "gene_expression") -> str:
        """The refusal message: what was found, where first, and what to do about it."""
        kinds = [
            (self.nan, "NaN"),
            (self.positive_infinity, "+Inf"),
            (self.negative_infinity, "-Inf"),
            (self.beyond_float32, f"beyond the float32 range (|x| > {FLOAT32_MAX:.4g})"),
        ]
        found = ", ".join(f"{n:,} {what}" for n, what in kinds if n)
        return (
            f"{label} must hold finite numbers within the float32 range: of {self.total:,} "
            f"values checked, {found}. The first is in cell {self.cell:,} (row index) and gene "
            f"{self.gene:,} (column index of {label}). Cellucid stores expression as float32 "
            "(float64 only for whole-number counts), and a colour scale has no place for an "
            "infinity. Replace or remove these values first (for example numpy.nan_to_num, "
            "or clipping to the float32 range), or leave out the affected genes or cells. "
            "Every gene of the input is checked, also genes not exported."
        )


def require_real(dtype: np.dtype, label: str = "gene_expression") -> None:
    """Refuse a value type that is not boolean, integer or floating point.

    Raises
    ------
    TypeError
        For complex, object, string or any other non-real dtype.
    """
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"{label} must hold real numbers, got dtype {np.dtype(dtype)}.")


def within_float32(values: np.ndarray) -> bool:
    """Whether every value is finite and within the float32 range.

    Decided from the smallest and largest value alone (a NaN makes both NaN, an infinity
    is one of them), so the common case allocates nothing.
    """
    if values.size == 0 or values.dtype.kind != "f":
        return True  # booleans and integers of any width are finite and within range
    low, high = float(values.min()), float(values.max())
    return bool(np.isfinite(low) and np.isfinite(high) and max(-low, high) <= FLOAT32_MAX)


def refused_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the refused values (only called once :func:`within_float32` failed)."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)


def count_faults(values: np.ndarray, total: int, cell: int, gene: int) -> ValueFaults:
    """Count the refused values of ``values`` by kind, with the given first position."""
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values)
        return ValueFaults(
            total=total,
            nan=int(np.isnan(values).sum()),
            positive_infinity=int((values == np.inf).sum()),
            negative_infinity=int((values == -np.inf).sum()),
            beyond_float32=int((finite & (np.abs(values) > FLOAT32_MAX)).sum()),
            cell=cell,
            gene=gene,
        )


@dataclass(frozen=True)
class DtypeTraits:
    """What the stored type of X depends on, for one piece of the exported genes' values.

    Attributes
    ----------
    n_values
        Values looked at.
    integral
        The value type can carry counts (integer, or floating point wider than float32)
        and every value is a whole number. Always false for float32, float16 and bool,
        which never widen X.
    max_abs
        Largest absolute value (0.0 for no values).
    """

    n_values: int
    integral: bool
    max_abs: float

    def merge(self, other: DtypeTraits) -> DtypeTraits:
        """Both pieces' traits."""
        return DtypeTraits(
            self.n_values + other.n_values,
            self.integral and other.integral,
            max(self.max_abs, other.max_abs),
        )

    @property
    def stored_dtype(self) -> np.dtype:
        """float64 when there are values, all whole numbers, one beyond 2^24; else float32."""
        wide = self.n_values > 0 and self.integral and self.max_abs > EXACT_INTEGER_LIMIT
        return np.dtype(np.float64 if wide else np.float32)


def _can_widen(dtype: np.dtype) -> bool:
    # integers, and floats wider than float32, may hold counts float32 cannot; the rest
    # (bool, float16, float32) are float32 whatever they hold
    return dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize > 4)


def dtype_traits(values: np.ndarray) -> DtypeTraits:
    """The :class:`DtypeTraits` of one piece of exported values (any shape)."""
    values = np.asarray(values)
    if not _can_widen(values.dtype):
        return DtypeTraits(int(values.size), False, 0.0)
    if values.size == 0:
        return DtypeTraits(0, True, 0.0)
    max_abs = max(-float(values.min()), float(values.max()))
    if values.dtype.kind != "f":
        return DtypeTraits(int(values.size), True, max_abs)
    flat = values.reshape(-1)
    integral = all(
        bool(np.array_equal(np.floor(part), part))
        for part in (flat[i : i + _STEP] for i in range(0, flat.size, _STEP))
    )
    return DtypeTraits(int(values.size), integral, max_abs)


def float32_underflow(values: np.ndarray) -> np.ndarray | None:
    """Mask of non-zero values that become zero as float32, or None when there is none.

    Such values (``abs(value) <= 2**-150``) are not whole numbers, so a matrix holding
    one is stored as float32, where they are zero: a sparse X then drops them, as a stored
    zero is no value.
    """
    if values.dtype.kind != "f" or values.dtype.itemsize <= 4:
        return None
    flat = values.reshape(-1)
    with np.errstate(over="ignore"):  # values beyond float32 are refused, not dropped
        if not any(
            bool(np.any(flat[i : i + _STEP].astype(np.float32) == 0))
            for i in range(0, flat.size, _STEP)
        ):
            return None
        return (values.astype(np.float32) == 0) & (values != 0)
