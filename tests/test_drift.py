"""Transition drift: values against a direct dense computation, every kind of input."""

from __future__ import annotations

import anndata as ad
import dask.array as da
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cellucid
from cellucid import add_transition_drift_to_obsm, compute_transition_drift, prepare
from cellucid.verify import assert_valid_export
from tests.decode import read_array, read_json

N = 300


def _direct(t: np.ndarray, x: np.ndarray, normalize_rows: bool = True) -> np.ndarray:
    """The definition, in float64 on a dense matrix."""
    t, x = np.asarray(t, np.float64), np.asarray(x, np.float64)
    expected = t @ x
    if normalize_rows:
        sums = t.sum(axis=1)
        expected = expected / np.where(sums == 0, 1.0, sums)[:, None]
    return expected - x


@pytest.fixture(scope="module")
def transition() -> sp.csr_matrix:
    t = sp.random(N, N, density=0.05, format="lil", random_state=3)
    t[4] = 0  # an empty row
    t[9] = 0
    t[9, 1], t[9, 2] = 2.0, -2.0  # a row that sums to zero but is not empty
    return sp.csr_matrix(t)


@pytest.fixture(scope="module")
def umap() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N, 2)).astype(np.float32)


@pytest.mark.parametrize("normalize_rows", [True, False])
@pytest.mark.parametrize(
    "kind",
    ["csr", "csc", "coo", "csr_array", "dense", "dask_dense", "dask_sparse"],
)
def test_matches_direct_computation(transition, umap, kind, normalize_rows):
    inputs = {
        "csr": lambda t: t,
        "csc": lambda t: t.tocsc(),
        "coo": lambda t: t.tocoo(),
        "csr_array": sp.csr_array,
        "dense": lambda t: t.toarray(),
        "dask_dense": lambda t: da.from_array(t.toarray(), chunks=(70, 90)),
        "dask_sparse": lambda t: da.from_array(t, chunks=(64, N), asarray=False),
    }
    matrix = inputs[kind](transition)
    # small blocks, so that several blocks (and a ragged last one) are combined
    drift = compute_transition_drift(matrix, umap, normalize_rows=normalize_rows, chunk_size=64)
    assert drift.dtype == np.float32 and drift.shape == umap.shape
    expected = _direct(transition.toarray(), umap, normalize_rows)
    np.testing.assert_allclose(drift, expected, rtol=1e-5, atol=1e-5)


def test_zero_sum_rows_are_divided_by_one(transition, umap):
    drift = compute_transition_drift(transition, umap)
    np.testing.assert_allclose(drift[4], -umap[4], rtol=1e-6)
    t9 = transition[9].toarray().ravel()
    np.testing.assert_allclose(drift[9], t9 @ umap - umap[9], rtol=1e-5)
    assert np.isfinite(drift).all()


def test_row_stochastic_identity_has_no_drift(umap):
    drift = compute_transition_drift(sp.identity(N, format="csr") * 0.5, umap)
    np.testing.assert_array_equal(drift, np.zeros_like(umap))


def test_on_disk_inputs(tmp_path, transition, umap):
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f["dense"] = transition.toarray()
        ad.io.write_elem(f, "sparse", transition)
    expected = _direct(transition.toarray(), umap)
    with h5py.File(path, "r") as f:
        for matrix in (f["dense"], ad.io.sparse_dataset(f["sparse"])):
            drift = compute_transition_drift(matrix, umap, chunk_size=100)
            np.testing.assert_allclose(drift, expected, rtol=1e-5, atol=1e-5)


def test_dense_blocks_are_bounded(monkeypatch, transition, umap):
    # a dense row block holds at most ~_DENSE_BLOCK_BYTES: here 10 rows of 300 float64
    from cellucid import drift as module

    monkeypatch.setattr(module, "_DENSE_BLOCK_BYTES", 10 * N * 8)
    blocks = module._row_blocks(transition.toarray(), N, 16_384)
    assert set(blocks.chunks[0]) == {10} and blocks.chunks[1] == (N,)
    drift = compute_transition_drift(transition.toarray(), umap)
    np.testing.assert_allclose(drift, _direct(transition.toarray(), umap), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("matrix", "embedding", "message"),
    [
        (sp.random(N, N + 1, format="csr"), np.zeros((N, 2)), "square matrix of 300 × 300"),
        (sp.random(N + 1, N + 1, format="csr"), np.zeros((N, 2)), "got shape (301, 301)"),
        (np.zeros(N), np.zeros((N, 2)), "got shape (300,)"),
        (sp.random(N, N, format="csr"), np.zeros(N), "embedding must be 2D"),
        ("not a matrix", np.zeros((N, 2)), "square matrix"),
    ],
)
def test_shape_errors(matrix, embedding, message):
    with pytest.raises(ValueError) as info:
        compute_transition_drift(matrix, embedding)
    assert message in str(info.value)


