"""Files in old AnnData encodings export, through prepare_anndata() and the CLI, to the
same bytes as a modern re-save of the same file."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

from cellucid.anndata_input import load_parts, prepare_anndata
from cellucid.cli import main
from cellucid.verify import assert_valid_export

from .old_anndata_files import (
    CELL_TYPES,
    atlas_arrays,
    write_pre07,
    write_pre07_zarr,
    write_v07,
)

SETTINGS = {"quiet": True, "dataset_name": "old", "progress": False}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


@pytest.fixture(scope="module")
def old_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("old")
    values = atlas_arrays()
    return {
        "pre07_sparse": write_pre07(folder / "pre07_sparse.h5ad", values, sparse_x=True),
        "pre07_dense": write_pre07(folder / "pre07_dense.h5ad", values, sparse_x=False),
        "v07": write_v07(folder / "v07.h5ad", values),
        "pre07_zarr": write_pre07_zarr(folder / "pre07.zarr", values),
    }


def digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file of a valid export (hidden bookkeeping files excluded)."""
    assert_valid_export(root)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def resave(old: Path, new: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata's old-format and moved-graph warnings
        ad.read_h5ad(old).write_h5ad(new)
    return new


@pytest.mark.parametrize("name", ["pre07_sparse", "pre07_dense", "v07"])
def test_tables_match_anndata(old_files, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = ad.read_h5ad(old_files[name])
    parts = load_parts(old_files[name])
    pd.testing.assert_frame_equal(parts.obs, adata.obs)
    pd.testing.assert_frame_equal(parts.var, adata.var)
    assert list(parts.obs["cell_type"].cat.categories) == CELL_TYPES
    assert parts.obs["cell_type"].isna().sum() == 3
    assert sorted(parts.obsm) == sorted(adata.obsm)
    assert sorted(parts.obsp) == ["connectivities"]
    assert (parts.X[0:50] != adata.X[0:50]).sum() == 0


@pytest.mark.parametrize("name", ["pre07_sparse", "pre07_dense", "v07"])
def test_export_equals_modern_resave(old_files, name, tmp_path):
    modern = resave(old_files[name], tmp_path / "modern.h5ad")
    old_tree = digest(prepare_anndata(old_files[name], tmp_path / "old", **SETTINGS))
    new_tree = digest(prepare_anndata(modern, tmp_path / "new", **SETTINGS))
    assert old_tree == new_tree
    assert any(key.startswith("connectivity") for key in old_tree)
    assert sum(key.startswith("var/") for key in old_tree) == 40


def test_old_layer_exports(old_files, tmp_path):
    out = prepare_anndata(old_files["pre07_sparse"], tmp_path / "e", layer="counts", **SETTINGS)
    modern = resave(old_files["pre07_sparse"], tmp_path / "modern.h5ad")
    again = prepare_anndata(modern, tmp_path / "m", layer="counts", **SETTINGS)
    assert digest(out) == digest(again)


def test_cli_exports_old_file_and_says_so(old_files, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["prepare", str(old_files["pre07_sparse"]), str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "old encoding, written by anndata <0.7" in printed
    assert digest(out)


def test_v07_tables_read_without_warnings(old_files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parts = load_parts(old_files["v07"])
    assert list(parts.obs.columns) == ["cell_type", "n_counts"]


def test_old_zarr_store_exports_like_its_resave(old_files, tmp_path):
    store = old_files["pre07_zarr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = ad.read_zarr(store)
    parts = load_parts(store)
    pd.testing.assert_frame_equal(parts.obs, adata.obs)
    pd.testing.assert_frame_equal(parts.var, adata.var)
    adata.write_zarr(tmp_path / "modern.zarr")
    old_tree = digest(prepare_anndata(store, tmp_path / "old", **SETTINGS))
    assert old_tree == digest(
        prepare_anndata(tmp_path / "modern.zarr", tmp_path / "new", **SETTINGS)
    )
