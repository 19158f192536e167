"""Safe under concurrency, tampering and changed inputs: real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cellucid import make_demo_anndata, prepare, prepare_anndata
from cellucid.engine.lock import LOCK_NAME, export_lock
from cellucid.errors import DamagedRecordError, ExportMismatchError
from cellucid.sinks.folder.state import RECORD_NAME, sample_rows

from .test_anndata_inputs import tree_digest

SRC = str(Path(__file__).parents[1] / "src")
N_CELLS, N_GENES = 3000, 120

# A child exports the arrays saved in DATA (an .npz) into OUT. With a MARKER it stops
# just before the N-th file whose name holds MARKER is renamed into place: "wait" waits
# there until the file GO exists, "kill" kills itself with SIGKILL.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np, scipy.sparse as sp
    import cellucid.engine.files as files
    from cellucid import prepare
    data, out, action, marker, nth, go = sys.argv[1:7]
    seen = 0
    real_replace = os.replace

    def replace(src, dst):
        global seen
        if marker in os.path.basename(str(dst)):
            seen += 1
            if seen == int(nth) and action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            while seen == int(nth) and action == "wait" and not os.path.exists(go):
                time.sleep(0.05)
        real_replace(src, dst)

    files.os.replace = replace
    arrays = np.load(data)
    X = sp.csr_matrix(arrays["X"])
    prepare(
        latent_space=arrays["latent"], X_umap_2d=arrays["umap"], gene_expression=X,
        var=__import__("pandas").DataFrame(index=[f"g{i}" for i in range(X.shape[1])]),
        out_dir=out, compression=6, var_quantization=8, quiet=True, progress=False,
    )
    """
)


def save_data(path: Path, change_row: int | None = None) -> Path:
    rng = np.random.default_rng(3)
    matrix = sp.random(N_CELLS, N_GENES, density=0.2, format="csr", random_state=4).toarray()
    if change_row is not None:
        matrix[change_row, :5] += 1.0
    np.savez(
        path,
        X=matrix.astype(np.float32),
        latent=rng.normal(size=(N_CELLS, 5)),
        umap=rng.normal(size=(N_CELLS, 2)),
    )
    return path


