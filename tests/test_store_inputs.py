"""data= as an AnnData (in memory or backed) or a store path, and X described, never read."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import anndata
import dask.array
import h5py
import numpy as np
import pandas as pd
import pytest
import zarr
from scipy import sparse

from cellucid.sinks.anndata.arguments import StoreRequest
from cellucid.sinks.anndata.build import build_content
from cellucid.sinks.anndata.expression import describe_expression

from . import store_conversion_inputs as inputs
from .store_content_diff import content_differences

pytestmark = pytest.mark.filterwarnings("ignore")

ARGUMENTS = {
    "dataset_id": "paths",
    "dataset_name": "Paths",
    "latent_key": "X_pca",
    "var_gene_id_column": "gene_ids",
    "gene_identifiers": ["ENSG00009", "ENSG00002"],
}


def build(data: object, tmp_path: Path, **changes: object):
    arguments = {**ARGUMENTS, **changes}
    request = StoreRequest(tmp_path / "out.zarr", format="zarr", data=data, **arguments)
    return build_content(request, note=None)


def zipped(folder: Path) -> Path:
    archive = folder.with_name(folder.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as file:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                file.write(path, path.relative_to(folder).as_posix())
    return archive


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stores")
    adata = inputs.rich_anndata()
    del adata.obs["fraction"]  # anndata writes no nullable float
    adata.write_h5ad(folder / "rich.h5ad")
    adata.write_zarr(folder / "rich.zarr")
    dense = anndata.AnnData(X=adata.X.toarray(), obs=adata.obs, var=adata.var, obsm=adata.obsm)
    dense.write_h5ad(folder / "dense.h5ad")
    return {
        "h5ad": folder / "rich.h5ad",
        "zarr": folder / "rich.zarr",
        "zarr.zip": zipped(folder / "rich.zarr"),
        "dense": folder / "dense.h5ad",
    }


@pytest.mark.parametrize("kind", ["h5ad", "zarr", "zarr.zip"])
def test_a_store_path_gives_what_the_anndata_read_from_it_gives(stores, kind, tmp_path):
    path = stores[kind]
    memory = anndata.read_h5ad(path) if kind == "h5ad" else anndata.read_zarr(stores["zarr"])
    expected, expected_x = build(memory, tmp_path)
    content, source = build(path, tmp_path)
    try:
        assert content_differences(content, expected) == []
        assert source.kind == "backed-sparse" and source.sparse and source.format == "csr"
        assert source.shape == expected_x.shape and source.dtype == expected_x.dtype
        assert list(source.columns) == [9, 2] == list(expected_x.columns)
        assert source.handles if kind != "zarr" else not source.handles
        rows = sparse.csr_matrix(source.matrix[0:5])
        assert (rows != expected_x.matrix[0:5]).nnz == 0
    finally:
        source.close()


def test_a_backed_anndata_keeps_x_on_disk(stores, tmp_path):
    backed = anndata.read_h5ad(stores["h5ad"], backed="r")
    content, source = build(backed, tmp_path)
    expected, _ = build(anndata.read_h5ad(stores["h5ad"]), tmp_path)
    assert content_differences(content, expected) == []
    assert source.kind == "backed-sparse" and source.handles == ()
    dense, dense_source = build(anndata.read_h5ad(stores["dense"], backed="r"), tmp_path)
    assert isinstance(dense_source.matrix, h5py.Dataset) and not dense_source.sparse
    assert dense_source.kind == "hdf5" and dense_source.format == "dense"


def test_a_dense_store_path_keeps_the_dataset(stores, tmp_path):
    _, source = build(stores["dense"], tmp_path)
    assert isinstance(source.matrix, h5py.Dataset) and source.matrix.id.valid
    source.close()
    assert not source.matrix.id.valid


def test_a_refusal_closes_what_it_opened(stores, tmp_path, monkeypatch):
    opened: list[h5py.File] = []

    class Recorded(h5py.File):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(h5py, "File", Recorded)
    with pytest.raises(ValueError, match="latent_key"):
        build(stores["h5ad"], tmp_path, obs_keys=["nope"], latent_key="X_none")
    assert len(opened) == 1 and not opened[0].id.valid


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="data"):
        build(tmp_path / "none.h5ad", tmp_path)
    other = tmp_path / "a.loom"
    other.write_text("")
    with pytest.raises(ValueError, match="data .* must end in .h5ad, .zarr or .zarr.zip"):
        build(other, tmp_path)
    with pytest.raises(TypeError, match="data must be an anndata.AnnData or the path"):
        build(3, tmp_path)


@pytest.mark.parametrize(
    ("matrix", "kind", "is_sparse", "form"),
    [
        (np.zeros((4, 3), np.int32), "numpy", False, "dense"),
        ([[1, 2, 3]] * 4, "numpy", False, "dense"),
        (pd.DataFrame(np.zeros((4, 3))), "numpy", False, "dense"),
        (sparse.coo_matrix(np.eye(4, 3)), "scipy", True, "coo"),
        (sparse.csc_array(np.eye(4, 3)), "scipy", True, "csc"),
        (dask.array.zeros((4, 3), chunks=2), "dask", False, "dense"),
        (
            dask.array.from_array(np.eye(4, 3), chunks=2).map_blocks(sparse.csr_matrix),
            "dask",
            True,
            "csr",
        ),
    ],
)
def test_expression_kinds(matrix, kind, is_sparse, form):
    described = describe_expression(matrix, 4)
    assert (described.kind, described.sparse, described.format) == (kind, is_sparse, form)


def test_a_zarr_array_is_kept(tmp_path):
    array = zarr.create_array(tmp_path / "x.zarr", shape=(4, 3), dtype="float32")
    assert describe_expression(array, 4).kind == "zarr"


@pytest.mark.parametrize(
    ("matrix", "error", "message"),
    [
        (None, ValueError, "gene_expression has no values"),
        (np.zeros(4), ValueError, "gene_expression must be a 2-D"),
        (np.zeros((3, 2)), ValueError, "gene_expression has 3 rows, and the embeddings have 4"),
        (np.full((4, 2), "a"), TypeError, "gene_expression must hold real numbers"),
        (np.zeros((4, 2), complex), TypeError, "gene_expression must hold real numbers"),
    ],
)
def test_expression_refusals(matrix, error, message):
    with pytest.raises(error, match=message):
        describe_expression(matrix, 4)


def test_x_values_are_not_checked_here(tmp_path):
    """NaN and infinities in X are the scan's to refuse; the description passes them."""
    adata = inputs.rich_anndata()
    adata.X.data[:3] = [np.nan, np.inf, 1e300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, source = build(adata, tmp_path)
    assert source.matrix is adata.X
