"""The same atlas from memory, a backed .h5ad, Zarr v2 and v3 stores and dask arrays
gives byte-identical export trees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
import zarr

from cellucid import make_demo_anndata, prepare, prepare_anndata
from cellucid.verify import assert_valid_export

SETTINGS = {"compression": 6, "var_quantization": 8, "quiet": True, "dataset_name": "atlas"}


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under root (hidden bookkeeping files excluded).

    Every export a test digests is first checked with the validator.
    """
    assert_valid_export(root)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def export_arrays(adata, out: Path, **overrides):
    """prepare() on the atlas's arrays, with some inputs replaced by other kinds."""
    arguments = {
        "latent_space": adata.obsm["X_pca"],
        "obs": adata.obs,
        "var": adata.var,
        "gene_expression": adata.X,
        "connectivities": adata.obsp["connectivities"],
        "X_umap_2d": adata.obsm["X_umap"],
        "X_umap_3d": adata.obsm["X_umap_3d"],
        "vector_fields": {
            "velocity_umap": adata.obsm["velocity_umap"],
            "velocity_umap_3d": adata.obsm["velocity_umap_3d"],
        },
        "out_dir": out,
    }
    return prepare(**(arguments | overrides | SETTINGS))


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    adata = make_demo_anndata(n_cells=1500, n_genes=120)
    folder = tmp_path_factory.mktemp("atlas")
    h5ad = folder / "atlas.h5ad"
    adata.write_h5ad(h5ad)
    zarr_v2 = folder / "atlas_v2.zarr"
    zarr_v3 = folder / "atlas_v3.zarr"
    previous = ad.settings.zarr_write_format
    try:
        ad.settings.zarr_write_format = 2
        adata.write_zarr(zarr_v2)
        ad.settings.zarr_write_format = 3
        adata.write_zarr(zarr_v3)
    finally:
        ad.settings.zarr_write_format = previous
    return adata, h5ad, zarr_v2, zarr_v3


@pytest.fixture(scope="module")
def reference_tree(atlas, tmp_path_factory, monkeypatch_module):
    adata = atlas[0]
    out = prepare_anndata(adata, tmp_path_factory.mktemp("ref") / "export", **SETTINGS)
    return tree_digest(out)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        yield patch


def test_zarr_stores_have_both_formats(atlas):
    _, _, zarr_v2, zarr_v3 = atlas
    assert zarr.open_group(zarr_v2, mode="r").metadata.zarr_format == 2
    assert zarr.open_group(zarr_v3, mode="r").metadata.zarr_format == 3


@pytest.mark.parametrize("source", ["h5ad", "h5ad_backed", "zarr_v2", "zarr_v3"])
def test_file_inputs_match_memory(atlas, reference_tree, source, tmp_path):
    adata, h5ad, zarr_v2, zarr_v3 = atlas
    inputs = {
        "h5ad": h5ad,
        "h5ad_backed": ad.read_h5ad(h5ad, backed="r"),
        "zarr_v2": zarr_v2,
        "zarr_v3": zarr_v3,
    }
    out = prepare_anndata(inputs[source], tmp_path / "export", **SETTINGS)
    assert tree_digest(out) == reference_tree
    assert len(reference_tree) > 120


@pytest.mark.parametrize("chunks", [97, 1000, 1500])
@pytest.mark.parametrize("sparse_chunks", [True, False])
def test_dask_inputs_match_memory(atlas, reference_tree, tmp_path, chunks, sparse_chunks):
    adata = atlas[0]
    x = da.from_array(adata.X.toarray(), chunks=(chunks, 50))
    if sparse_chunks:
        x = x.map_blocks(sp.csr_matrix, dtype=x.dtype, meta=sp.csr_matrix((0, 0), dtype=np.float32))
    out = export_arrays(
        adata,
        tmp_path / "export",
        latent_space=da.from_array(adata.obsm["X_pca"], chunks=(chunks, 7)),
        gene_expression=x,
        X_umap_2d=da.from_array(adata.obsm["X_umap"], chunks=(chunks, 2)),
    )
    assert tree_digest(out) == reference_tree