def start_child(data: Path, out: Path, action: str = "none", marker: str = "-", nth: int = 0):
    env = dict(os.environ, PYTHONPATH=SRC, SOURCE_DATE_EPOCH="1700000000")
    go = out.parent / f"{out.name}.go"
    command = [sys.executable, "-c", CHILD, str(data), str(out), action, marker, str(nth), str(go)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_holder(out: Path, pid: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((out / LOCK_NAME).read_text() or "{}").get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("the first export never took the lock")


def test_second_export_into_one_folder_is_refused_at_once(tmp_path):
    data = save_data(tmp_path / "data.npz")
    # same folder name in both places: the dataset name comes from it
    solo_out, shared = tmp_path / "solo" / "export", tmp_path / "shared" / "export"
    solo_out.parent.mkdir()
    shared.parent.mkdir()
    solo = start_child(data, solo_out)
    first = start_child(data, shared, "wait", ".values.u8.gz", 40)
    wait_for_holder(shared, first.pid)
    second = start_child(data, shared)
    _, error = second.communicate(timeout=120)
    assert second.returncode == 1
    assert "ExportLockedError" in error
    assert f"is being written by process {first.pid} on host" in error
    (shared.parent / "export.go").write_text("go")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert solo.wait(timeout=120) == 0, solo.stderr.read()
    assert tree_digest(shared) == tree_digest(solo_out)


def test_changed_row_after_a_kill_is_refused_on_resume(tmp_path):
    data = save_data(tmp_path / "data.npz")
    out = tmp_path / "export"
    child = start_child(data, out, "kill", ".values.u8.gz", 60)
    assert child.wait(timeout=120) == -signal.SIGKILL
    # the dead child's lock file goes with the next run that takes the lock (it holds no data)
    before = sorted(p.name for p in out.rglob("*") if p.name != LOCK_NAME)
    row = next(r for r in range(N_CELLS) if r not in set(sample_rows(N_CELLS).tolist()))
    save_data(data, change_row=row)
    arrays = np.load(data)
    arguments = {
        "latent_space": arrays["latent"],
        "X_umap_2d": arrays["umap"],
        "gene_expression": sp.csr_matrix(arrays["X"]),
        "var": __import__("pandas").DataFrame(index=[f"g{i}" for i in range(N_GENES)]),
        "out_dir": out,
        "compression": 6,
        "var_quantization": 8,
        "quiet": True,
    }
    # the dead child's lock does not block the rerun, but its files are not mixed with new ones
    with pytest.raises(ExportMismatchError, match=r"gene_expression changed in rows 0-"):
        prepare(**arguments)
    assert sorted(p.name for p in out.rglob("*")) == before
    prepare(**arguments, force=True)
    assert (out / "dataset_identity.json").exists()


@pytest.fixture
def small_export(tmp_path):
    rng = np.random.default_rng(0)
    arguments = {
        "latent_space": rng.normal(size=(30, 3)),
        "X_umap_2d": rng.normal(size=(30, 2)),
        "out_dir": tmp_path / "export",
        "quiet": True,
    }
    prepare(**arguments)
    return arguments


@pytest.mark.parametrize("relative", ["../outside.txt", "ABSOLUTE", "obs/../../outside.txt"])
def test_crafted_record_deletes_nothing_outside(tmp_path, small_export, relative):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    listed = str(outside) if relative == "ABSOLUTE" else relative
    record_path = small_export["out_dir"] / RECORD_NAME
    record = json.loads(record_path.read_text())
    record["files"].append(listed)
    record_path.write_text(json.dumps(record))
    for force in (False, True):
        with pytest.raises(DamagedRecordError, match=f"lists {listed!r}, which is not a file"):
            prepare(**small_export, force=force)
    assert outside.read_text() == "keep me"
    assert (small_export["out_dir"] / "points_2d.bin").exists()


def test_damaged_record_suggests_force(small_export):
    record_path = small_export["out_dir"] / RECORD_NAME
    record_path.write_text('{"fingerprint": ')
    with pytest.raises(DamagedRecordError, match=r"is damaged or unreadable.*force=True"):
        prepare(**small_export)
    prepare(**small_export, force=True)
    assert json.loads(record_path.read_text())["complete"] is True


@pytest.mark.parametrize(
    "option, value, fragment",
    [
        ("obs_binary_dirname", "../elsewhere", "single file or folder name"),
        ("var_binary_dirname", "/tmp/abs", "single file or folder name"),
        ("connectivity_binary_dirname", "a\\b", "single file or folder name"),
        ("obs_manifest_filename", "..", "hidden name"),
        ("connectivity_manifest_filename", "n" * 300, "longer than the file system allows"),
        ("obs_binary_dirname", "var", "both 'var'"),
        ("obs_manifest_filename", ".cellucid-export.json", "hidden name"),
        ("obs_binary_dirname", "vectors", "a name the export uses itself"),
        ("var_manifest_filename", "points_2d.bin", "a name the export uses itself"),
    ],
)
def test_bad_names_are_refused_before_writing(tmp_path, option, value, fragment):
    out = tmp_path / "export"
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        prepare(
            latent_space=np.ones((10, 2)),
            X_umap_2d=np.random.default_rng(0).normal(size=(10, 2)),
            out_dir=out,
            quiet=True,
            **{option: value},
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_the_holder_and_a_damaged_record_in_one_line(tmp_path):
    atlas = tmp_path / "atlas.h5ad"
    make_demo_anndata(n_cells=300, n_genes=20).write_h5ad(atlas)
    out = tmp_path / "export"
    out.mkdir()
    command = [sys.executable, "-m", "cellucid", "prepare", str(atlas), str(out), "-q"]
    env = dict(os.environ, PYTHONPATH=SRC)
    with export_lock(out):
        held = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert held.returncode == 1
    assert held.stderr.startswith(f"cellucid prepare: error: {out} is being written by process")
    assert len(held.stderr.strip().splitlines()) == 1
    assert not (out / RECORD_NAME).exists()
    (out / RECORD_NAME).write_text("not json")
    damaged = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert damaged.returncode == 1
    assert "is damaged or unreadable" in damaged.stderr and "--force" in damaged.stderr
    prepare_anndata(atlas, out, force=True, quiet=True, progress=False)
    assert (out / "dataset_identity.json").exists()


def test_disk_full_in_a_spill_file_names_the_folder(tmp_path, monkeypatch):
    import errno

    import cellucid.sinks.folder.gene_files as genes

    def full(path, mode="r", *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(genes, "open", full, raising=False)
    rng = np.random.default_rng(0)
    out = tmp_path / "export"
    with pytest.raises(OSError) as caught:
        prepare(
            latent_space=rng.normal(size=(50, 3)),
            X_umap_2d=rng.normal(size=(50, 2)),
            gene_expression=sp.random(50, 8, density=0.3, format="csr", random_state=0),
            var=__import__("pandas").DataFrame(index=[f"g{i}" for i in range(8)]),
            out_dir=out,
            quiet=True,
        )
    assert type(caught.value).__name__ == "ExportWriteError"
    assert f"No space left on the device while writing the export in {out}" in str(caught.value)
