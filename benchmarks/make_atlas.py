"""Write a synthetic atlas as a CSR .h5ad, chunk by chunk, never holding X in memory.

About 6% of the values are non-zero (log-normalised counts, float32); obs has a
categorical cell type, a categorical batch and continuous columns; obsm has a 2D and a
3D UMAP, a 50-dimensional PCA and a 2D velocity field; obsp has a 15-neighbour graph.

    python benchmarks/make_atlas.py OUT.h5ad --cells 300000 --genes 10000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

ROWS_PER_CHUNK = 20000


def _expression_chunk(rng: np.random.Generator, rows: int, genes: int, density: float):
    nnz_per_row = rng.binomial(genes, density, rows)
    indptr = np.concatenate([[0], np.cumsum(nnz_per_row)]).astype(np.int64)
    # genes drawn with a skewed popularity, sorted and de-duplicated per row
    cols = (rng.power(0.6, int(indptr[-1])) * genes).astype(np.int32)
    matrix = sp.csr_matrix((np.ones(len(cols), np.float32), cols, indptr), shape=(rows, genes))
    matrix.sum_duplicates()
    matrix.data = np.log1p(rng.gamma(1.5, 2.0, matrix.nnz)).astype(np.float32)
    return matrix


def write_atlas(
    path: Path,
    n_cells: int,
    n_genes: int,
    seed: int = 0,
    density: float = 0.06,
    dense: bool = False,
    neighbours: int = 15,
):
    """Write the atlas to ``path`` and return it."""
    rng = np.random.default_rng(seed)
    n_types = 30
    labels = rng.integers(0, n_types, n_cells)
    centers = rng.normal(0, 10, (n_types, 3))
    umap3 = (centers[labels] + rng.normal(0, 1.5, (n_cells, 3))).astype(np.float32)
    pca = (rng.normal(0, 3, (n_types, 50))[labels] + rng.normal(0, 1, (n_cells, 50))).astype(
        np.float32
    )
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical.from_codes(labels, [f"type_{i}" for i in range(n_types)]),
            "batch": pd.Categorical.from_codes(
                rng.integers(0, 8, n_cells), [f"b{i}" for i in range(8)]
            ),
            "n_genes": rng.integers(200, 5000, n_cells),
            "total_counts": rng.gamma(2, 2000, n_cells).astype(np.float32),
        },
        index=pd.Index([f"c{i}" for i in range(n_cells)]),
    )
    var = pd.DataFrame(index=pd.Index([f"gene_{i}" for i in range(n_genes)]))
    k = neighbours
    # neighbours among nearby cells of the same type: a realistic, mostly symmetric graph
    order = np.argsort(labels, kind="stable")
    position = np.empty(n_cells, np.int64)
    position[order] = np.arange(n_cells)
    offsets = rng.integers(-50, 51, (n_cells, k))
    neighbour_pos = np.clip(position[:, None] + offsets, 0, n_cells - 1)
    neighbours = order[neighbour_pos].ravel()
    rows = np.repeat(np.arange(n_cells), k)
    graph = sp.csr_matrix(
        (rng.random(len(rows)).astype(np.float32), (rows, neighbours)), shape=(n_cells, n_cells)
    )
    graph.setdiag(0)
    graph.eliminate_zeros()
    skeleton = ad.AnnData(
        obs=obs,
        var=var,
        obsm={
            "X_umap": umap3[:, :2].copy(),
            "X_umap_3d": umap3,
            "X_pca": pca,
            "velocity_umap": rng.normal(0, 0.1, (n_cells, 2)).astype(np.float32),
        },
        obsp={"connectivities": graph},
    )
    skeleton.write_h5ad(path)
    with h5py.File(path, "a") as f:
        if "X" in f:
            del f["X"]
        if dense:
            x = f.create_dataset(
                "X", (n_cells, n_genes), np.float32, chunks=(min(n_cells, 1024), min(n_genes, 256))
            )
            x.attrs["encoding-type"] = "array"
            x.attrs["encoding-version"] = "0.2.0"
            for start in range(0, n_cells, ROWS_PER_CHUNK):
                rows_here = min(ROWS_PER_CHUNK, n_cells - start)
                x[start : start + rows_here] = _expression_chunk(
                    rng, rows_here, n_genes, density
                ).toarray()
            return path
        group = f.create_group("X")
        group.attrs["encoding-type"] = "csr_matrix"
        group.attrs["encoding-version"] = "0.1.0"
        group.attrs["shape"] = np.array([n_cells, n_genes], dtype=np.int64)
        data = group.create_dataset("data", (0,), np.float32, maxshape=(None,), chunks=(1 << 20,))
        indices = group.create_dataset(
            "indices", (0,), np.int32, maxshape=(None,), chunks=(1 << 20,)
        )
        indptr = [np.zeros(1, np.int64)]
        total = 0
        for start in range(0, n_cells, ROWS_PER_CHUNK):
            rows_here = min(ROWS_PER_CHUNK, n_cells - start)
            chunk = _expression_chunk(rng, rows_here, n_genes, density)
            data.resize((total + chunk.nnz,))
            indices.resize((total + chunk.nnz,))
            data[total:] = chunk.data
            indices[total:] = chunk.indices
            indptr.append(chunk.indptr[1:] + total)
            total += chunk.nnz
        group.create_dataset("indptr", data=np.concatenate(indptr))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense", action="store_true", help="store X dense instead of CSR")
    parser.add_argument(
        "--neighbours",
        type=int,
        default=15,
        help="graph neighbours per cell (the viewer refuses graphs over about 11M edges)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    write_atlas(
        args.out, args.cells, args.genes, args.seed, dense=args.dense, neighbours=args.neighbours
    )
    size = args.out.stat().st_size / 1e9
    print(f"wrote {args.out} ({size:.2f} GB) in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
