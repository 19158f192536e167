"""CPU of one gene block task (transpose, encode, compress, spill) at gzip levels 1, 6, 9.

One block of 16,384 cells x 10,000 genes from ``make_atlas.py``'s generator (6 % non-zero),
8-bit genes, on one thread:

    python benchmarks/block_benchmark.py
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace

import numpy as np
from make_atlas import _expression_chunk

from cellucid.sinks.folder import gene_files as genes

CELLS, GENES = 16_384, 10_000


def main() -> None:
    block = _expression_chunk(np.random.default_rng(0), CELLS, GENES, 0.06).tocsr()
    hi = np.asarray(block.max(axis=0).todense()).ravel().astype(np.float64)
    hi[hi <= 0] = 1.0
    with tempfile.TemporaryDirectory() as spill:
        job = genes.GeneJob(
            n_cells=CELLS,
            piece_cells=CELLS,
            columns=np.arange(GENES),
            paths=(),
            lo=np.zeros(GENES),
            hi=hi,
            bits=8,
            compression=6,
            spill_dir=spill,
            slab_genes=GENES,
            dense=False,
        )
        # warm-up: loads (or compiles) the kernels
        genes.write_block_pieces(block[:2000], 0, 0, replace(job, n_cells=2000))
        for level in (1, 6, 9):
            start = time.process_time()
            index = genes.write_block_pieces(block, 0, 0, replace(job, compression=level))
            cpu = time.process_time() - start
            print(f"level {level}: {cpu:.2f} CPU-s, {index[:, 1].sum() / 1e6:.1f} MB compressed")


if __name__ == "__main__":
    main()
