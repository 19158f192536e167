"""Every command and code block of README.md and docs/*.md runs as written.

Each ```bash / ```python block (and each complete ``cellucid ...`` / ``python ...`` command
written inline) runs in a fresh folder that holds what a reader would have: ``atlas.h5ad``
and ``atlas.zarr`` (the demo atlas, with a tSNE, its velocity and an scVI space added) and
``exports/atlas`` exported from it. ``cellucid`` and ``python`` are this checkout's; HOME
is the folder. ``cellucid`` commands and Python blocks run in this process (through the
CLI's ``main``, and ``exec``) to keep the test fast; servers run as real processes, are
checked to be serving, then stopped with Ctrl+C.
Only the commands in SKIPPED do not run, each for the reason given.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`((?:cellucid|python) [^`]+)`")

#: command prefixes that never run here, and why
SKIPPED = {
    "pip install": "installs packages; the test runs the package as checked out",
    "python -m pytest": "runs this very test suite",
    "python -m sphinx": "the docs build runs on its own (CI, and the final check)",
    "python -m venv": "benchmark setup: a second environment with cellucid 0.0.9",
    "/tmp/ref/bin/pip": "benchmark setup: installs cellucid 0.0.9 from PyPI",
    "python benchmarks/": "benchmarks take minutes to hours",
    "/usr/bin/time": "benchmark of a 40,000 × 10,000 dense atlas",
    "ssh ": "needs a remote machine",
    "cellucid viewer download": "downloads the viewer build from GitHub",
}
#: code blocks that never run here (page, a line of the block), and why
SKIPPED_BLOCKS = {
    (
        "docs/notebooks.md",
        "viewer.wait_for_event(",
    ): "waits for events of a browser showing the viewer",
}
SERVE_WAIT = 60.0


@dataclass(frozen=True)
class Example:
    page: str
    number: int
    kind: str  # "bash" or "python"
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}-{self.number}-{self.kind}"


def _inline_command(text: str) -> bool:
    """A complete command: at least two arguments and no placeholder such as OUTDIR."""
    words = text.split()
    return len(words) >= 3 and not any(re.fullmatch(r"[A-Z_]{3,}", w) for w in words)


def collect() -> list[Example]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = str(page.relative_to(ROOT))
        blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]
        outside = FENCE.sub("", text)
        blocks += [
            ("bash", m.group(1)) for m in INLINE.finditer(outside) if _inline_command(m.group(1))
        ]
        found += [Example(name, i, kind, body) for i, (kind, body) in enumerate(blocks)]
    return found


def commands(script: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments and ``&&`` split."""
    joined = script.replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        result += [part.strip() for part in line.split("&&") if part.strip()]
    return result


def skip_reason(command: str) -> str | None:
    return next((why for prefix, why in SKIPPED.items() if command.startswith(prefix)), None)


EXAMPLES = collect()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from cellucid import make_demo_anndata, prepare_anndata
    from cellucid.demo import write_demo_export

    root = tmp_path_factory.mktemp("reader")
    adata = make_demo_anndata(n_cells=400, n_genes=25)
    adata.obsm["X_tsne"] = adata.obsm["X_umap"][:, ::-1] * 4
    adata.obsm["velocity_tsne"] = adata.obsm["velocity_umap"][:, ::-1] * 4
    adata.obsm["X_scvi"] = adata.obsm["X_pca"][:, :10]
    adata.write_h5ad(root / "atlas.h5ad")
    adata.write_zarr(root / "atlas.zarr")
    prepare_anndata(root / "atlas.h5ad", root / "exports" / "atlas", quiet=True)
    # what `cellucid demo exports/demo` (the quick start) leaves, for the pages that use it
    write_demo_export(root / "exports" / "demo", n_cells=3000, n_genes=200, quiet=True)
    shims = root.parent / f"{root.name}-bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    launcher = shims / "cellucid"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cellucid "$@"\n')
    launcher.chmod(0o755)
    return root


