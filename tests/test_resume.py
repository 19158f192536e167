"""Interrupted exports: SIGKILL at several points, then resume to the same bytes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cellucid import prepare
from cellucid.demo import make_demo_arrays
from cellucid.errors import ExportWriteError
from cellucid.report import cli_terms

from .test_anndata_inputs import tree_digest

# A child process exports the demo atlas and kills itself with SIGKILL just before the
# N-th file whose name contains MARKER is renamed into place (or never, if N is 0).
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import cellucid.engine.files as files
    marker, nth, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seen = 0
    real_replace = os.replace

    def replace(src, dst):
        global seen
        if marker in os.path.basename(str(dst)):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    files.os.replace = replace
    from cellucid.demo import write_demo_export
    write_demo_export(out, n_cells=4000, n_genes=300, quiet=True)
    """
)


def run_child(out: Path, marker: str, nth: int) -> int:
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, marker, str(nth), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("full") / "export"
    assert run_child(out, "never", 0) == 0
    return tree_digest(out)


def complete_files_only(root: Path) -> None:
    """Every file under its final name decodes completely (gzip) or has its full size."""
    import gzip

    for path in root.rglob("*.gz"):
        if not path.name.startswith("."):
            gzip.decompress(path.read_bytes())


@pytest.mark.parametrize(
    "marker, nth",
    [
        (".values.u8.gz", 150),  # half-way through the gene files
        ("edges.dst", 1),  # between the two connectivity files
        ("var_manifest.json", 1),  # among the manifests, before the identity file
        ("dataset_identity.json", 1),  # the very last file
        (".codes.", 1),  # among the obs files, before any gene
    ],
)
def test_kill_then_resume_gives_identical_tree(tmp_path, uninterrupted, marker, nth, monkeypatch):
    out = tmp_path / "export"
    assert run_child(out, marker, nth) == -signal.SIGKILL
    # the killed run is visibly unfinished and left nothing truncated under a final name
    assert not (out / "dataset_identity.json").exists()
    complete_files_only(out)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    from cellucid.demo import write_demo_export

    write_demo_export(out, n_cells=4000, n_genes=300, quiet=True)
    assert tree_digest(out) == uninterrupted
    assert not list(out.rglob(".*.part-*"))
    assert not (out / ".cellucid-spill").exists()


def test_rerun_says_once_what_it_kept_and_what_it_wrote(tmp_path, capsys):
    from cellucid.demo import write_demo_export

    out = write_demo_export(tmp_path / "e", n_cells=600, n_genes=30, quiet=True)
    n_files = sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    # one gene file and one of the three connectivity files went missing
    min(p for p in (out / "var").iterdir()).unlink()
    min(p for p in (out / "connectivity").iterdir()).unlink()
    write_demo_export(out, n_cells=600, n_genes=30)
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "Kept" in line or "Skipping" in line] == [
        "↻ Kept 39 files of the earlier run of this export (same inputs and settings): "
        "2 points, 2 vector field, 6 obs and 29 gene files. Use force=True to write "
        "everything again."
    ]
    # the connectivity's files are written together: the two left are written again
    assert len([line for line in lines if line.startswith("✓ Wrote connectivity (")]) == 1
    assert len([line for line in lines if line.startswith("✓ Wrote 1 gene file (")]) == 1
    assert not [line for line in lines if line.startswith(("✓ Wrote 2D", "✓ Wrote vector"))]
    # the closing line counts both
    assert lines[-1].startswith(f"✓ Exported 600 cells × 30 genes ({n_files} files, ")
    assert f"; {n_files - 39} written, 39 kept) in " in lines[-1]


def test_rerun_that_keeps_every_file_says_so_in_cli_terms(tmp_path, capsys):
    from cellucid.demo import write_demo_export

    out = write_demo_export(tmp_path / "e", n_cells=600, n_genes=30, quiet=True)
    (out / "dataset_identity.json").unlink()  # unfinished: every data file is kept
    with cli_terms():
        write_demo_export(out, n_cells=600, n_genes=30)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" to ")[0] for line in lines if "Wrote" in line] == [
        "✓ Wrote obs manifest (4 fields: 2 continuous, 2 categorical)",
        "✓ Wrote var manifest (30 genes, 8-bit quantized)",
        "✓ Wrote dataset identity",
    ]
    # the connectivity runs in a thread of its own: counted there, and in the CLI's words
    assert [line for line in lines if "Kept" in line] == [
        "↻ Kept 43 files of the earlier run of this export (same inputs and settings): "
        "2 points, 2 vector field, 6 obs, 3 connectivity and 30 gene files. Use --force to "
        "write everything again."
    ]
    assert "force=True" not in "\n".join(lines)


def test_disk_full_names_the_folder_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import cellucid.engine.files as files

    arrays = make_demo_arrays(300, 10)
    real_open = open
    calls = {"n": 0}

    def failing_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode and ".part-" in str(path):
            calls["n"] += 1
            if calls["n"] == 4:
                handle.close()
                raise OSError(errno.ENOSPC, "No space left on device")
        return handle

    monkeypatch.setattr(files, "open", failing_open, raising=False)
    out = tmp_path / "export"
    with pytest.raises(ExportWriteError) as caught:
        prepare(
            latent_space=arrays["X_pca"],
            obs=arrays["obs"],
            X_umap_2d=arrays["X_umap_2d"],
            out_dir=out,
            quiet=True,
            compression=6,
        )
    assert "No space left" in str(caught.value) and str(out) in str(caught.value)
    assert not list(out.rglob(".*.part-*"))
    assert not (out / "dataset_identity.json").exists()
