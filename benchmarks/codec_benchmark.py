"""Gene-piece codecs on realistic sparse columns: speed per core and output size.

Columns look like a single-cell atlas' genes: detection rates log-normal around 2.5 %
(some genes at 30-60 %), log-normal counts, quantized per gene with its own min/max
(8 or 16 bit) or kept float32. Each column is cut into pieces of ``--piece-cells`` cells,
as the exporter does, and every codec compresses the same pieces on one thread.

    python benchmarks/codec_benchmark.py --cells 300000 --genes 200
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable

import numpy as np
from zlib_ng import zlib_ng

from cellucid.sinks.folder.format.gzip_pieces import compress_piece
from cellucid.sinks.folder.format.quantize import quantize_rows
from cellucid.sinks.folder.format.sparse_deflate import compress_column_piece, deflate_column

COMPILE_SNIPPET = (
    "import time, numpy as np; t = time.perf_counter();"
    "from cellucid.sinks.folder.format.sparse_deflate import deflate_column;"
    "[deflate_column(np.zeros(9, dtype=d), 0) for d in (np.uint8, np.uint16, np.float32)];"
    "print(time.perf_counter() - t)"
)


def make_columns(cells: int, genes: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Encoded gene-major columns (genes x cells) and each gene's background item."""
    rng = np.random.default_rng(seed)
    rates = np.clip(np.exp(rng.normal(np.log(0.025), 1.3, genes)), 2e-4, 0.6)
    values = np.zeros((genes, cells), dtype=np.float32)
    for g, rate in enumerate(rates):
        hit = rng.random(cells) < rate
        values[g, hit] = np.exp(rng.normal(rng.uniform(0, 2), 0.8, int(hit.sum())))
    if dtype == "f32":
        return values, np.zeros(genes, dtype=np.float32)
    bits = 8 if dtype == "u8" else 16
    lo = np.zeros((genes, 1))
    hi = np.maximum(values.max(axis=1, keepdims=True).astype(np.float64), 1.0)
    codes = quantize_rows(values, lo, hi, bits)
    return codes, quantize_rows(np.zeros((genes, 1)), lo, hi, bits)[:, 0]


def codecs(level_sparse: int) -> dict[str, Callable[[np.ndarray, object], int]]:
    """Name -> function compressing one piece (with its background) and returning bytes."""

    def zng(level: int) -> Callable[[np.ndarray, object], int]:
        return lambda piece, _bg: len(compress_piece(memoryview(piece).cast("B"), level).data)

    def cpython(piece: np.ndarray, _bg: object) -> int:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return len(data) + 0 * zlib.crc32(piece)

    return {
        "sparse encoder (deflate_column + crc32)": lambda piece, bg: (
            len(deflate_column(piece, bg)[0]) + 0 * zlib_ng.crc32(piece)
        ),
        "gene pieces as exported (with zlib-ng fallback)": lambda piece, bg: len(
            compress_column_piece(piece, bg, level_sparse).data
        ),
        "zlib-ng level 1": zng(1),
        "zlib-ng level 6": zng(6),
        "zlib-ng level 9": zng(9),
        "CPython zlib level 6": cpython,
    }


def compile_seconds(cache_dir: str) -> float:
    """Seconds to import and first-call the kernels in a fresh process with this cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300_000)
    parser.add_argument("--genes", type=int, default=200)
    parser.add_argument("--piece-cells", type=int, default=16384)
    parser.add_argument("--dtype", choices=["u8", "u16", "f32"], nargs="+", default=["u8"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        cold = compile_seconds(cache)
        warm = compile_seconds(cache)
    print(f"numba first call: {cold:.1f} s compiling (cold cache), {warm:.2f} s from cache\n")
    for dtype in args.dtype:
        columns, backgrounds = make_columns(args.cells, args.genes, dtype, args.seed)
        share = float(np.mean(columns != backgrounds[:, None]))
        dense_mb = columns.nbytes / 1e6
        print(
            f"{dtype}: {args.genes} genes x {args.cells:,} cells in pieces of "
            f"{args.piece_cells:,}, {dense_mb:.0f} MB dense, {share:.1%} non-background"
        )
        print("| codec | MB/s per core | output MB | ratio |")
        print("| --- | ---: | ---: | ---: |")
        pieces = [
            (np.ascontiguousarray(columns[g, start : start + args.piece_cells]), backgrounds[g])
            for g in range(args.genes)
            for start in range(0, args.cells, args.piece_cells)
        ]
        for name, codec in codecs(6).items():
            codec(pieces[0][0], pieces[0][1])  # warm-up (and JIT load)
            start = time.perf_counter()
            size = sum(codec(piece, bg) for piece, bg in pieces)
            seconds = time.perf_counter() - start
            print(
                f"| {name} | {dense_mb / seconds:,.0f} | {size / 1e6:.2f} | "
                f"{dense_mb * 1e6 / size:.1f} |"
            )
        print()


if __name__ == "__main__":
    main()