def test_chunk_size_must_be_positive(transition, umap):
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        compute_transition_drift(transition, umap, chunk_size=0)


def _adata(**obsm: np.ndarray) -> ad.AnnData:
    adata = ad.AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(N)]))
    for key, value in obsm.items():
        adata.obsm[key] = value
    return adata


def test_add_to_obsm_keys_and_dim_inference(transition, umap):
    umap3 = np.random.default_rng(1).normal(size=(N, 3))
    adata = _adata(X_umap=umap, X_umap_3d=umap3)
    adata.obsp["T_fwd"] = transition
    # the explicit 3-D key wins over X_umap when dim is not given
    assert add_transition_drift_to_obsm(adata, transition) == "T_fwd_umap_3d"
    np.testing.assert_allclose(
        adata.obsm["T_fwd_umap_3d"], _direct(transition.toarray(), umap3), rtol=1e-5, atol=1e-5
    )
    key = add_transition_drift_to_obsm(adata, "T_fwd", dim=2, field_prefix="T_bwd")
    assert key == "T_bwd_umap_2d"
    np.testing.assert_allclose(
        adata.obsm[key], _direct(transition.toarray(), umap), rtol=1e-5, atol=1e-5
    )
    bare = add_transition_drift_to_obsm(adata, transition, dim=2, explicit_dim_suffix=False)
    assert bare == "T_fwd_umap"


def test_add_to_obsm_errors(transition, umap):
    adata = _adata(X_umap=umap)
    add_transition_drift_to_obsm(adata, transition)
    with pytest.raises(KeyError, match="already contains key 'T_fwd_umap_2d'"):
        add_transition_drift_to_obsm(adata, transition)
    add_transition_drift_to_obsm(adata, transition * 2, overwrite=True, normalize_rows=False)
    np.testing.assert_allclose(
        adata.obsm["T_fwd_umap_2d"], _direct(transition.toarray() * 2, umap, False), rtol=1e-5
    )
    with pytest.raises(ValueError, match="X_umap is 2D"):
        add_transition_drift_to_obsm(adata, transition, dim=3)
    with pytest.raises(KeyError, match="no embedding found: X_tsne"):
        add_transition_drift_to_obsm(adata, transition, basis="tsne")
    with pytest.raises(ValueError, match="Cannot infer dim from X_pca"):
        add_transition_drift_to_obsm(_adata(X_pca=np.zeros((N, 5))), transition, basis="pca")


def test_drift_keys_export(tmp_path, transition, umap):
    adata = _adata(X_umap=umap)
    key = add_transition_drift_to_obsm(adata, transition)
    out = tmp_path / "export"
    prepare(
        latent_space=umap,
        obs=pd.DataFrame({"n": np.arange(N, dtype=float)}),
        X_umap_2d=umap,
        vector_fields={key: adata.obsm[key]},
        out_dir=out,
        quiet=True,
    )
    assert_valid_export(out)
    field = read_json(out / "dataset_identity.json")["vector_fields"]["fields"]["T_fwd_umap"]
    assert field["available_dimensions"] == [2] and field["basis"] == "umap"
    stored = read_array(out / field["files"]["2d"], "float32", 2)
    assert stored.shape == (N, 2) and np.isfinite(stored).all()


def test_public_names():
    assert cellucid.compute_transition_drift is compute_transition_drift
    assert {"compute_transition_drift", "add_transition_drift_to_obsm"} <= set(dir(cellucid))


def test_one_dimensional_embedding(transition, umap):
    adata = _adata(X_umap=umap[:, 0].copy())
    assert add_transition_drift_to_obsm(adata, transition) == "T_fwd_umap_1d"
    expected = _direct(transition.toarray(), umap[:, :1])
    np.testing.assert_allclose(adata.obsm["T_fwd_umap_1d"], expected, rtol=1e-5, atol=1e-5)
