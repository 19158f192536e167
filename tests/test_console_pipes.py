"""Output to a closed pipe never stops the work (#22 item 6).

``cellucid prepare ... | head -3`` used to die on "[Errno 32] Broken pipe" with an
unfinished folder. Each test runs the real command in a child process with its stdout on
a pipe whose reader goes away, then checks the exit code, that stderr says nothing, and
that the output is complete and valid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cellucid.demo import make_demo_anndata
from cellucid.verify import validate_export
from cellucid.verify.store import validate_store

TIMEOUT = 600


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "atlas.h5ad"
    make_demo_anndata(1500, 40).write_h5ad(path)
    return path


def _env(tmp_path) -> dict[str, str]:
    return dict(os.environ, CELLUCID_WEB_CACHE_DIR=str(tmp_path / "web"))


def _cellucid(*args: str) -> list[str]:
    return [sys.executable, "-m", "cellucid", *args]


def _finished_folder(out) -> None:
    assert validate_export(out).ok, validate_export(out).format()
    assert json.loads((out / ".cellucid-export.json").read_text())["complete"] is True


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head")
def test_prepare_piped_to_head_finishes_the_export(tmp_path, h5ad):
    out, errors = tmp_path / "out", tmp_path / "stderr.txt"
    with open(errors, "wb") as stderr:
        producer = subprocess.Popen(
            _cellucid("prepare", str(h5ad), str(out)),
            stdout=subprocess.PIPE, stderr=stderr, env=_env(tmp_path),
        )  # fmt: skip
        head = subprocess.Popen(["head", "-3"], stdin=producer.stdout, stdout=subprocess.PIPE)
        producer.stdout.close()  # head is the pipe's only reader
        shown, _ = head.communicate(timeout=TIMEOUT)
        code = producer.wait(timeout=TIMEOUT)
    assert len(shown.splitlines()) == 3
    assert shown.decode().startswith("Reading h5ad file ")
    assert code == 0
    assert errors.read_text() == ""
    _finished_folder(out)


def _with_closed_stdout(argv: list[str], tmp_path) -> tuple[int, str]:
    """Run ``argv`` with stdout on a pipe nobody reads: every write finds it closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    errors = tmp_path / "stderr.txt"
    try:
        with open(errors, "wb") as stderr:
            code = subprocess.run(
                argv, stdout=write_end, stderr=stderr, env=_env(tmp_path), timeout=TIMEOUT
            ).returncode
    finally:
        os.close(write_end)
    return code, errors.read_text()


def test_prepare_with_stdout_closed_from_the_start(tmp_path, h5ad):
    out = tmp_path / "out"
    code, errors = _with_closed_stdout(_cellucid("prepare", str(h5ad), str(out)), tmp_path)
    assert (code, errors) == (0, "")
    _finished_folder(out)


def test_store_with_stdout_closed_from_the_start(tmp_path, h5ad):
    out = tmp_path / "atlas.zarr"
    code, errors = _with_closed_stdout(_cellucid("prepare", str(h5ad), str(out)), tmp_path)
    assert (code, errors) == (0, "")
    assert validate_store(out) == []


def test_demo_with_stdout_closed_from_the_start(tmp_path):
    out = tmp_path / "demo"
    argv = _cellucid("demo", str(out), "--n-cells", "800", "--n-genes", "20")
    code, errors = _with_closed_stdout(argv, tmp_path)
    assert (code, errors) == (0, "")
    _finished_folder(out)


def test_errors_still_reach_stderr_and_exit_1(tmp_path):
    code, errors = _with_closed_stdout(
        _cellucid("prepare", str(tmp_path / "missing.h5ad"), str(tmp_path / "out")), tmp_path
    )
    assert code == 1
    assert errors.startswith("cellucid prepare: error: ") and "missing.h5ad" in errors
