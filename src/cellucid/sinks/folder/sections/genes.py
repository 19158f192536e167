"""Section ``genes``: one file per exported gene, from the cell-major matrix.

Pass one finds each gene's range on the gene grid, pass two writes pieces per block and
assembles each gene's file (see :mod:`cellucid.sinks.folder.gene_files`).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from typing import Any

import dask.array as da
import numpy as np

from cellucid.engine.block_grid import gene_ranges, grid_matrix, pass_one_blocks, slab_genes_for
from cellucid.engine.checksums import MATRIX, matrix_checksums
from cellucid.engine.files import Placeholders
from cellucid.engine.runner import active_client, run_tasks
from cellucid.inputs.arrays import is_sparse_array
from cellucid.report import count
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format.quantize import Range
from cellucid.sinks.folder.gene_files import GeneJob, assembly_ranges, assembly_tasks, block_tasks
from cellucid.sinks.folder.gene_spill import (
    GeneSpill,
    commit_block_pieces,
    open_spill,
    remove_spill,
)
from cellucid.sinks.folder.results import GeneRanges


def plan_gene_fields(ctx: RunContext) -> None:
    """Pass one: each gene's range and the var manifest's entries (``results.genes``).

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
    entries = tuple(
        ctx.layout.gene_entry(
            i, gene, None if lo is None else float(lo[i]), None if hi is None else float(hi[i])
        )
        for i, gene in enumerate(genes.ids)
    )
    ctx.results.genes = GeneRanges(matrix, piece_cells, lo, hi, entries)


def write_gene_files(ctx: RunContext) -> None:
    """Pass two: the files of the genes :func:`plan_gene_fields` planned."""
    genes, work = ctx.plan.genes, ctx.results.genes
    if genes is None or work is None:
        return
    matrix, piece_cells, lo, hi = work.matrix, work.piece_cells, work.lo, work.hi
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
    """Encode the blocks not committed by an earlier run, then write the files of ``todo``.

    Blocks are committed to ``ctx.gene_spill``, which outlives an interrupted run (see
    :mod:`cellucid.sinks.folder.gene_spill`); it goes once every gene file exists.
    """
    # a folder of its own: the connectivity may be written at the same time
    scratch = ctx.spill / "gene-blocks"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    dense = not is_sparse_array(matrix)

    def make_job(genes: np.ndarray) -> GeneJob:
        return GeneJob(
            n_cells=ctx.inputs.n_cells,
            piece_cells=piece_cells,
            columns=ctx.inputs.gene_columns[genes],
            paths=tuple(str(ctx.out / ctx.plan.genes.paths[i]) for i in genes),
            lo=None if lo is None else lo[genes],
            hi=None if hi is None else hi[genes],
            bits=ctx.plan.settings.var_quantization,
            compression=ctx.compression,
            spill_dir=str(scratch),
            slab_genes=slab_genes_for(piece_cells, len(genes), dense),
            dense=dense,
        )

    try:
        spill = open_spill(
            ctx.gene_spill, todo, len(ctx.plan.genes.paths), make_job, resume=ctx.resume
        )
        if spill.reused:
            ctx.say(
                f"⚠ Reusing {len(spill.reused):,} of {count(spill.n_tasks, 'gene block')}: "
                f"{ctx.gene_spill.relative_to(ctx.out)}/ holds them from an interrupted run "
                "(use force=True to encode them again)"
            )
        # assembly reads the committed pieces, written by this run or an earlier one
        stored = replace(spill.job, spill_dir=str(spill.folder))
        positions = spill.positions(todo)
        # workers of a cluster name their temporary files after their own process
        placeholders = (
            Placeholders([stored.paths[i] for i in positions]) if active_client() is None else None
        )
        try:
            with ctx.phase("genes.blocks"):
                indexes = _encode_blocks(ctx, matrix, spill, len(todo))
        except BaseException:
            if placeholders is not None:
                placeholders.abandon()
            raise
        if placeholders is not None:
            placeholders.finish()
        with ctx.phase("genes.assembly"):
            run_tasks(
                assembly_tasks(indexes, stored, genes=positions),
                desc="genes: write files",
                progress=ctx.progress,
                unit=" genes",
                weights=[len(run) for run in assembly_ranges(stored, genes=positions)],
            )
        remove_spill(spill.folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _encode_blocks(
    ctx: RunContext, matrix: da.Array, spill: GeneSpill, n_todo: int
) -> list[list[np.ndarray]]:
    """Run the block tasks an earlier run did not commit; every block's index, by block/slab."""
    job = spill.job
    grid = block_tasks(matrix, job, commit_block_pieces, (str(spill.folder),))
    missing = [(k, s) for k in range(job.n_blocks) for s in range(job.n_slabs)]
    missing = [key for key in missing if key not in spill.reused]
    computed = run_tasks(
        [grid[k][s] for k, s in missing],
        desc=f"genes: encode {count(n_todo, 'gene')}",
        progress=ctx.progress,
        unit=" blocks",
    )
    found = spill.reused | dict(zip(missing, computed, strict=True))
    return [[found[(k, s)] for s in range(job.n_slabs)] for k in range(job.n_blocks)]
