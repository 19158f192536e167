"""Benchmark `cellucid prepare` on synthetic atlases generated on the fly.

For each size it writes a CSR .h5ad (see make_atlas.py) into a temporary folder, exports it
with 8-bit genes, gzip 6, connectivities, 2D + 3D embeddings and one vector field, and
reports wall time, peak RSS of the whole process (GNU time) and output size. With
``--reference-python`` it also runs cellucid 0.0.9 from another virtual environment on the
same file (loaded in memory, as 0.0.9 requires).

Each run is measured in the conditions of ``--conditions`` (default both): ``bench`` reads
the input once beforehand and writes a folder never used; ``user`` does not pre-read the
input (its cached pages are dropped) and writes right after deleting the previous export
at the same path, as a user re-running an export meets. After each of our runs the phase
table of the whole process is printed (see phases.py): start-up to the first byte read,
reading obs/var, checks, each section, pass one, blocks, assembly, and exit.

    python benchmarks/run_benchmark.py --size 100000x5000 --size 300000x10000
    python benchmarks/run_benchmark.py --size 2000x300 --conditions user   # a quick look
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from phases import CHILD, format_table, phase_table

HERE = Path(__file__).resolve().parent

REFERENCE_SCRIPT = textwrap.dedent(
    """
    import sys, anndata as ad
    from cellucid import prepare
    a = ad.read_h5ad(sys.argv[1])
    prepare(latent_space=a.obsm["X_pca"], obs=a.obs, var=a.var, gene_expression=a.X,
            connectivities=a.obsp["connectivities"], out_dir=sys.argv[2],
            X_umap_2d=a.obsm["X_umap"], X_umap_3d=a.obsm["X_umap_3d"],
            vector_fields={"velocity_umap_2d": a.obsm["velocity_umap"]},
            var_quantization=8, compression=6, force=True)
    """
)


@dataclass(frozen=True)
class Run:
    """One timed process: wall seconds (spawn to exit), peak RSS and its stderr."""

    wall: float
    rss_mb: float
    log: str
    spawn: float
    exited: float


def timed(command: list[str]) -> Run:
    """Run under GNU time (for the peak RSS); the wall time is taken here, around the spawn."""
    spawn = time.time()
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    exited = time.time()
    if result.returncode != 0:
        sys.exit(f"command failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return Run(exited - spawn, int(rss.group(1)) / 1024, result.stderr, spawn, exited)


WARM_BUFFER = bytearray(1 << 24)


def warm(path: Path) -> None:
    """Read ``path`` once so that the next run finds it in the page cache.

    Each tool runs right after this: whichever ran first would otherwise pay for reading
    the atlas from disk and the other would find it cached.
    """
    with open(path, "rb") as handle:
        while handle.readinto(WARM_BUFFER):
            pass


def evict(path: Path) -> None:
    """Ask the kernel to drop ``path``'s cached pages (no root needed for clean pages).

    Best effort: pages another process maps stay, and without posix_fadvise nothing changes.
    """
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def folder_size(path: Path, skip: str | None = None) -> float:
    """GB of the files under ``path``, leaving out those whose name contains ``skip``."""
    files = (p for p in path.rglob("*") if p.is_file() and not (skip and skip in p.name))
    return sum(p.stat().st_size for p in files) / 1e9


# cellucid 0.0.9 writes no edge weights file: sizes are compared without ours too
WEIGHTS = "weights"


def fresh_folder(base: Path) -> Path:
    """A folder name no earlier run used: exports are removed only at the end.

    ext4 avoids reusing inodes freed in the last few seconds, so creating ten thousand
    gene files right after deleting ten thousand others scans past them (about 1 CPU-s at
    300k x 10k); removing each export before the next tool's run charged that to it.
    """
    index = 0
    while base.with_name(f"{base.name}_{index}").exists():
        index += 1
    return base.with_name(f"{base.name}_{index}")


#: the conditions a run can be measured in
CONDITIONS = {
    "bench": "input pre-read (page cache warm), export into a folder never used",
    "user": "no pre-read (input's cached pages dropped), export right after deleting the "
    "previous export at the same path",
}


def _parse_conditions(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = sorted(set(names) - set(CONDITIONS))
    if unknown or not names:
        choose = sorted(CONDITIONS)
        sys.exit(f"--conditions: unknown {unknown or 'empty list'}; choose from {choose}")
    return names


def _make_atlas(h5ad: Path, cells: int, genes: int, neighbours: int) -> None:
    if h5ad.exists():
        return
    subprocess.run(
        [
            sys.executable,
            str(HERE / "make_atlas.py"),
            str(h5ad),
            "--cells",
            str(cells),
            "--genes",
            str(genes),
            "--neighbours",
            str(neighbours),
        ],
        check=True,
    )


def _in_condition(
    condition: str, command: list[str], h5ad: Path, out: Path, *, keep_cache: bool
) -> Run:
    """Run ``command`` (which writes ``out``) in ``condition``; see :data:`CONDITIONS`."""
    if condition == "bench":
        warm(h5ad)
        return timed(command)
    if not out.exists():  # a previous export to delete: written now, not timed
        subprocess.run(command, capture_output=True, check=True)
    shutil.rmtree(out)
    if not keep_cache:
        evict(h5ad)
    return timed(command)


def _ours(h5ad: Path, out: Path, extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        CHILD,
        "prepare",
        str(h5ad),
        str(out),
        "--force",
        "--quiet",
        "--compression",
        "6",
        "--var-quantization",
        "8",
        *extra.split(),
    ]


def _row(size: str, tool: str, condition: str, run: Run, out: Path) -> str:
    return (
        f"{size:>16} {tool:>16} {condition:>9} {run.wall:8.1f} {run.rss_mb:12.0f} "
        f"{folder_size(out):10.3f} {folder_size(out, WEIGHTS):10.3f}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="CELLSxGENES",
        help="atlas size, e.g. 300000x10000 (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="where to put data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep generated files")
    parser.add_argument("--reference-python", help="python of a venv with cellucid==0.0.9")
    parser.add_argument("--extra", default="", help="extra flags for cellucid prepare")
    parser.add_argument(
        "--neighbours",
        type=int,
        default=15,
        help="graph neighbours per cell (1M cells need 10: the viewer refuses over ~11M edges)",
    )
    parser.add_argument(
        "--conditions",
        default="bench,user",
        help="comma-separated, run in this order: "
        + "; ".join(f"{k}: {v}" for k, v in CONDITIONS.items()),
    )
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="user condition: do not drop the input's cached pages (only skip the pre-read)",
    )
    return parser


def _one_size(args: argparse.Namespace, size: str, workdir: Path, written: list[Path]) -> None:
    cells, genes = (int(v) for v in size.lower().split("x"))
    suffix = "" if args.neighbours == 15 else f"_k{args.neighbours}"
    h5ad = workdir / f"atlas_{cells}x{genes}{suffix}.h5ad"
    _make_atlas(h5ad, cells, genes, args.neighbours)
    out = fresh_folder(workdir / f"export_{cells}x{genes}")
    ref_out = fresh_folder(workdir / f"reference_{cells}x{genes}")
    written += [out, ref_out]
    for condition in _parse_conditions(args.conditions):
        command = _ours(h5ad, out, args.extra)
        run = _in_condition(condition, command, h5ad, out, keep_cache=args.keep_cache)
        print(_row(size, "cellucid (ours)", condition, run, out), flush=True)
        print(format_table(phase_table(run.log, run.spawn, run.exited), run.wall), flush=True)
        if args.reference_python:
            command = [args.reference_python, "-c", REFERENCE_SCRIPT, str(h5ad), str(ref_out)]
            run = _in_condition(condition, command, h5ad, ref_out, keep_cache=args.keep_cache)
            print(_row(size, "cellucid 0.0.9", condition, run, ref_out), flush=True)


def main() -> None:
    args = _parser().parse_args()
    _parse_conditions(args.conditions)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cellucid-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'atlas':>16} {'tool':>16} {'condition':>9} {'wall s':>8} {'peak RSS MB':>12} "
        f"{'output GB':>10} {'no weights':>10}"
    )
    written: list[Path] = []
    try:
        for size in args.size or ["100000x5000"]:
            _one_size(args, size, workdir, written)
    finally:
        for folder in written:
            shutil.rmtree(folder, ignore_errors=True)
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
