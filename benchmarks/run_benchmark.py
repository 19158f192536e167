"""Benchmark `cellucid prepare` on synthetic atlases generated on the fly.

For each size it writes a CSR .h5ad (see make_atlas.py) into a temporary folder, exports it
with 8-bit genes, gzip 6, connectivities, 2D + 3D embeddings and one vector field, and
reports wall time, peak RSS of the whole process (GNU time) and output size. With
``--reference-python`` it also runs cellucid 0.0.9 from another virtual environment on the
same file (loaded in memory, as 0.0.9 requires).

    python benchmarks/run_benchmark.py --size 100000x5000 --size 300000x10000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

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


# runs `cellucid ...` with the engine's per-section timings logged to stderr
OURS = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s'); "
    "from cellucid.cli import main; sys.exit(main(sys.argv[1:]))"
)
SECTION_LINE = re.compile(r"^cellucid\.engine section ([\w.]+): ([\d.]+) s$", re.M)


def timed(command: list[str]) -> tuple[float, float, dict[str, float]]:
    """Run under GNU time; returns (wall seconds, peak RSS in MB, seconds per section)."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"command failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    sections = {name: float(value) for name, value in SECTION_LINE.findall(result.stderr)}
    return hours * 3600 + minutes * 60 + seconds, int(rss.group(1)) / 1024, sections


WARM_BUFFER = bytearray(1 << 24)


def warm(path: Path) -> None:
    """Read ``path`` once so that the next run finds it in the page cache.

    Each tool runs right after this: whichever ran first would otherwise pay for reading
    the atlas from disk and the other would find it cached.
    """
    with open(path, "rb") as handle:
        while handle.readinto(WARM_BUFFER):
            pass


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


def main() -> None:
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
    args = parser.parse_args()
    sizes = args.size or ["100000x5000"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cellucid-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'atlas':>16} {'tool':>16} {'wall s':>8} {'peak RSS MB':>12} {'output GB':>10} "
        f"{'no weights':>10}"
    )
    written: list[Path] = []
    try:
        for size in sizes:
            cells, genes = (int(v) for v in size.lower().split("x"))
            suffix = "" if args.neighbours == 15 else f"_k{args.neighbours}"
            h5ad = workdir / f"atlas_{cells}x{genes}{suffix}.h5ad"
            if not h5ad.exists():
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
                        str(args.neighbours),
                    ],
                    check=True,
                )
            out = fresh_folder(workdir / f"export_{cells}x{genes}")
            written.append(out)
            command = [
                sys.executable,
                "-c",
                OURS,
                "prepare",
                str(h5ad),
                str(out),
                "--force",
                "--quiet",
                "--compression",
                "6",
                "--var-quantization",
                "8",
                *args.extra.split(),
            ]
            warm(h5ad)
            wall, rss, sections = timed(command)
            print(
                f"{size:>16} {'cellucid (ours)':>16} {wall:8.1f} {rss:12.0f} "
                f"{folder_size(out):10.3f} {folder_size(out, WEIGHTS):10.3f}",
                flush=True,
            )
            # the connectivity runs beside the other sections: its time is inside theirs; the
            # log names two "genes" steps (pass one, then the files), the dict keeps the second
            rest = wall - sum(
                v for k, v in sections.items() if "." not in k and k != "connectivity"
            )
            phases = ", ".join(f"{k} {v:.1f}" for k, v in sections.items())
            print(f"{'':>16} phases (s): start-up, checks and pass one {rest:.1f}, {phases}")
            if args.reference_python:
                ref_out = fresh_folder(workdir / f"reference_{cells}x{genes}")
                written.append(ref_out)
                warm(h5ad)
                wall, rss, _ = timed(
                    [args.reference_python, "-c", REFERENCE_SCRIPT, str(h5ad), str(ref_out)]
                )
                print(
                    f"{size:>16} {'cellucid 0.0.9':>16} {wall:8.1f} {rss:12.0f} "
                    f"{folder_size(ref_out):10.3f} {folder_size(ref_out, WEIGHTS):10.3f}",
                    flush=True,
                )
    finally:
        for folder in written:
            shutil.rmtree(folder, ignore_errors=True)
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
