"""obsp['connectivities']: CSR float32, sorted, zeros dropped, refused unless a proper graph."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from cellucid.sinks.anndata.graph import convert_connectivities


def symmetric(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    upper = np.triu(rng.random((n, n)) * (rng.random((n, n)) < 0.5), 1)
    return upper + upper.T


def test_dense_and_sparse_inputs_become_sorted_csr_float32():
    dense = symmetric()
    for given in (dense, sparse.coo_matrix(dense), sparse.csc_array(dense)):
        graph = convert_connectivities(given, 6)
        assert isinstance(graph, sparse.csr_matrix) and graph.dtype == np.float32
        assert graph.has_sorted_indices
        assert np.array_equal(graph.toarray(), dense.astype(np.float32))
        assert graph.nnz == np.count_nonzero(dense)


def test_duplicates_summed_and_stored_zeros_dropped():
    rows, cols = [0, 1, 0, 1, 2, 3], [1, 0, 1, 0, 3, 2]
    graph = sparse.coo_matrix(([0.25, 0.25, 0.25, 0.25, 0.0, 0.0], (rows, cols)), shape=(4, 4))
    stored = convert_connectivities(graph, 4)
    assert stored.nnz == 2 and stored[0, 1] == np.float32(0.5)


def test_booleans_and_integers_are_weights():
    stored = convert_connectivities(symmetric() > 0, 6)
    assert stored.dtype == np.float32 and set(stored.data) == {np.float32(1)}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (np.zeros((6, 5)), "6 x 6"),
        (np.zeros(6), "cells x cells"),
        (np.triu(np.ones((6, 6)), 1), "exactly symmetric"),
        (np.eye(6), "zero diagonal"),
        (-symmetric(), "negative"),
        (np.where(symmetric() > 0, np.nan, 0), "finite"),
        (np.where(symmetric() > 0, 1e300, 0), "float32"),
    ],
)
def test_refusals(given, message):
    with pytest.raises(ValueError, match=message) as raised:
        convert_connectivities(given, 6)
    assert "connectivities" in str(raised.value)


def test_text_refused():
    with pytest.raises(TypeError, match="connectivities must hold real numbers"):
        convert_connectivities(np.full((2, 2), "a"), 2)


def test_caller_matrix_untouched():
    given = sparse.csr_matrix(symmetric())
    before = given.copy()
    convert_connectivities(given, 6)
    assert (given != before).nnz == 0 and given.dtype == np.float64
