"""The on-disk spill of X between its scan and its assembly: one file per block of rows.

A block task of the scan (:func:`cellucid.sinks.anndata.csc.scan_block`) writes its block's
stored values gene-major -- sorted by exported gene, then by cell -- to
``x-block-BBBBBB.bin``: first every value (in the block's own value type), then every
row (within the block: uint16 for blocks of at most 2^16 rows, else int32). An assembly
task reads back any contiguous range of entries of any block, so it touches only its own
share of each file.

Files are written under a temporary name and renamed when complete, so a file with its
final name is whole, and a retried task (a lost dask worker) simply writes it again. The
bytes are native-endian: the machines of one run read what they wrote. The folder may be
on storage shared by the workers of a cluster; the caller removes it
(:func:`remove_spill`) when X is written or refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


class SpillError(OSError):
    """A spill file is missing or not the size its block's scan reported."""


def spill_path(spill_dir: str | os.PathLike[str], block: int) -> Path:
    """The spill file of block ``block`` in ``spill_dir``."""
    return Path(spill_dir) / f"x-block-{block:06d}.bin"


def write_spill(
    spill_dir: str | os.PathLike[str], block: int, values: np.ndarray, rows: np.ndarray
) -> None:
    """Write one block's gene-major entries: ``values`` then ``rows`` (same length).

    Parameters
    ----------
    spill_dir
        The run's spill folder, which must exist: a task never creates it, so one still
        running after its run removed the folder fails instead of leaving it behind.
    block
        The block's index in the grid of rows.
    values, rows
        The block's stored values and their rows (within the block), gene-major.
    """
    if len(values) != len(rows):
        raise ValueError(f"{len(values)} values but {len(rows)} row indices.")
    folder = Path(spill_dir)
    final = spill_path(folder, block)
    handle, temporary = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(np.ascontiguousarray(values).data)
            file.write(np.ascontiguousarray(rows).data)
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_spill(
    spill_dir: str | os.PathLike[str],
    block: int,
    value_dtype: np.dtype | str,
    row_dtype: np.dtype | str,
    n_entries: int,
    start: int,
    stop: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Entries ``start:stop`` of one block's spill: their values and their rows.

    Parameters
    ----------
    spill_dir, block
        Where the block's file is.
    value_dtype, row_dtype, n_entries
        What the block's scan wrote: the file's value and index types and entry count
        (the file is checked to be exactly that size).
    start, stop
        The range of entries to read, ``0 <= start <= stop <= n_entries``.

    Raises
    ------
    SpillError
        When the file is missing or its size is not what the scan wrote.
    """
    value_dtype, row_dtype = np.dtype(value_dtype), np.dtype(row_dtype)
    if not 0 <= start <= stop <= n_entries:
        raise ValueError(f"Entries {start}:{stop} are outside a spill of {n_entries}.")
    values = np.empty(stop - start, dtype=value_dtype)
    rows = np.empty(stop - start, dtype=row_dtype)
    if stop == start:
        return values, rows
    path = spill_path(spill_dir, block)
    expected = n_entries * (value_dtype.itemsize + row_dtype.itemsize)
    try:
        with open(path, "rb", buffering=0) as file:
            size = os.fstat(file.fileno()).st_size
            if size != expected:
                raise SpillError(f"Spill file {path} holds {size:,} bytes, not {expected:,}.")
            _read_into(file, start * value_dtype.itemsize, values)
            _read_into(file, n_entries * value_dtype.itemsize + start * row_dtype.itemsize, rows)
    except FileNotFoundError as error:
        raise SpillError(f"Spill file {path} is missing.") from error
    return values, rows


def _read_into(file, offset: int, out: np.ndarray) -> None:
    # readinto may return short counts (large reads, network file systems): loop until full
    view = memoryview(out).cast("B")
    file.seek(offset)
    done = 0
    while done < len(view):
        got = file.readinto(view[done:])
        if not got:
            raise SpillError(f"Spill file {file.name} ended early.")
        done += got


def remove_spill(spill_dir: str | os.PathLike[str]) -> None:
    """Remove the spill folder and everything in it (nothing when it does not exist)."""
    folder = Path(spill_dir)
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
