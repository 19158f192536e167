"""Time and peak memory of compute_transition_drift on a synthetic CellRank-like matrix.

A random row-stochastic CSR matrix with ``--neighbours`` entries per row is written to an
HDF5 file (anndata's sparse encoding); each mode then runs in its own process so that its
peak RSS is its own:

- ``memory``: the CSR matrix loaded in memory (as ``adata.obsp[...]`` would be);
- ``backed``: read from the file in blocks of rows (``anndata.io.sparse_dataset``).

    python benchmarks/drift_benchmark.py --cells 200000 --neighbours 30
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_matrix(path: Path, n_cells: int, neighbours: int) -> None:
    """A random row-stochastic CSR matrix and a 2-D embedding, written to ``path``."""
    import anndata as ad
    import h5py
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    indices = rng.integers(0, n_cells, size=n_cells * neighbours, dtype=np.int64)
    data = rng.random(n_cells * neighbours).astype(np.float32)
    indptr = np.arange(0, n_cells * neighbours + 1, neighbours, dtype=np.int64)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n_cells, n_cells))
    matrix = sp.diags(1 / np.asarray(matrix.sum(axis=1)).ravel()) @ matrix
    with h5py.File(path, "w") as f:
        ad.io.write_elem(f, "T_fwd", matrix.tocsr())
        f["X_umap"] = rng.normal(size=(n_cells, 2)).astype(np.float32)


def run_mode(path: Path, mode: str, chunk_size: int) -> None:
    """Compute the drift from the file and print time and peak RSS of this process."""
    import anndata as ad
    import h5py

    from cellucid import compute_transition_drift

    with h5py.File(path, "r") as f:
        umap = f["X_umap"][...]
        matrix = ad.io.sparse_dataset(f["T_fwd"])
        if mode == "memory":
            matrix = matrix.to_memory()
        start = time.perf_counter()
        drift = compute_transition_drift(matrix, umap, chunk_size=chunk_size)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{mode:>6}: {drift.shape[0]} cells, {seconds:.2f} s, peak RSS {peak_mb:.0f} MB, "
        f"mean |drift| {float(np.abs(drift).mean()):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200_000)
    parser.add_argument("--neighbours", type=int, default=30)
    parser.add_argument("--chunk-size", type=int, default=16_384)
    parser.add_argument("--mode", choices=["write", "memory", "backed"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "write":
        write_matrix(args.file, args.cells, args.neighbours)
        return
    if args.mode:
        run_mode(args.file, args.mode, args.chunk_size)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transition.h5"
        # in its own process too: a child inherits the peak RSS of the process it forks from
        sizes = ["--cells", str(args.cells), "--neighbours", str(args.neighbours)]
        command = [sys.executable, __file__, "--mode", "write", "--file", str(path), *sizes]
        subprocess.run(command, check=True)
        size_mb = path.stat().st_size / 2**20
        dense_gb = args.cells**2 * 4 / 2**30
        print(f"matrix file {size_mb:.0f} MB (dense float32 would be {dense_gb:.0f} GB)")
        for mode in ("memory", "backed"):
            command = [sys.executable, __file__, "--mode", mode, "--file", str(path)]
            command += ["--chunk-size", str(args.chunk_size)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
