"""Gene block spills that outlive an interrupted run, so a rerun encodes only what is missing.

Pass two of the genes encodes each (block, slab) of the matrix into one spill file of
deflate pieces (:func:`cellucid.sinks.folder.gene_files.write_block_pieces`) and keeps an index of
offset, length and CRC-32 per gene. Encoding is the expensive part, so completed blocks
are kept in ``.cellucid-spill/genes/`` inside the export folder (under the folder's lock)
until every gene file exists:

- ``plan.json`` says what the spills encode: the grid (cells, cells per block, slab
  layout), the settings that shape the pieces' bytes, the exported genes (by export index,
  in job order), their matrix columns and a digest of their quantization ranges. It is
  written before the first block.
- ``genes-BBBBBB-SSSSS.bin`` holds one block's pieces. It is written in the run's own
  scratch folder and renamed in when complete, so a file of a killed task never carries
  a name here.
- ``genes-BBBBBB-SSSSS.npy`` is the block's index, written atomically after the pieces:
  it is the block's commit mark. A pieces file without one, or whose size differs from
  the end of the last piece, is not reused.

A rerun reuses the spills only when the export resumes (the record's fingerprint and the
input checksums matched, :func:`cellucid.sinks.folder.state.prepare_folder`), ``plan.json``
equals what this run would encode and the spills cover every gene still to write; then
only the blocks without a commit mark run. Otherwise the folder starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cellucid import __version__
from cellucid.engine.files import atomic_file, write_text
from cellucid.sinks.folder.gene_files import GeneJob, write_block_pieces

PLAN_NAME = "plan.json"
#: bump when the pieces of one (block, gene) change for the same settings and data
SPILL_VERSION = 1


@dataclass(frozen=True)
class GeneSpill:
    """The spills a run's block tasks write into, and the blocks an earlier run completed.

    Attributes
    ----------
    folder
        The folder kept between runs (``.cellucid-spill/genes``).
    job
        The plan of the block tasks; its ``spill_dir`` is the run's scratch folder, where
        pieces are written before they are renamed into ``folder``.
    genes
        Export index of each gene of ``job``, ascending: the genes still to write, or a
        superset of them when the spills of an earlier run are reused.
    reused
        Index of each (block, slab) completed by an earlier run.
    """

    folder: Path
    job: GeneJob
    genes: np.ndarray
    reused: dict[tuple[int, int], np.ndarray]

    @property
    def n_tasks(self) -> int:
        """Block tasks of the whole grid (reused or not)."""
        return self.job.n_blocks * self.job.n_slabs

    def positions(self, todo: np.ndarray) -> list[int]:
        """The job's gene index of each export index in ``todo`` (all are in ``genes``)."""
        return [int(i) for i in np.searchsorted(self.genes, todo)]


def spill_key(job: GeneJob, genes: np.ndarray) -> dict[str, Any]:
    """Everything the pieces' bytes and their place in the spills depend on, as JSON data."""
    ranges = hashlib.sha256()
    for bound in (job.lo, job.hi):
        if bound is not None:
            ranges.update(np.ascontiguousarray(bound, dtype=np.float64).tobytes())
    return {
        "spill_version": SPILL_VERSION,
        "cellucid": __version__,
        "n_cells": int(job.n_cells),
        "piece_cells": int(job.piece_cells),
        "slab_genes": int(job.slab_genes),
        "dense": bool(job.dense),
        "bits": job.bits,
        "compression": job.compression,
        "genes": [int(g) for g in genes],
        "columns": [int(c) for c in job.columns],
        "ranges": ranges.hexdigest() if job.lo is not None else None,
    }


