"""The export cache's size limit: least recently opened exports go first, busy ones stay."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cellucid import make_demo_anndata
from cellucid.engine.lock import export_lock
from cellucid.serving.exportcache import (
    export_cache_limit,
    get_export_cache_dir,
    prune_export_cache,
)
from cellucid.serving.webcache import folder_bytes


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(tmp_path / "exports"))
    monkeypatch.delenv("CELLUCID_EXPORT_CACHE_MAX_GB", raising=False)
    return tmp_path / "exports"


def _fake_export(root: Path, name: str, n_bytes: int, used_at: float) -> Path:
    folder = root / name
    (folder / "var").mkdir(parents=True)
    (folder / "var" / "g.values.u8.gz").write_bytes(b"x" * n_bytes)
    os.utime(folder, (used_at, used_at))
    return folder


def test_the_limit_comes_from_the_environment(monkeypatch):
    assert export_cache_limit() == 20_000_000_000
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_MAX_GB", "0.5")
    assert export_cache_limit() == 500_000_000
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_MAX_GB", "0")
    assert export_cache_limit() is None
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_MAX_GB", "lots")
    with pytest.raises(ValueError, match="CELLUCID_EXPORT_CACHE_MAX_GB='lots' is not a size"):
        export_cache_limit()


def test_least_recently_opened_go_first_until_the_rest_fit(cache):
    old = _fake_export(cache, "old", 4000, 1_000)
    middle = _fake_export(cache, "middle", 4000, 2_000)
    new = _fake_export(cache, "new", 4000, 3_000)
    opening = _fake_export(cache, "opening", 4000, 500)  # oldest, but being opened
    removed = prune_export_cache(keep=opening, limit=9000)
    assert removed == [old, middle]
    assert not old.exists() and not middle.exists() and new.exists() and opening.exists()
    assert folder_bytes(cache) <= 9000


def test_an_export_being_written_is_not_removed(cache):
    busy = _fake_export(cache, "busy", 4000, 1_000)
    idle = _fake_export(cache, "idle", 4000, 2_000)
    opening = _fake_export(cache, "opening", 10, 3_000)
    locked, release = threading.Event(), threading.Event()

    def writer():
        with export_lock(busy):
            locked.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    locked.wait(30)
    try:
        assert prune_export_cache(keep=opening, limit=100) == [idle]
        assert busy.exists()
    finally:
        release.set()
        thread.join()


def test_opening_data_prunes_the_others(cache, monkeypatch, tmp_path):
    from cellucid.anndata_serve import start_cached_export

    stale = _fake_export(cache, "stale", 50_000, 1_000)
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_MAX_GB", "0.00001")  # 10 kB
    path = tmp_path / "atlas.h5ad"
    make_demo_anndata(n_cells=200, n_genes=5).write_h5ad(path)
    job = start_cached_export(path, compression=6)
    job.wait_done(120)
    assert not stale.exists()
    assert job.folder.parent == get_export_cache_dir()
    # over the limit on its own, the export being opened stays, now and when opened again
    assert folder_bytes(job.folder) > 10_000
    again = start_cached_export(path, compression=6)
    assert again.folder == job.folder and again.done and job.folder.exists()
