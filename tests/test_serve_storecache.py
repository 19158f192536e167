"""The export cache's Cellucid-ready stores, and cache keys that ignore how options are spelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cellucid
from cellucid.cli import build_parser
from cellucid.commands.prepare import export_options
from cellucid.serving.exportcache import (
    cache_key,
    cached_exports,
    canonical_settings,
    is_complete,
)
from cellucid.serving.storecache import cached_store, store_entry

from .test_store_prepare import make_atlas


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def atlas_file(tmp_path) -> Path:
    path = tmp_path / "atlas.h5ad"
    make_atlas(120, 15).write_h5ad(path)
    return path


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_a_store_is_written_once_then_reused_without_writing(atlas_file):
    first = cached_store(atlas_file, {"dataset_name": "atlas"})
    assert not first.reused
    assert first.path.name == "data.zarr"
    assert cellucid.validate_store(first.path) == []
    before = _files(first.path)
    again = cached_store(atlas_file, {"dataset_name": "atlas"})
    assert again.reused and again.path == first.path
    assert _files(again.path) == before  # nothing rewritten
    assert is_complete(first.path.parent)
    assert [(folder, complete) for folder, complete, _ in cached_exports()] == [
        (first.path.parent, True)
    ]


def test_other_writer_settings_or_changed_data_get_another_entry(atlas_file):
    base = store_entry(atlas_file, {"dataset_name": "atlas"})
    assert store_entry(atlas_file, {"dataset_name": "other"}) != base
    make_atlas(120, 15, seed=3).write_h5ad(atlas_file)  # same path, other bytes
    assert store_entry(atlas_file, {"dataset_name": "atlas"}) != base


def test_force_writes_the_store_again(atlas_file):
    first = cached_store(atlas_file, {})
    marker = first.path / "extra-file"
    marker.write_text("left by hand")
    again = cached_store(atlas_file, {}, force=True)
    assert not again.reused and again.path == first.path
    assert not marker.exists()
    assert cellucid.validate_store(again.path) == []


def test_an_in_memory_anndata_is_keyed_by_its_content(tmp_path):
    adata = make_atlas(80, 10)
    entry = store_entry(adata, {})
    assert store_entry(adata.copy(), {}) == entry
    changed = adata.copy()
    changed.X = changed.X * 2
    assert store_entry(changed, {}) != entry


def test_the_cli_and_python_defaults_give_one_cache_key(atlas_file):
    args = build_parser().parse_args(["serve", str(atlas_file)])
    from_cli = canonical_settings(export_options(args))
    assert from_cli == canonical_settings({}) == {}
    assert cache_key(atlas_file, from_cli) == cache_key(str(atlas_file), canonical_settings({}))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"embedding_keys": ("X_tsne",)}, {"embedding_keys": ["X_tsne"]}),
        ({"embeddings": {2: "X_tsne"}}, {"embeddings": {"2": "X_tsne"}}),
        ({"vector_keys": {}}, {}),
        ({"genes_file": Path("g.txt")}, {"genes_file": "g.txt"}),
        ({"quiet": True, "progress": False}, {}),
        ({"compression": np.int64(9)}, {"compression": 9}),
    ],
)
def test_one_setting_spelled_two_ways_is_one_setting(one, other):
    assert canonical_settings(one) == canonical_settings(other)


def test_a_setting_other_than_the_default_counts():
    args = build_parser().parse_args(["serve", "x.h5ad", "--compression", "9"])
    assert canonical_settings(export_options(args)) == {"compression": 9}
