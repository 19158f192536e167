"""Inputs that read outside the input are refused, naming the element (#21 item 5).

An .h5ad whose X uses HDF5 external storage (or is a virtual dataset, or an external
link), and a Zarr store with a chunk that is a symlink out of the store: the export
folder path (a path, a backed AnnData) and the Cellucid-ready store path refuse them
before writing anything.
"""

from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest

from cellucid import CellucidError, prepare_anndata

N, G = 50, 4


def _adata():
    rng = np.random.default_rng(2)
    adata = ad.AnnData(
        X=rng.uniform(0, 5, (N, G)).astype(np.float32),
        obs=pd.DataFrame({"score": rng.normal(size=N)}, index=[f"c{i}" for i in range(N)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(G)]),
    )
    adata.obsm["X_umap"] = rng.normal(size=(N, 2)).astype(np.float32)
    return adata


def _h5ad_reaching_out(tmp_path, how):
    """An .h5ad whose X's values are in a file outside it."""
    path = tmp_path / "atlas.h5ad"
    adata = _adata()
    adata.write_h5ad(path)
    secret = tmp_path / "secret.bin"
    values = np.asarray(adata.X, dtype=np.float32)
    with h5py.File(path, "r+") as file:
        attrs = dict(file["X"].attrs)
        del file["X"]
        if how == "external":
            values.tofile(secret)
            file.create_dataset(
                "X",
                shape=values.shape,
                dtype=values.dtype,
                external=[(str(secret), 0, values.nbytes)],
            )
        elif how == "virtual":
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["values"] = values
            layout = h5py.VirtualLayout(shape=values.shape, dtype=values.dtype)
            layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "values", values.shape)
            file.create_virtual_dataset("X", layout)
        else:
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["values"] = values
            file["X"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/values")
        if how != "link":
            file["X"].attrs.update(attrs)
    return path


@pytest.mark.parametrize("how", ["external", "virtual", "link"])
def test_h5ad_reading_another_file_is_refused(tmp_path, how):
    path = _h5ad_reaching_out(tmp_path, how)
    expected = {
        "external": "HDF5 external storage",
        "virtual": "virtual dataset",
        "link": "external link",
    }[how]
    for out in (tmp_path / "folder", tmp_path / "store.zarr"):
        with pytest.raises(CellucidError, match=expected) as info:
            prepare_anndata(path, out, quiet=True)
        assert "element /X reads data outside the input" in str(info.value)
        assert not out.exists()
    if how == "link":
        return  # anndata does not open a backed X behind an external link
    backed = ad.read_h5ad(path, backed="r")
    try:
        for out in (tmp_path / "folder", tmp_path / "store.h5ad"):
            with pytest.raises(CellucidError, match="element /X reads data outside the input"):
                prepare_anndata(backed, out, quiet=True)
            assert not out.exists()
    finally:
        backed.file.close()


def _zarr_with_chunk_outside(tmp_path):
    store = tmp_path / "atlas.zarr"
    _adata().write_zarr(store)
    chunks = sorted(
        p
        for p in (store / "X").rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != "zarr.json"
    )
    chunk = chunks[0]
    outside = tmp_path / "elsewhere.bin"
    chunk.rename(outside)
    chunk.symlink_to(outside)
    return store, chunk.relative_to(store)


def test_zarr_chunk_symlinked_out_of_the_store_is_refused(tmp_path):
    store, chunk = _zarr_with_chunk_outside(tmp_path)
    for out in (tmp_path / "folder", tmp_path / "store.h5ad"):
        with pytest.raises(CellucidError, match="reads data outside the input") as info:
            prepare_anndata(store, out, quiet=True)
        assert f"element {chunk} " in str(info.value)
        assert "a symlink to" in str(info.value)
        assert not out.exists()


def test_symlink_inside_the_store_is_accepted(tmp_path):
    store = tmp_path / "atlas.zarr"
    _adata().write_zarr(store)
    (store / "obs").rename(tmp_path / "atlas.zarr" / "obs_real")
    (store / "obs").symlink_to(store / "obs_real")
    out = prepare_anndata(store, tmp_path / "folder", quiet=True)
    assert (out / "obs").is_dir()
