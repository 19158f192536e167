"""Ctrl+C: an export stops at once, says how to resume, and a rerun finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import pytest

from cellucid import make_demo_anndata, prepare_anndata, validate_export
from cellucid.engine.runner import run_tasks
from cellucid.sinks.folder.context import SPILL_DIRNAME

SRC = Path(__file__).resolve().parents[1] / "src"


def test_ctrl_c_in_python_cancels_pending_tasks_and_propagates():
    started: list[int] = []

    def slow(i: int) -> int:
        started.append(i)
        if i == 0:
            # Ctrl+C arrives in the main thread while the workers are busy
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        time.sleep(0.3)
        return i

    tasks = [dask.delayed(slow)(i) for i in range(40)]
    begun = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks, desc="test", progress=False, scheduler="threads")
    assert time.monotonic() - begun < 2.0
    time.sleep(0.4)  # the tasks running when Ctrl+C came end; no new one starts
    assert len(started) <= 2 * (os.cpu_count() or 1)


@pytest.mark.slow
def test_sigint_mid_export_exits_130_and_a_rerun_resumes(tmp_path):
    h5ad = tmp_path / "atlas.h5ad"
    make_demo_anndata(n_cells=4000, n_genes=4000).write_h5ad(h5ad)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cellucid", "prepare", str(h5ad), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(SRC)},
    )
    deadline = time.monotonic() + 120
    while not (out / SPILL_DIRNAME).exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the export never reached the gene phase"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - sent < 5.0
    assert "Traceback" not in err and err.count("\n") == 1
    assert "run the same command again to resume" in err
    assert not (out / "dataset_identity.json").exists()
    prepare_anndata(h5ad, out, quiet=True)
    assert validate_export(out).ok


def test_python_caller_gets_the_line_then_the_interrupt(tmp_path, monkeypatch, capsys):
    import cellucid.exporter

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cellucid.exporter, "run_export", interrupted)
    atlas = make_demo_anndata(n_cells=200, n_genes=5)
    with pytest.raises(KeyboardInterrupt):
        prepare_anndata(atlas, tmp_path / "out", quiet=True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "call the same export again to resume" in err