def test_h5py_and_zarr_arrays_as_prepare_inputs(atlas, reference_tree, tmp_path):
    import h5py

    adata, h5ad, _, zarr_v3 = atlas
    store = zarr.open_group(zarr_v3, mode="r")
    with h5py.File(h5ad, "r") as f:
        out = export_arrays(
            adata,
            tmp_path / "export",
            latent_space=f["obsm/X_pca"],
            X_umap_2d=store["obsm/X_umap"],
            X_umap_3d=f["obsm/X_umap_3d"],
            vector_fields={
                "velocity_umap": store["obsm/velocity_umap"],
                "velocity_umap_3d": adata.obsm["velocity_umap_3d"],
            },
        )
    assert tree_digest(out) == reference_tree


def test_xarray_inputs(atlas, reference_tree, tmp_path):
    import xarray as xr

    adata = atlas[0]
    out = export_arrays(
        adata,
        tmp_path / "export",
        latent_space=xr.DataArray(adata.obsm["X_pca"], dims=("cell", "pc")),
        gene_expression=xr.DataArray(da.from_array(adata.X.toarray(), chunks=(400, 120))),
        X_umap_2d=xr.DataArray(adata.obsm["X_umap"]),
    )
    assert tree_digest(out) == reference_tree


def test_mapping_of_keys(atlas, tmp_path, capsys):
    adata = atlas[0].copy()
    adata.obsm["X_tsne"] = adata.obsm["X_umap"] * 3
    del adata.obsm["X_pca"]
    out = prepare_anndata(
        adata,
        tmp_path / "e",
        embedding_keys=["X_tsne"],
        obs_keys=["cell_type"],
        gene_identifiers=list(adata.var_names[:5]),
        compression=None,
    )
    text = capsys.readouterr().out
    # X_tsne is 2-D, named after X_umap, so it provides the 2-D embedding
    assert "2D from obsm['X_tsne']" in text
    assert "latent space: obsm['X_umap_3d']" in text
    assert sorted(p.name for p in (out / "var").iterdir()) == sorted(
        f"{g}.values.u8" for g in adata.var_names[:5]
    )
    assert [p.name for p in (out / "obs").iterdir() if "codes" in p.name] == ["cell_type.codes.u8"]
    tsne = adata.obsm["X_tsne"]
    points = np.fromfile(out / "points_2d.bin", dtype=np.float32).reshape(-1, 2)
    span = (tsne.max(0) - tsne.min(0)).max()
    np.testing.assert_allclose(
        points, (tsne - (tsne.max(0) + tsne.min(0)) / 2) * 2 / span, atol=1e-5
    )


@pytest.mark.parametrize("kind", ["anndata_lazy", "xarray"])
def test_lazy_obs_tables(atlas, reference_tree, tmp_path, kind):
    import warnings

    import xarray as xr

    adata, h5ad, _, _ = atlas
    if kind == "anndata_lazy":
        from anndata.experimental import read_lazy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obs = read_lazy(h5ad).obs
    else:
        obs = xr.Dataset({key: ("cell", adata.obs[key].to_numpy()) for key in adata.obs.columns})
        # xarray keeps no categorical dtype: this path checks values, not category order
        adata = adata.copy()
        for key in ("cell_type", "batch"):
            adata.obs[key] = adata.obs[key].astype(str)
    # AnnData's lazy obs does not promise the stored column order
    out = export_arrays(adata, tmp_path / "export", obs=obs, obs_keys=list(adata.obs.columns))
    expected = prepare_anndata(adata, tmp_path / "expected", **SETTINGS)
    assert tree_digest(out) == tree_digest(expected)
    if kind == "anndata_lazy":
        assert tree_digest(out) == reference_tree