def _read_plan(folder: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads((folder / PLAN_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) else None


def _spilled_genes(plan: dict[str, Any], todo: np.ndarray, n_exported: int) -> np.ndarray | None:
    """The genes of an earlier plan when they are valid export indices and cover ``todo``."""
    try:
        genes = np.asarray(plan["genes"], dtype=np.int64)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    valid = genes.ndim == 1 and len(genes) > 0 and genes[0] >= 0 and genes[-1] < n_exported
    if not valid or not (np.diff(genes) > 0).all() or not np.isin(todo, genes).all():
        return None
    return genes


def open_spill(
    folder: Path,
    todo: np.ndarray,
    n_exported: int,
    make_job: Callable[[np.ndarray], GeneJob],
    resume: bool,
) -> GeneSpill:
    """Reuse the spills in ``folder`` when they fit this run, else start the folder afresh.

    Parameters
    ----------
    folder
        The spill folder kept between runs.
    todo
        Export indices of the genes whose files are still to write, ascending.
    n_exported
        How many genes the export has.
    make_job
        The block tasks' plan for a set of export indices.
    resume
        Whether the run resumes the export in its folder (same fingerprint and inputs);
        spills of any other run are never reused.

    Returns
    -------
    GeneSpill
        The job to run and the blocks already complete.
    """
    earlier = _read_plan(folder) if resume else None
    genes = None if earlier is None else _spilled_genes(earlier, todo, n_exported)
    if genes is not None:
        job = make_job(genes)
        if earlier == spill_key(job, genes):
            return GeneSpill(folder, job, genes, completed_blocks(folder, job))
    job = make_job(todo)
    # nothing here fits this run: pieces of other settings or genes must not be mixed in
    remove_spill(folder)
    folder.mkdir(parents=True)
    write_text(folder / PLAN_NAME, json.dumps(spill_key(job, todo)))
    return GeneSpill(folder, job, todo, {})


def remove_spill(folder: Path) -> None:
    """Remove the kept gene blocks, ``plan.json`` first.

    Without a plan nothing in the folder is reused, so a removal cut short (a kill, a file
    that cannot be removed) never leaves blocks that a later plan would take as its own.

    Raises
    ------
    OSError
        If a file cannot be removed (the next run must not find a half-emptied folder
        under a new plan).
    """
    if folder.is_symlink() or not folder.is_dir():
        folder.unlink(missing_ok=True)
        return
    (folder / PLAN_NAME).unlink(missing_ok=True)
    shutil.rmtree(folder)


def _pieces_path(folder: Path | str, job: GeneJob, block: int, slab: int) -> Path:
    # the name the block tasks give the file in their scratch folder, so that assembly
    # (``job.spill_path`` with ``spill_dir=folder``) finds it here
    return Path(folder) / os.path.basename(job.spill_path(block, slab))


def _index_path(folder: Path | str, job: GeneJob, block: int, slab: int) -> Path:
    return _pieces_path(folder, job, block, slab).with_suffix(".npy")


def _slab_size(job: GeneJob, slab: int) -> int:
    return min(job.slab_genes, len(job.columns) - slab * job.slab_genes)


def _complete_index(folder: Path, job: GeneJob, block: int, slab: int) -> np.ndarray | None:
    """The committed index of one block, or None when the block must be encoded again."""
    try:
        index = np.load(_index_path(folder, job, block, slab), allow_pickle=False)
        size = _pieces_path(folder, job, block, slab).stat().st_size
    except (OSError, ValueError, EOFError):
        return None
    if index.dtype != np.int64 or index.shape != (_slab_size(job, slab), 3):
        return None
    if (index[:, :2] < 0).any() or int((index[:, 0] + index[:, 1]).max()) != size:
        return None
    return index


def completed_blocks(folder: Path, job: GeneJob) -> dict[tuple[int, int], np.ndarray]:
    """The index of every (block, slab) of ``job`` an earlier run committed to ``folder``."""
    done = {}
    for block in range(job.n_blocks):
        for slab in range(job.n_slabs):
            index = _complete_index(folder, job, block, slab)
            if index is not None:
                done[(block, slab)] = index
    return done


def commit_block_pieces(
    block: object, block_index: int, slab: int, job: GeneJob, folder: str
) -> np.ndarray:
    """Encode one block like :func:`write_block_pieces`, then commit it to ``folder``.

    The pieces file moves from the run's scratch folder (``job.spill_dir``) into
    ``folder``, then its index is written atomically beside it: a block killed at any
    point is either committed whole or encoded again by the next run.
    """
    index = write_block_pieces(block, block_index, slab, job)
    os.replace(job.spill_path(block_index, slab), _pieces_path(folder, job, block_index, slab))
    with atomic_file(_index_path(folder, job, block_index, slab)) as handle:
        np.save(handle, index, allow_pickle=False)
    return index
