"""Pass one's per-gene extrema from CSR blocks, against a plain numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cellucid.engine.csr_extrema import csr_column_extrema


def _expected(dense: np.ndarray) -> tuple[np.ndarray, ...]:
    values = dense.astype(np.float64)
    finite = np.isfinite(values)
    lo = np.where(finite, values, np.inf).min(axis=0, initial=np.inf)
    hi = np.where(finite, values, -np.inf).max(axis=0, initial=-np.inf)
    return lo, hi, (~finite).sum(axis=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("seed", range(4))
def test_extrema_equal_numpy_on_the_dense_block(dtype, seed):
    rng = np.random.default_rng(seed)
    rows, columns = rng.integers(1, 60), rng.integers(1, 40)
    dense = rng.normal(0, 5, (rows, columns))
    dense[rng.random((rows, columns)) < 0.7] = 0
    dense[:, 0] = 0  # an all-zero gene
    if columns > 1:
        dense[:, 1] = rng.uniform(1, 2, rows)  # a gene stored in every cell: no implicit 0
    if np.dtype(dtype).kind == "f":
        dense[rng.random((rows, columns)) < 0.05] = np.nan
        dense[rng.random((rows, columns)) < 0.03] = np.inf
        dense[rng.random((rows, columns)) < 0.03] = -np.inf
    dense = dense.astype(dtype)
    block = sp.csr_matrix(dense)
    if columns > 1:
        # an explicit stored zero in the every-cell gene must not change anything
        block[0, 1] = 0
    for got, want in zip(csr_column_extrema(block), _expected(block.toarray()), strict=True):
        np.testing.assert_array_equal(got, want)


def test_duplicates_are_summed_first_and_the_callers_block_is_left_alone():
    # cell 0 holds gene 2 twice (2 + 3 = 5): its max is 5, not 3
    block = sp.csr_matrix(
        (np.array([2.0, 3.0, -1.0]), np.array([2, 2, 0]), np.array([0, 2, 3])), shape=(2, 3)
    )
    before = block.indices.copy(), block.data.copy()
    lo, hi, bad = csr_column_extrema(block)
    np.testing.assert_array_equal(lo, [-1.0, 0.0, 0.0])
    np.testing.assert_array_equal(hi, [0.0, 0.0, 5.0])
    np.testing.assert_array_equal(bad, [0, 0, 0])
    np.testing.assert_array_equal(block.indices, before[0])
    np.testing.assert_array_equal(block.data, before[1])
