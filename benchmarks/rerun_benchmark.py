"""Fresh export vs rerun vs resume of ``prepare_anndata`` on a generated atlas (#22 item 8).

Writes a CSR .h5ad with make_atlas.py into a temporary folder, then times, in one process
(imports and the first-run JIT compile done first by a small warm-up export):

- a fresh export;
- a rerun of the finished export, with its stamp (the shortcut) and without stamps;
- a resume: a child ``cellucid prepare`` is killed (SIGKILL) once KEEP gene blocks are
  committed; the folder is copied and resumed with the child's stamp and, the copy,
  without stamps (its checksums are then read again).

Each line gives the wall time and the engine's per-section seconds.

    python benchmarks/rerun_benchmark.py --cells 100000 --genes 3000 --keep 2
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_atlas import write_atlas  # noqa: E402

TIMINGS: dict[str, float] = {}


class _Sections(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        name, seconds = record.args
        TIMINGS[name] = TIMINGS.get(name, 0.0) + seconds


def timed(label: str, atlas: Path, out: Path, stamps: Path | None) -> float:
    """Export ``atlas`` to ``out`` in this process; print and return the wall time."""
    from cellucid import prepare_anndata

    os.environ["CELLUCID_STAMP_DIR"] = str(stamps) if stamps else ""
    TIMINGS.clear()
    start = time.perf_counter()
    prepare_anndata(str(atlas), str(out), quiet=True)
    seconds = time.perf_counter() - start
    sections = ", ".join(f"{k} {v:.2f}" for k, v in TIMINGS.items())
    print(f"{label:<44} {seconds:6.2f} s  [{sections}]", flush=True)
    return seconds


def killed_export(atlas: Path, out: Path, stamps: Path, keep: int) -> int:
    """Run ``cellucid prepare`` in a child, kill it at ``keep`` committed gene blocks."""
    env = dict(os.environ, CELLUCID_STAMP_DIR=str(stamps))
    command = [sys.executable, "-m", "cellucid", "prepare", str(atlas), str(out), "--quiet"]
    child = subprocess.Popen(command, env=env)
    blocks = out / ".cellucid-spill" / "genes"
    while child.poll() is None:
        if blocks.is_dir() and len(list(blocks.glob("*.npy"))) >= keep:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    child.wait()
    return len(list(blocks.glob("*.npy"))) if blocks.is_dir() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=3_000)
    parser.add_argument("--keep", type=int, default=2, help="gene blocks the killed run keeps")
    args = parser.parse_args()
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    logging.getLogger("cellucid.engine").addHandler(_Sections())
    logging.getLogger("cellucid.engine").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="cellucid-rerun-") as folder:
        work = Path(folder)
        atlas = write_atlas(work / "atlas.h5ad", args.cells, args.genes)
        stamps = work / "stamps"
        from cellucid.demo import write_demo_export

        write_demo_export(work / "warm-up", n_cells=2000, n_genes=50, quiet=True)
        timed("fresh export", atlas, work / "out", stamps)
        timed("rerun of the finished export, stamp", atlas, work / "out", stamps)
        timed("rerun of the finished export, no stamps", atlas, work / "out", None)
        kept = killed_export(atlas, work / "killed", stamps, args.keep)
        shutil.copytree(work / "killed", work / "copy", symlinks=True)
        timed(f"resume ({kept} gene blocks kept), stamp", atlas, work / "killed", stamps)
        timed(f"resume ({kept} gene blocks kept), no stamps", atlas, work / "copy", None)


if __name__ == "__main__":
    main()
