"""Gene rows encoded straight from CSR blocks equal the codes of the dense columns."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cellucid.sinks.folder.csr_columns import CsrGeneGroups
from cellucid.sinks.folder.format.quantize import quantize_rows


def _block(rng: np.random.Generator, dtype: type) -> sp.csr_matrix:
    cells, genes = int(rng.integers(1, 80)), int(rng.integers(1, 50))
    dense = rng.normal(0, 4, (cells, genes))
    dense[rng.random((cells, genes)) < 0.75] = 0
    dense[:, 0] = 0  # a gene never stored
    if genes > 1:
        dense[:, 1] = rng.uniform(1, 3, cells)  # a gene stored in every cell
    # values exactly halfway between two codes: rounding must be half to even
    dense[rng.random((cells, genes)) < 0.05] = 0.5
    if np.dtype(dtype).kind == "f":
        for value, share in ((np.nan, 0.03), (np.inf, 0.02), (-np.inf, 0.02)):
            dense[rng.random((cells, genes)) < share] = value
    return sp.csr_matrix(dense.astype(dtype))


def _expected(block: sp.csr_matrix, columns: np.ndarray, lo, hi, bits) -> np.ndarray:
    values = block.toarray()[:, columns].T
    if bits is None:
        out = values.astype(np.float32)
        out[np.isinf(out)] = np.nan
        return out
    return quantize_rows(values, lo[:, None], hi[:, None], bits)


@pytest.mark.parametrize("bits", [8, 16, None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("seed", range(3))
def test_groups_equal_the_codes_of_the_dense_columns(bits, dtype, seed):
    rng = np.random.default_rng(seed)
    block = _block(rng, dtype)
    n_genes = block.shape[1]
    # every column, or an ascending subset (the genes of a --genes list in matrix order)
    keep = rng.random(n_genes) < 0.6
    keep[-1] = True
    for columns in (np.arange(n_genes), np.flatnonzero(keep)):
        lo = rng.uniform(-3, 0, len(columns))
        hi = lo + rng.uniform(0.5, 6, len(columns))
        want = _expected(block, columns, lo, hi, bits)
        groups = CsrGeneGroups(block, columns)
        got, first = [], 0
        for size in rng.integers(1, 8, len(columns)):
            stop = min(len(columns), first + int(size))
            if first == stop:
                break
            got.append(groups.encode(first, stop, lo[first:stop], hi[first:stop], bits).copy())
            first = stop
        np.testing.assert_array_equal(np.concatenate(got), want)


def test_duplicates_are_summed_and_unsorted_rows_sorted_without_touching_the_block():
    # cell 0 stores gene 2 twice (2 + 3 = 5) and its columns out of order
    block = sp.csr_matrix(
        (np.array([2.0, -1.0, 3.0]), np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(2, 3)
    )
    block.has_sorted_indices = False
    before = block.indices.copy()
    got = CsrGeneGroups(block, np.arange(3)).encode(0, 3, None, None, None)
    np.testing.assert_array_equal(got, [[-1.0, 0.0], [0.0, 0.0], [5.0, 0.0]])
    np.testing.assert_array_equal(block.indices, before)


def test_groups_out_of_order_are_refused_and_descending_columns_unsupported():
    groups = CsrGeneGroups(sp.csr_matrix(np.eye(3)), np.arange(3))
    groups.encode(0, 1, None, None, None)
    with pytest.raises(ValueError, match="in order"):
        groups.encode(2, 3, None, None, None)
    assert CsrGeneGroups.supports(np.array([0, 4, 7]))
    assert not CsrGeneGroups.supports(np.array([3, 1, 2]))


@pytest.mark.parametrize("bits", [8, 16, None])
def test_gene_files_do_not_depend_on_which_genes_are_exported_or_their_order(tmp_path, bits):
    # all genes take the cursor path; a reversed subset is not in matrix order, so its
    # blocks are transposed first: a gene's file must be the same bytes either way
    from cellucid import make_demo_anndata, prepare_anndata

    from .test_anndata_inputs import tree_digest

    adata = make_demo_anndata(n_cells=2500, n_genes=60)
    h5ad = tmp_path / "atlas.h5ad"
    adata.write_h5ad(h5ad)
    settings = {"compression": 6, "var_quantization": bits, "quiet": True}
    every = tree_digest(prepare_anndata(h5ad, tmp_path / "every", **settings))
    chosen = list(adata.var_names[::-3])
    subset = tree_digest(
        prepare_anndata(h5ad, tmp_path / "subset", gene_identifiers=chosen, **settings)
    )
    genes = {name: digest for name, digest in subset.items() if name.startswith("var/")}
    assert len(genes) == len(chosen)
    assert genes == {name: every[name] for name in genes}
