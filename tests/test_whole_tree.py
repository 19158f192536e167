"""Finished export folders are the same files with the same bytes, hidden ones included.

Nothing is excluded from the comparison: not the record, not the lock file (the holder
removes it when its run ends), whatever happened to the run (killed and resumed, or on a
LocalCluster).
"""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import pytest

from cellucid import make_demo_anndata, prepare_anndata
from cellucid.engine.lock import LOCK_NAME, export_lock
from cellucid.errors import ExportLockedError

from .test_resume import run_child


def every_file(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, hidden files included, nothing excluded."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if not p.is_dir()
    }


@pytest.mark.parametrize("marker, nth", [(".values.u8.gz", 150), (".codes.", 1)])
def test_killed_and_resumed_export_is_byte_identical_to_a_plain_one(
    tmp_path, marker, nth, monkeypatch
):
    plain, resumed = tmp_path / "plain" / "export", tmp_path / "resumed" / "export"
    assert run_child(plain, "never", 0) == 0
    assert run_child(resumed, marker, nth) == -signal.SIGKILL
    assert (resumed / LOCK_NAME).exists()  # the killed run could not remove it
    assert run_child(resumed, "never", 0) == 0
    files = every_file(plain)
    assert ".cellucid-export.json" in files and LOCK_NAME not in files
    assert every_file(resumed) == files


def test_local_cluster_export_is_byte_identical_including_hidden_files(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    h5ad = tmp_path / "atlas.h5ad"
    make_demo_anndata(n_cells=1200, n_genes=80).write_h5ad(h5ad)
    settings = {"var_quantization": 8, "compression": 6, "quiet": True, "progress": False}
    threaded = prepare_anndata(h5ad, tmp_path / "threads" / "export", **settings)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        on_cluster = prepare_anndata(h5ad, tmp_path / "cluster" / "export", **settings)
    assert every_file(on_cluster) == every_file(threaded)


def test_the_lock_file_leaves_with_its_holder_and_still_excludes(tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    with export_lock(out):
        assert (out / LOCK_NAME).exists()
        with pytest.raises(ExportLockedError, match="is being written by process"):
            with export_lock(out):
                pass
        assert (out / LOCK_NAME).exists()  # a refused run does not remove the holder's file
    assert not (out / LOCK_NAME).exists()
    with pytest.raises(RuntimeError):
        with export_lock(out):
            raise RuntimeError("boom")
    assert not (out / LOCK_NAME).exists()


def test_a_run_that_locked_a_removed_lock_file_starts_over(tmp_path, monkeypatch):
    """The race removal opens: open before the holder removes the file, lock after."""
    import fcntl

    import cellucid.engine.lock as lock

    out = tmp_path / "export"
    out.mkdir()
    path = out / LOCK_NAME
    stale = path.with_name("stale")
    stale.write_text("")
    real_open, opened = lock.os.open, []

    def open_then_lose_the_race(name, flags, mode=0o777):
        if not opened:
            # this run opened the old file, then its holder finished and removed it
            opened.append(name)
            return real_open(stale, flags, mode)
        return real_open(name, flags, mode)

    monkeypatch.setattr(lock.os, "open", open_then_lose_the_race)
    with export_lock(out):
        assert len(opened) == 1 and path.exists()
        # the lock is held on the file at the path, not on the stale one
        fd = real_open(path, lock.os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            lock.os.close(fd)
    assert not path.exists()
