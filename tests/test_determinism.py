"""Same inputs and settings, same bytes: across chunk sizes, runs and schedulers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cellucid import generate_datasets_manifest, prepare
from cellucid.demo import make_demo_arrays

from .decode import assert_single_member
from .test_anndata_inputs import tree_digest


def run(out: Path, **options) -> Path:
    a = make_demo_arrays(n_cells=700, n_genes=60, seed=3)
    return prepare(
        latent_space=a["X_pca"],
        obs=a["obs"],
        var=a["var"],
        gene_expression=a["X"],
        connectivities=a["connectivities"],
        X_umap_2d=a["X_umap_2d"],
        X_umap_3d=a["X_umap_3d"],
        vector_fields={"velocity_umap_2d": a["velocity_umap_2d"]},
        out_dir=out,
        quiet=True,
        dataset_name="same",
        **options,
    )


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


@pytest.mark.parametrize(
    "settings", [{}, {"compression": 6, "var_quantization": 8, "obs_continuous_quantization": 16}]
)
def test_chunk_sizes_runs_and_schedulers_give_identical_bytes(tmp_path, settings):
    trees = [
        tree_digest(run(tmp_path / "c1", chunk_size=1, **settings)),
        tree_digest(run(tmp_path / "c7", chunk_size=7, **settings)),
        tree_digest(run(tmp_path / "all", chunk_size=700, **settings)),
        tree_digest(run(tmp_path / "again", **settings)),
        tree_digest(run(tmp_path / "sync", scheduler="sync", **settings)),
        tree_digest(run(tmp_path / "threads", scheduler="threads", **settings)),
    ]
    assert all(tree == trees[0] for tree in trees[1:])
    assert len(trees[0]) > 60


def test_every_gzip_is_one_member_and_created_at_is_reproducible(tmp_path):
    out = run(tmp_path / "e", compression=9)
    files = list(out.rglob("*.gz"))
    assert len(files) > 60
    for path in files:
        assert_single_member(path.read_bytes(), path)
    identity = json.loads((out / "dataset_identity.json").read_text())
    assert identity["created_at"] == "2023-11-14T22:13:20Z"


def test_force_removes_stale_files_and_spares_foreign_ones(tmp_path, capsys):
    out = run(tmp_path / "e", compression=6)
    (out / "var" / "my_notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="settings differ: compression.*force=True"):
        run(out)
    assert (out / "var" / "ENSG00000000000.values.f32.gz").exists()  # nothing changed
    run(out, force=True)
    names = {p.name for p in (out / "var").iterdir()}
    assert "my_notes.txt" in names
    assert not [n for n in names if n.endswith(".gz")]
    assert len([n for n in names if n.endswith(".values.f32")]) == 60


def test_files_without_a_record_are_not_trusted(tmp_path):
    out = tmp_path / "e"
    (out / "obs").mkdir(parents=True)
    (out / "points_2d.bin").write_bytes(b"old")
    with pytest.raises(ValueError, match="no record of how they were made"):
        run(out)
    assert (out / "points_2d.bin").read_bytes() == b"old"
    run(out, force=True)
    assert (out / "points_2d.bin").stat().st_size == 700 * 2 * 4


def test_datasets_manifest(tmp_path):
    root = tmp_path / "exports"
    run(root / "b_set", dataset_id="beta")
    run(root / "a_set", dataset_id="alpha")
    (root / "not_an_export").mkdir()
    path = generate_datasets_manifest(root, default_dataset="beta")
    manifest = json.loads(path.read_text())
    assert manifest == {
        "version": 1,
        "default": "beta",
        "datasets": [
            {"id": "alpha", "path": "a_set/", "name": "same", "n_cells": 700, "n_genes": 60},
            {"id": "beta", "path": "b_set/", "name": "same", "n_cells": 700, "n_genes": 60},
        ],
    }
    with pytest.warns(UserWarning, match="nope"):
        path = generate_datasets_manifest(root, default_dataset="nope")
    assert json.loads(path.read_text())["default"] == "alpha"
    assert generate_datasets_manifest(root / "not_an_export") is None
    assert not (root / "not_an_export" / "datasets.json").exists()
