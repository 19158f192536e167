"""Section ``genes``: one file per exported gene, from the cell-major matrix.

Pass one finds each gene's range on the gene grid, pass two writes pieces per block and
assembles each gene's file (see :mod:`cellucid.engine.genes`).
"""

from __future__ import annotations

import shutil
from typing import Any

import dask.array as da
import numpy as np

from cellucid.engine.checksums import MATRIX, matrix_checksums
from cellucid.engine.context import RunContext
from cellucid.engine.genes import (
    GeneJob,
    assembly_ranges,
    assembly_tasks,
    block_tasks,
    gene_ranges,
    grid_matrix,
    pass_one_blocks,
    slab_genes_for,
)
from cellucid.engine.inputs import is_sparse_array
from cellucid.engine.runner import run_tasks
from cellucid.engine.sections.registry import section
from cellucid.format.quantize import Range
from cellucid.report import count


@section("genes", order=40)
def write_genes(ctx: RunContext) -> None:
    plan_gene_fields(ctx)
    write_gene_files(ctx)


def plan_gene_fields(ctx: RunContext) -> None:
    """Pass one: each gene's range, and the var manifest's entries in ``results["genes"]``.

    Split from :func:`write_gene_files` so that an early-view run can publish the manifests
    and the identity before the (slow) gene files are written.
    """
    genes = ctx.plan.genes
    if genes is None:
        ctx.say("INFO: No gene expression data provided, skipping var export.")
        return
    matrix, piece_cells = grid_matrix(ctx.inputs.matrix, ctx.inputs.matrix_source)
    lo = hi = None
    if ctx.plan.settings.var_quantization is not None and genes.ids:
        with ctx.phase("genes.ranges"):
            lo, hi = _ranges(ctx, matrix, piece_cells)
    ctx.results["gene_work"] = (matrix, piece_cells, lo, hi)
    ctx.results["genes"] = [
        ctx.layout.gene_entry(
            i, gene, None if lo is None else float(lo[i]), None if hi is None else float(hi[i])
        )
        for i, gene in enumerate(genes.ids)
    ]


def write_gene_files(ctx: RunContext) -> None:
    """Pass two: the files of the genes :func:`plan_gene_fields` planned."""
    genes, work = ctx.plan.genes, ctx.results.pop("gene_work", None)
    if genes is None or work is None:
        return
    matrix, piece_cells, lo, hi = work
    todo = np.array(
        [i for i, r in enumerate(genes.paths) if not ctx.keep(r, "gene")], dtype=np.int64
    )
    ctx.reporter.flush_skips("gene", f"{genes.dirname}/")
    if len(todo):
        _write_files(ctx, matrix, piece_cells, todo, lo, hi)
    ctx.say(
        f"✓ Wrote {count(len(todo), 'gene file')} ({count(ctx.inputs.n_cells, 'cell')} each) to "
        f"{ctx.out / genes.dirname}/"
    )


def _ranges(ctx: RunContext, matrix: da.Array, piece_cells: int) -> tuple[Any, Any]:
    """Pass one; also the matrix's checksums when the record still waits for them."""
    blocks = pass_one_blocks(matrix, ctx.inputs.gene_columns, piece_cells)
    pending = ctx.checksum_pending(MATRIX)
    found = gene_ranges(blocks, ctx.inputs.gene_columns, checksums=pending, progress=ctx.progress)
    if pending:
        ctx.record_checksums(MATRIX, matrix_checksums(piece_cells, found.crcs))
    ranges = [Range.from_extrema(a, b) for a, b in zip(found.lo, found.hi, strict=True)]
    n_bad = int((found.bad > 0).sum())
    if n_bad:
        ctx.say(f"  ⚠ {count(n_bad, 'gene')} contain NaN/Inf values (mapped to missing marker)")
    return np.array([r.lo for r in ranges]), np.array([r.hi for r in ranges])


def _write_files(
    ctx: RunContext, matrix: da.Array, piece_cells: int, todo: np.ndarray, lo: Any, hi: Any
) -> None:
    spill = ctx.spill
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir(parents=True)
    dense = not is_sparse_array(matrix)
    try:
        job = GeneJob(
            n_cells=ctx.inputs.n_cells,
            piece_cells=piece_cells,
            columns=ctx.inputs.gene_columns[todo],
            paths=tuple(str(ctx.out / ctx.plan.genes.paths[i]) for i in todo),
            lo=None if lo is None else lo[todo],
            hi=None if hi is None else hi[todo],
            bits=ctx.plan.settings.var_quantization,
            compression=ctx.compression,
            spill_dir=str(spill),
            slab_genes=slab_genes_for(piece_cells, len(todo), dense),
            dense=dense,
        )
        grid = block_tasks(matrix, job)
        with ctx.phase("genes.blocks"):
            flat = run_tasks(
                [task for row in grid for task in row],
                desc=f"genes: encode {count(len(todo), 'gene')}",
                progress=ctx.progress,
                unit=" blocks",
            )
        width = len(grid[0])
        indexes = [flat[k * width : (k + 1) * width] for k in range(len(grid))]
        with ctx.phase("genes.assembly"):
            run_tasks(
                assembly_tasks(indexes, job),
                desc="genes: write files",
                progress=ctx.progress,
                unit=" genes",
                weights=[len(genes) for genes in assembly_ranges(job)],
            )
    finally:
        shutil.rmtree(spill, ignore_errors=True)
