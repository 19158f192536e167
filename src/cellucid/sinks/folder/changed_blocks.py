"""Pass two of the genes checks that it reads the values pass one read.

The export record holds a CRC of every block of the expression matrix on the genes' grid,
taken before the run or by pass one (the ranges of quantized genes). Pass two reads the same
blocks again to encode the gene files; a dask array that computes other values each time
(random numbers, a file rewritten meanwhile) would otherwise give files that mix both reads,
quantized with ranges of the first. Each block task also takes its block's CRC, and the
rows are compared before any gene file is assembled.
"""

from __future__ import annotations

import numpy as np

from cellucid.engine.block_crc import block_crc, combine_block_crcs
from cellucid.engine.checksums import MATRIX, is_pending
from cellucid.errors import ExportMismatchError
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.gene_files import GeneJob
from cellucid.sinks.folder.gene_spill import GeneSpill, commit_block_pieces, remove_spill


def commit_and_checksum(
    block: object, block_index: int, slab: int, job: GeneJob, folder: str
) -> tuple[np.ndarray, int]:
    """Encode and commit one block (:func:`commit_block_pieces`), and its CRC."""
    return commit_block_pieces(block, block_index, slab, job, folder), block_crc(block)


def refuse_changed_blocks(
    ctx: RunContext, spill: GeneSpill, crcs: dict[tuple[int, int], int]
) -> None:
    """Pass two read other values than the record's checksums (taken by pass one or before
    the run, on the same blocks): the input changed while it was read. Refuse, dropping the
    blocks encoded from it, before any gene file is assembled.

    Raises
    ------
    ExportMismatchError
        Naming the first rows that differ and the fix.
    """
    entry = ctx.record.checksums.get(MATRIX) if ctx.record is not None else None
    job = spill.job
    if not entry or is_pending(entry) or entry.get("rows") != job.piece_cells:
        return
    for k, expected in enumerate(entry.get("blocks", [])):
        keys = [(k, s) for s in range(job.n_slabs)]
        if not all(key in crcs for key in keys):
            continue  # a block kept from an earlier run: not read again
        if combine_block_crcs([crcs[key] for key in keys]) == expected:
            continue
        remove_spill(spill.folder)
        start = k * job.piece_cells
        stop = min(start + job.piece_cells, ctx.inputs.n_cells) - 1
        raise ExportMismatchError(
            f"gene_expression gave other values in rows {start:,}-{stop:,} when it was read "
            "again to write the gene files: its values changed while the export read it (a "
            "dask array that computes different values each time, e.g. from random numbers, "
            "or a file being written meanwhile), and the gene files would mix both reads; "
            "no gene file was written. Make the values fixed (x = x.persist(), or finish "
            "writing the file) and run again with force=True."
        )
