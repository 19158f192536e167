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
import scipy.sparse as sp

from cellucid.checks.values import FLOAT32_MAX
from cellucid.engine.block_grid import gene_ranges, grid_matrix, pass_one_blocks, slab_genes_for
from cellucid.engine.checksums import MATRIX, matrix_checksums
from cellucid.engine.files import Placeholders
from cellucid.engine.jit import is_compiled
from cellucid.engine.runner import active_client, run_tasks
from cellucid.inputs.arrays import is_sparse_array
from cellucid.report import count
from cellucid.sinks.folder.changed_blocks import commit_and_checksum, refuse_changed_blocks
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format.codecs import Quantize
from cellucid.sinks.folder.format.quantize import Range, quantize_rows
from cellucid.sinks.folder.format.sparse_deflate import compile_encoder, encoder_kernel
from cellucid.sinks.folder.gene_files import GeneJob, assembly_ranges, assembly_tasks, block_tasks
from cellucid.sinks.folder.gene_spill import (
    GeneSpill,
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
    bits = ctx.plan.settings.var_quantization
    lo = hi = None
    # float32 output of wider floats also needs the ranges: to refuse what float32 cannot hold
    if genes.ids and (bits is not None or _wider_than_float32(matrix.dtype)):
        with ctx.phase("genes.ranges"):
            lo, hi = _ranges(ctx, matrix, piece_cells)
        _refuse_beyond_float32(genes.ids, lo, hi)
        if bits is None:
            lo = hi = None
        else:
            _warn_flattened(ctx, matrix, lo, hi, bits)
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
    if not len(todo):
        return  # every file kept: said once, at the end of the run
    _compile_encoder(ctx)
    _write_files(ctx, matrix, piece_cells, todo, lo, hi)
    ctx.say(
        f"✓ Wrote {count(len(todo), 'gene file')} ({count(ctx.inputs.n_cells, 'cell')} each) to "
        f"{ctx.out / genes.dirname}/"
    )


def _compile_encoder(ctx: RunContext) -> None:
    """Compile the gene encoder here, saying so, when this machine has no compiled copy yet.

    Else the first block task compiles it (10-30 s after an install) with nothing on
    screen but a bar that does not move. Workers of a cluster compile their own copies.
    """
    bits = ctx.plan.settings.var_quantization
    if not ctx.compression or active_client() is not None or is_compiled(encoder_kernel(bits)):
        return
    ctx.say("Compiling the gene encoder (first export after installing only; takes 10-30 s)...")
    with ctx.phase("genes.compile"):
        compile_encoder(bits)


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


def _wider_than_float32(dtype: np.dtype) -> bool:
    """Whether values of ``dtype`` can be finite beyond the float32 range."""
    return dtype.kind == "f" and dtype.itemsize > 4


def _refuse_beyond_float32(ids: Any, lo: np.ndarray, hi: np.ndarray) -> None:
    """Refuse genes holding finite values beyond the float32 range (pass one's ranges).

    Raises
    ------
    ValueError
        With the count of genes, the first one and its range, and the fix.
    """
    beyond = np.flatnonzero(np.maximum(np.abs(lo), np.abs(hi)) > FLOAT32_MAX)
    if not len(beyond):
        return
    first = int(beyond[0])
    verb = "holds" if len(beyond) == 1 else "hold"
    raise ValueError(
        f"gene_expression: {count(len(beyond), 'gene')} {verb} finite values beyond the "
        f"float32 range (|x| > {FLOAT32_MAX:.4g}; first gene {ids[first]!r}, values from "
        f"{lo[first]:g} to {hi[first]:g}), which the export cannot store (they would "
        "become missing). Rescale them (e.g. log1p) or clip them to the float32 range "
        "first, or leave those genes out (gene_identifiers). No gene file was written; the "
        "folder is left unfinished (run again after the fix, or remove it)."
    )


#: cells of the sample that looks for genes flattened by an outlier, and its byte budget
FLAT_SAMPLE_CELLS = 4096
FLAT_SAMPLE_BYTES = 32 << 20
#: a gene is flattened when this share of its non-zero (sampled) values falls in one step
FLAT_SHARE = 0.99
FLAT_MIN_VALUES = 100


def flattened_genes(sample: Any, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Positions of the genes (columns of ``sample``) whose non-zero values mostly decode to
    one value: at least ``FLAT_SHARE`` of them fall in one quantization step although they
    differ (their range is set by a few far values)."""
    matrix = sp.csc_matrix(sample) if sp.issparse(sample) else np.asarray(sample)
    flat = []
    for g in range(matrix.shape[1]):
        if sp.issparse(matrix):
            values = matrix.data[matrix.indptr[g] : matrix.indptr[g + 1]]
        else:
            values = matrix[:, g]
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values) & (values != 0)]
        if len(values) < FLAT_MIN_VALUES:
            continue
        codes = quantize_rows(values, lo[g], hi[g], bits)
        common = np.bincount(codes).argmax()
        in_step = values[codes == common]
        if len(in_step) >= FLAT_SHARE * len(values) and np.ptp(in_step) > 0:
            flat.append(g)
    return np.array(flat, dtype=np.int64)


def _warn_flattened(
    ctx: RunContext, matrix: da.Array, lo: np.ndarray, hi: np.ndarray, bits: int
) -> None:
    """Warn about genes an outlier flattens at ``bits`` (from the first cells, a sample)."""
    columns = ctx.inputs.gene_columns
    dense_rows = FLAT_SAMPLE_BYTES // max(1, 8 * matrix.shape[1])
    n = min(matrix.shape[0], FLAT_SAMPLE_CELLS if is_sparse_array(matrix) else dense_rows)
    n = max(n, min(matrix.shape[0], 64))
    sample = matrix[:n].compute()
    sample = sample.tocsr()[:, columns] if sp.issparse(sample) else np.asarray(sample)[:, columns]
    flat = flattened_genes(sample, lo, hi, bits)
    if not len(flat):
        return
    first = int(flat[0])
    ctx.say(
        f"  ⚠ {count(len(flat), 'gene')} {'loses its' if len(flat) == 1 else 'lose their'} "
        f"detail at {bits} bits: {FLAT_SHARE:.0%} or "
        f"more of the non-zero values (in the first {count(n, 'cell')}) fall in one of the "
        f"{Quantize(bits).steps} steps, because a few far values set the range (e.g. "
        f"{ctx.plan.genes.ids[first]!r}: {lo[first]:g} to {hi[first]:g}). Export float32 "
        "genes (var_quantization=None) or clip the outliers first "
        "(e.g. X.clip(max=np.quantile(X, 0.999)))."
    )


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
        # said once with the kept files, at the end of the run
        ctx.reporter.reused_blocks = (len(spill.reused), spill.n_tasks)
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
    grid = block_tasks(matrix, job, commit_and_checksum, (str(spill.folder),))
    missing = [(k, s) for k in range(job.n_blocks) for s in range(job.n_slabs)]
    missing = [key for key in missing if key not in spill.reused]
    computed = run_tasks(
        [grid[k][s] for k, s in missing],
        desc=f"genes: encode {count(n_todo, 'gene')}",
        progress=ctx.progress,
        unit=" blocks",
    )
    done = dict(zip(missing, computed, strict=True))
    if n_todo == len(ctx.plan.genes.paths):  # the grid of pass one: same blocks, same CRCs
        refuse_changed_blocks(ctx, spill, {key: crc for key, (_, crc) in done.items()})
    found = spill.reused | {key: index for key, (index, _) in done.items()}
    return [[found[(k, s)] for s in range(job.n_slabs)] for k in range(job.n_blocks)]

