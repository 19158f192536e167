"""The store run's own duties: leftovers of killed runs."""

from __future__ import annotations

import os
import subprocess
import sys

from cellucid.sinks.anndata.run import remove_abandoned


def test_a_killed_runs_leftovers_are_removed_by_the_next_run(tmp_path):
    """A run killed with SIGKILL leaves its hidden siblings; the next run removes them."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    target = tmp_path / "atlas.zarr"
    abandoned = tmp_path / f".atlas.zarr.part-store-{pid}-0123abcd"
    (abandoned / "X").mkdir(parents=True)
    (tmp_path / f".atlas.zarr.part-spill-{pid}-0123abcd").write_bytes(b"x")
    live = tmp_path / f".atlas.zarr.part-store-{os.getpid()}-0123abcd"
    live.mkdir()
    other = tmp_path / f".other.zarr.part-store-{pid}-0123abcd"
    other.mkdir()
    assert sorted(p.name for p in remove_abandoned(target)) == sorted(
        [abandoned.name, f".atlas.zarr.part-spill-{pid}-0123abcd"]
    )
    assert not abandoned.exists() and live.exists() and other.exists()
