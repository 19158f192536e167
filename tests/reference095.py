"""Upstream cellucid 0.9.5 as a reference for tests: find it, run it, compare with it.

Upstream is never a dependency of ours: it lives in a virtual environment of its own and runs
in a subprocess. Its interpreter is, in this order, the first of

1. the ``CELLUCID_REFERENCE_PYTHON`` environment variable (CI sets it, see ``.ci/run``);
2. ``<repository>/.venv-ref095/bin/python`` (what ``.ci/run`` creates);
3. ``/work/ref095/bin/python`` (the development machine's);

that imports ``cellucid`` at version 0.9.5. Without one, the tests that need it skip::

    from tests.reference095 import compare_stores, requires_reference095, write_reference_store

    @requires_reference095
    def test_same_store(tmp_path):
        theirs = write_reference_store(atlas, tmp_path / "theirs.zarr", "zarr", dataset_id="a",
                                       dataset_name="A")
        assert compare_stores(ours, theirs) == []

(or take the ``reference095`` fixture, the interpreter's path, which skips the same way; see
``reference095_fixture``).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from .store_diff import compare_stores

__all__ = [
    "REFERENCE_VERSION",
    "compare_stores",
    "reference095_fixture",
    "reference_python",
    "requires_reference095",
    "write_reference_store",
    "write_reference_stores",
]

REFERENCE_VERSION = "0.9.5"
ENVIRONMENT_VARIABLE = "CELLUCID_REFERENCE_PYTHON"
REPOSITORY = Path(__file__).resolve().parents[1]
CANDIDATES = (REPOSITORY / ".venv-ref095" / "bin" / "python", Path("/work/ref095/bin/python"))
SKIP_REASON = (
    f"upstream cellucid=={REFERENCE_VERSION} not found: set {ENVIRONMENT_VARIABLE} to the python "
    f"of a virtual environment holding it, or create {CANDIDATES[0].parent.parent}"
)

#: Seconds one upstream run may take; the tests' inputs are small.
TIMEOUT = 600

# -I: neither the current folder, PYTHONPATH nor user site-packages can put our own package
# (or anything else) in front of the reference environment's.
_VERSION_CHECK = (
    "import importlib.metadata as m, cellucid; assert hasattr(cellucid, 'prepare'); "
    "print(m.version('cellucid'))"
)

# Runs in the reference interpreter: reads the jobs as JSON on stdin, writes each store, and
# prints the path prepare() returned, one JSON string a line.
_WRITER = """
import json, sys
import anndata, cellucid
spec = json.load(sys.stdin)
data = anndata.read_h5ad(spec["input"], backed="r" if spec["backed"] else None)
for job in spec["jobs"]:
    written = cellucid.prepare(job["out"], format=job["format"], data=data, **job["kwargs"])
    print(json.dumps(str(written)), flush=True)
"""


def _is_reference(python: Path) -> bool:
    if not python.is_file():
        return False
    try:
        result = subprocess.run(
            [str(python), "-I", "-c", _VERSION_CHECK],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == REFERENCE_VERSION


@functools.cache
def reference_python() -> str | None:
    """The interpreter of a virtual environment holding upstream cellucid 0.9.5, or None.

    Returns
    -------
    str or None
        The first candidate (module docstring) that imports ``cellucid`` at version 0.9.5.
    """
    given = os.environ.get(ENVIRONMENT_VARIABLE)
    candidates = ([Path(given)] if given else []) + list(CANDIDATES)
    for python in candidates:
        if _is_reference(python):
            return str(python)
    return None


#: Marks a test (or a module, as ``pytestmark``) to skip when upstream 0.9.5 is absent.
requires_reference095 = pytest.mark.skipif(reference_python() is None, reason=SKIP_REASON)


@pytest.fixture(name="reference095")
def reference095_fixture() -> str:
    """Fixture ``reference095``: the reference interpreter's path; skips when it is absent.

    Import it into a test module to use it there (``from .reference095 import
    reference095_fixture  # noqa: F401``), then take ``reference095`` as an argument.
    """
    python = reference_python()
    if python is None:
        pytest.skip(SKIP_REASON)
    return python


def _jobs_json(input_h5ad: Path, jobs: Sequence[tuple[Path, str, Mapping[str, Any]]], backed):
    spec = {
        "input": str(Path(input_h5ad).resolve()),
        "backed": bool(backed),
        "jobs": [
            {"out": str(Path(out)), "format": format, "kwargs": dict(kwargs)}
            for out, format, kwargs in jobs
        ],
    }
    try:
        return json.dumps(spec)
    except TypeError as error:
        raise TypeError(
            f"the arguments for upstream's prepare() must be JSON values (lists, not tuples or "
            f"arrays, are fine): {error}"
        ) from error


def write_reference_stores(
    input_h5ad: Path,
    jobs: Sequence[tuple[Path, str, Mapping[str, Any]]],
    *,
    backed: bool = False,
) -> list[Path]:
    """Write several stores with upstream 0.9.5 from one .h5ad, in one subprocess.

    Parameters
    ----------
    input_h5ad
        The AnnData, read with ``anndata.read_h5ad`` (``backed="r"`` when ``backed``).
    jobs
        ``(out, format, kwargs)`` per store: upstream runs
        ``cellucid.prepare(out, format=format, data=adata, **kwargs)``; kwargs must be JSON.
    backed
        Read the input backed, as users with large files do (upstream then reads X by rows).

    Returns
    -------
    list of Path
        The paths upstream returned, one per job.

    Raises
    ------
    RuntimeError
        Upstream failed (its exit status and output are in the message) or is absent.
    """
    python = reference_python()
    if python is None:
        raise RuntimeError(SKIP_REASON)
    spec = _jobs_json(input_h5ad, jobs, backed)
    command = [python, "-I", "-c", _WRITER]
    result = subprocess.run(
        command, input=spec, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    written = [Path(json.loads(line)) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or len(written) != len(jobs):
        failed = jobs[len(written)] if len(written) < len(jobs) else None
        raise RuntimeError(
            f"upstream cellucid {REFERENCE_VERSION} ({python}) failed with exit status "
            f"{result.returncode} writing job {failed!r} from {input_h5ad}\n"
            f"--- its stderr (end) ---\n{result.stderr[-6000:]}\n"
            f"--- its stdout (end) ---\n{result.stdout[-2000:]}"
        )
    return written


def write_reference_store(
    input_h5ad: Path, out: Path, format: str, *, backed: bool = False, **kwargs: Any
) -> Path:
    """Write one store with upstream 0.9.5: ``prepare(out, format=format, data=..., **kwargs)``.

    Parameters
    ----------
    input_h5ad
        The AnnData to read (``anndata.read_h5ad``, backed when ``backed``).
    out
        Where upstream writes; its suffix must fit ``format``.
    format
        ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``.
    **kwargs
        Upstream's other arguments (``dataset_id``, ``latent_key``, ``zarr_format``, ...), as
        JSON values.

    Returns
    -------
    Path
        The written store.
    """
    return write_reference_stores(input_h5ad, [(out, format, kwargs)], backed=backed)[0]
