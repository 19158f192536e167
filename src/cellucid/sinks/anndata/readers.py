"""Readers of the input X by rows or strips, picklable where the input lives in a file.

A task on a ``dask.distributed`` worker cannot receive an open HDF5 file, so an X read from
a ``.h5ad`` file, a Zarr folder or a ``.zarr.zip`` is read through :class:`FileMatrix`,
which holds the file's path and opens it for each read (one block of rows, so the cost
of opening is small beside the read). No handle outlives a read: the input file is not
held open once ``prepare()`` returns (the user may rewrite it), and a file replaced at
the same path between two runs is never read through a stale handle. Arrays in memory
are bound as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cellucid.sinks.anndata.csc import ReadBlock
from cellucid.sinks.anndata.dense import ReadStrip
from cellucid.sinks.anndata.expression import ExpressionSource


@contextmanager
def _opened(path: str) -> Iterator[Any]:
    """The root group of a ``.h5ad`` file, a Zarr folder or a ``.zarr.zip``, open for
    reading."""
    if Path(path).is_dir():
        import zarr

        yield zarr.open_group(path, mode="r")
        return
    if path.lower().endswith(".zip"):
        import zarr

        store = zarr.storage.ZipStore(path, mode="r")
        try:
            yield zarr.open_group(store, mode="r")
        finally:
            store.close()
        return
    import h5py

    with h5py.File(path, "r") as file:
        yield file


def _is_group(node: Any) -> bool:
    return not hasattr(node, "dtype")  # h5py and zarr arrays have one, groups do not


@dataclass(frozen=True)
class FileMatrix:
    """The matrix at ``element`` of the ``.h5ad`` file or Zarr folder ``path``.

    Indexed like the matrix (``matrix[rows]``, ``matrix[rows, columns]``); each read opens
    the file and closes it again. A sparse group is read with anndata's sparse dataset
    (CSR or CSC), giving a scipy matrix; a dense array gives a NumPy array.
    """

    path: str
    element: str

    def __getitem__(self, key: Any) -> Any:
        with _opened(self.path) as root:
            node = root[self.element]
            if _is_group(node):
                from anndata.io import sparse_dataset

                return sparse_dataset(node)[key]
            return np.asarray(node[key])


def _file_location(matrix: Any) -> tuple[str, str] | None:
    """``(file path, element path)`` of an X that lives in a ``.h5ad`` or a Zarr folder."""
    group = getattr(matrix, "group", None)  # anndata's backed sparse datasets
    node = group if group is not None else matrix
    file = getattr(node, "file", None)
    filename = getattr(file, "filename", None)
    name = getattr(node, "name", None)
    if isinstance(filename, str) and isinstance(name, str):
        return filename, name.lstrip("/")
    store = getattr(node, "store", None)  # zarr arrays and groups: a folder, or a zip file
    location = getattr(store, "root", None) or getattr(store, "path", None)
    path = getattr(node, "path", None)
    if location is None or not isinstance(path, str):
        return None
    location = Path(str(location))
    if location.is_dir() or (location.is_file() and location.name.lower().endswith(".zip")):
        return str(location), path
    return None


def rows_of(matrix: Any, start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of any supported matrix, computed (a :data:`ReadBlock`)."""
    block = matrix[start:stop]
    compute = getattr(block, "compute", None)
    return compute() if callable(compute) else block


def strip_of(matrix: Any, start: int, stop: int, columns: np.ndarray) -> np.ndarray:
    """Rows ``[start, stop)`` and ``columns`` (ascending) of a dense matrix (a
    :data:`ReadStrip`), reading only the span of columns they cover."""
    first, last = (int(columns[0]), int(columns[-1]) + 1) if columns.size else (0, 0)
    strip = matrix[start:stop, first:last]
    compute = getattr(strip, "compute", None)
    strip = np.asarray(compute() if callable(compute) else strip)
    return strip if last - first == columns.size else strip[:, columns - first]


def _reader_of(source: ExpressionSource) -> Any:
    """The matrix, or a :class:`FileMatrix` of it when it lives in a file."""
    if source.kind not in ("backed-sparse", "hdf5", "zarr"):
        return source.matrix
    location = _file_location(source.matrix)
    if location is None:
        return source.matrix
    return FileMatrix(*location)


def block_reader(source: ExpressionSource) -> ReadBlock:
    """A picklable :data:`ReadBlock` over a sparse source."""
    return partial(rows_of, _reader_of(source))


def strip_reader(source: ExpressionSource) -> ReadStrip:
    """A picklable :data:`ReadStrip` over a dense source."""
    return partial(strip_of, _reader_of(source))