def environment(folder: Path, template: Path) -> dict[str, str]:
    shims = template.parent / f"{template.name}-bin"
    return os.environ | {
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(folder),
        "XDG_CACHE_HOME": str(folder / ".cache"),
        "CELLUCID_WEB_SOURCE_URL": "http://127.0.0.1:9",  # no network: fail fast
        "CELLUCID_WEB_APP_URL": "http://127.0.0.1:9",  # the current app's site too
        "BROWSER": "true",
        "PYTHONUNBUFFERED": "1",
    }


def run_server(
    argv: list[str], folder: Path, env: dict[str, str], stopped: tuple[int, ...] = (0, 130)
) -> None:
    """Start a command that serves until Ctrl+C; check it serves, then stop it."""
    process = subprocess.Popen(
        argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    deadline = time.monotonic() + SERVE_WAIT
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl+C" in line:
                break
        assert process.poll() is None, "".join(lines)
        assert any("Serving" in line for line in lines), "".join(lines)
    finally:
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        # read what the server prints while it stops: a child blocked on a full pipe would
        # never exit. Ctrl+C ends it at once even while its export runs (#21 item 10); a
        # process still there after a minute hangs, whatever the load
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            rest = process.communicate()[0]
            raise AssertionError(
                f"still running 60 s after Ctrl+C\n{''.join(lines)}{rest}"
            ) from None
        lines.append(rest or "")
        lines.append(f"(stopped {time.monotonic() - sent:.2f} s after Ctrl+C)")
    assert process.returncode in stopped, "".join(lines)


def run_cellucid(command: str) -> None:
    """A ``cellucid`` command through the CLI's own entry point, in this process (fast)."""
    from cellucid.cli import main

    argv = [os.path.expanduser(word) for word in shlex.split(command)[1:]]
    try:
        code = main(argv)
    except SystemExit as stop:  # --help
        code = stop.code
    assert code in (0, None), command


def run_command(command: str, folder: Path, env: dict[str, str]) -> None:
    if command.startswith("cellucid serve"):
        run_server(["bash", "-c", command], folder, env)
        return
    if command.startswith("cellucid ") and "|" not in command:  # a pipeline runs in bash
        run_cellucid(command)
        return
    result = subprocess.run(
        ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def run_python(code: str, folder: Path, env: dict[str, str]) -> None:
    if "blocks until Ctrl+C" in code:
        # in Python, Ctrl+C ends serve() with a KeyboardInterrupt, so the process dies of it
        argv = [sys.executable, "-c", code]
        run_server(argv, folder, env, stopped=(0, 130, -signal.SIGINT))
        return
    exec(compile(code, "<docs example>", "exec"), {"__name__": "__docs__"})


def test_examples_are_found():
    kinds = {(e.page, e.kind) for e in EXAMPLES}
    assert ("README.md", "python") in kinds and ("docs/serving.md", "bash") in kinds
    every = [c for e in EXAMPLES if e.kind == "bash" for c in commands(e.text)]
    # a skip entry that no command or block needs any more must go
    assert {p for p in SKIPPED if any(c.startswith(p) for c in every)} == set(SKIPPED)
    used = {
        (e.page, s) for e in EXAMPLES for (p, s) in SKIPPED_BLOCKS if e.page == p and s in e.text
    }
    assert used == set(SKIPPED_BLOCKS)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(example: Example, template: Path, tmp_path: Path, monkeypatch):
    folder = tmp_path / "reader"
    shutil.copytree(template, folder)
    env = environment(folder, template)
    monkeypatch.chdir(folder)
    for name in ("HOME", "XDG_CACHE_HOME", "CELLUCID_WEB_SOURCE_URL"):
        monkeypatch.setenv(name, env[name])
    reason = next(
        (why for (p, s), why in SKIPPED_BLOCKS.items() if p == example.page and s in example.text),
        None,
    )
    if reason is not None:
        pytest.skip(reason)
    if example.kind == "python":
        run_python(example.text, folder, env)
        return
    to_run = [c for c in commands(example.text) if skip_reason(c) is None]
    if not to_run:
        pytest.skip("; ".join(sorted({skip_reason(c) for c in commands(example.text)})))
    for command in to_run:
        run_command(command, folder, env)
