"""Still open from the first round (#21 item 9): each refused with a message that names the
column, element or path and the fix, before anything is written; for the export folder and
for the Cellucid-ready store alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cellucid import make_demo_anndata, prepare, prepare_anndata
from cellucid.errors import DamagedRecordError

N = 120
OUTPUTS = ["folder", "store"]


@pytest.fixture(scope="module")
def base():
    return make_demo_anndata(n_cells=N, n_genes=6)


def target(tmp_path: Path, output: str) -> Path:
    return tmp_path / ("out" if output == "folder" else "out.zarr")


def written(tmp_path: Path, *keep: Path) -> list[str]:
    """Everything in tmp_path but the inputs: must stay empty after a refusal."""
    kept = {p.resolve() for p in keep}
    return sorted(p.name for p in tmp_path.iterdir() if p.resolve() not in kept)


def tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize("output", OUTPUTS)
def test_complex_obs_column_is_refused_by_name(base, tmp_path, output):
    adata = base.copy()
    adata.obs["phase"] = np.arange(N) * (1 + 2j)
    with pytest.raises(TypeError, match="obs column 'phase'") as info:
        prepare_anndata(adata, target(tmp_path, output), quiet=True)
    assert "complex" in str(info.value) and ".astype(str)" in str(info.value)
    assert written(tmp_path) == []


@pytest.mark.parametrize("output", OUTPUTS)
def test_duplicate_obs_columns_name_the_column_not_obs_keys(base, tmp_path, output):
    adata = base.copy()
    adata.obs = pd.concat([adata.obs, adata.obs[["batch"]]], axis=1)
    with pytest.raises(ValueError, match="'batch'") as info:
        prepare_anndata(adata, target(tmp_path, output), quiet=True)
    message = str(info.value)
    assert "obs_keys" not in message and "obs" in message and "duplicated()" in message
    assert written(tmp_path) == []


@pytest.mark.parametrize("output", OUTPUTS)
def test_obs_cells_holding_lists_are_refused_by_name(base, tmp_path, output):
    adata = base.copy()
    adata.obs["tags"] = [["a", "b"]] * N
    with pytest.raises(TypeError, match="obs column 'tags'") as info:
        prepare_anndata(adata, target(tmp_path, output), quiet=True)
    assert "list" in str(info.value) and ".astype(str)" in str(info.value)
    assert "unhashable" not in str(info.value)
    assert written(tmp_path) == []


def test_obs_cells_holding_arrays_name_the_row(base, tmp_path):
    adata = base.copy()
    cells: list[object] = ["x"] * N
    cells[7] = np.zeros(3)
    adata.obs["vec"] = pd.Series(cells, dtype=object, index=adata.obs_names)
    with pytest.raises(TypeError, match=r"obs column 'vec' holds ndarray values \(row 7"):
        prepare_anndata(adata, tmp_path / "out", quiet=True)
    assert written(tmp_path) == []


@pytest.mark.parametrize("output", OUTPUTS)
def test_latent_space_with_zero_columns_is_refused_up_front(base, tmp_path, output):
    adata = base.copy()
    adata.obsm["X_pca"] = np.zeros((N, 0), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        prepare_anndata(adata, target(tmp_path, output), quiet=True)
    message = str(info.value)
    assert "no columns" in message or "0 columns" in message, message
    assert "memoryview" not in message
    assert written(tmp_path) == []


def test_var_given_as_a_list_is_refused_with_the_fix(base, tmp_path):
    common = dict(obs=base.obs, var=list(base.var_names), gene_expression=base.X, quiet=True)
    with pytest.raises(TypeError, match="var must be a pandas DataFrame") as info:
        prepare(
            X_umap_2d=base.obsm["X_umap"][:, :2],
            latent_space=base.obsm["X_pca"],
            out_dir=tmp_path / "out",
            **common,
        )
    assert "got list" in str(info.value) and "pd.DataFrame(index=names)" in str(info.value)
    with pytest.raises(TypeError, match="var must be a pandas DataFrame, got list") as info:
        prepare(
            tmp_path / "out.zarr",
            format="zarr",
            embeddings={"X_umap": base.obsm["X_umap"][:, :2]},
            dataset_id="d",
            dataset_name="D",
            **common,
        )
    assert "pd.DataFrame(index=names)" in str(info.value)
    assert written(tmp_path) == []


def _store_without(base, tmp_path: Path, element: str, consolidated: bool) -> Path:
    path = tmp_path / "in.zarr"
    base.write_zarr(path)
    shutil.rmtree(path / element)
    if not consolidated:
        (path / ".zmetadata").unlink()
    return path


@pytest.mark.parametrize("output", OUTPUTS)
def test_zarr_store_whose_x_was_deleted_is_refused_not_zeros(base, tmp_path, output):
    source = _store_without(base, tmp_path, "X", consolidated=True)
    before = tree(source)
    with pytest.raises(ValueError, match="lists X, but its files are gone") as info:
        prepare_anndata(source, target(tmp_path, output), quiet=True)
    assert str(source) in str(info.value) and "consolidate_metadata" in str(info.value)
    assert written(tmp_path, source) == [] and tree(source) == before


def test_deleted_x_is_refused_by_prepare_with_data_too(base, tmp_path):
    source = _store_without(base, tmp_path, "X", consolidated=True)
    with pytest.raises(ValueError, match="lists X, but its files are gone"):
        prepare(tmp_path / "out.zarr", format="zarr", data=source, quiet=True)
    assert written(tmp_path, source) == []


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("consolidated", [True, False], ids=["listed", "unlisted"])
def test_zarr_store_without_obs_gets_a_clear_message(base, tmp_path, output, consolidated):
    source = _store_without(base, tmp_path, "obs", consolidated)
    with pytest.raises(ValueError) as info:
        prepare_anndata(source, target(tmp_path, output), quiet=True)
    message = str(info.value)
    assert str(source) in message and "obs" in message, message
    assert "Categorical categories must be unique" not in message
    assert written(tmp_path, source) == []


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_inside_the_input_store_is_refused(base, tmp_path, output):
    source = tmp_path / "in.zarr"
    base.write_zarr(source)
    before = tree(source)
    inside = source / ("export" if output == "folder" else "sub.zarr")
    with pytest.raises(ValueError, match="is inside the input") as info:
        prepare_anndata(source, inside, quiet=True)
    assert str(source) in str(info.value) and "out_dir" in str(info.value)
    assert tree(source) == before


def test_output_inside_a_backed_input_and_prepare_data_are_refused(base, tmp_path):
    import anndata as ad

    source = tmp_path / "in.zarr"
    base.write_zarr(source)
    before = tree(source)
    with pytest.raises(ValueError, match="out_path .* is inside the input"):
        prepare(source / "x.zarr", format="zarr", data=source, quiet=True)
    h5ad = tmp_path / "in.h5ad"
    base.write_h5ad(h5ad)
    backed = ad.read_h5ad(h5ad, backed="r")
    try:
        with pytest.raises(ValueError, match="is the input"):
            prepare_anndata(backed, h5ad, quiet=True)
    finally:
        backed.file.close()
    assert tree(source) == before


def test_damaged_record_is_reported_before_anything_is_written(base, tmp_path):
    out = prepare_anndata(base, tmp_path / "out", quiet=True)
    (out / ".cellucid-export.json").write_text('{"fingerprint": ')
    (out / "dataset_identity.json").unlink()
    files = tree(out)
    folder_time = out.stat().st_mtime_ns  # a file made and removed in it changes this
    with pytest.raises(DamagedRecordError, match="is damaged or unreadable"):
        prepare_anndata(base, out, quiet=True)
    assert out.stat().st_mtime_ns == folder_time
    assert tree(out) == files and not (out / ".cellucid-export.lock").exists()


def test_record_listing_a_foreign_file_is_reported_before_the_lock(base, tmp_path):
    out = prepare_anndata(base, tmp_path / "out", quiet=True)
    record_path = out / ".cellucid-export.json"
    record = json.loads(record_path.read_text())
    record["files"].append("../elsewhere.txt")
    record_path.write_text(json.dumps(record))
    (out / "dataset_identity.json").unlink()
    folder_time = out.stat().st_mtime_ns
    with pytest.raises(DamagedRecordError, match="elsewhere.txt"):
        prepare_anndata(base, out, quiet=True)
    assert out.stat().st_mtime_ns == folder_time


@pytest.mark.parametrize("output", OUTPUTS)
def test_zarr_v3_store_whose_x_was_deleted_is_refused(base, tmp_path, output):
    import anndata as ad

    source = tmp_path / "in.zarr"
    with ad.settings.override(zarr_write_format=3):
        base.write_zarr(source)
    assert "consolidated_metadata" in json.loads((source / "zarr.json").read_text())
    shutil.rmtree(source / "X")
    with pytest.raises(ValueError, match=r"consolidated metadata \(zarr.json\) lists X"):
        prepare_anndata(source, target(tmp_path, output), quiet=True)
    assert written(tmp_path, source) == []
