"""Readers of the input X by rows or strips, picklable where the input lives in a file.

A task on a ``dask.distributed`` worker cannot receive an open HDF5 file, so an input read
from a ``.h5ad`` or a Zarr store is re-opened by path on the worker (the engine's store
readers); arrays in memory are bound as they are.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from cellucid.inputs.store_arrays import open_array
from cellucid.sinks.anndata.csc import ReadBlock
from cellucid.sinks.anndata.dense import ReadStrip, read_dense_rows
from cellucid.sinks.anndata.expression import ExpressionSource


def _file_location(matrix: Any) -> tuple[str, str] | None:
    """``(file path, element path)`` of an X that lives in a ``.h5ad`` or a Zarr store."""
    group = getattr(matrix, "group", None)  # anndata's backed sparse datasets
    node = group if group is not None else matrix
    file = getattr(node, "file", None)
    filename = getattr(file, "filename", None)
    name = getattr(node, "name", None)
    if isinstance(filename, str) and isinstance(name, str):
        return filename, name.lstrip("/")
    store = getattr(node, "store", None)  # zarr arrays and groups
    root = getattr(store, "root", None)
    path = getattr(node, "path", None)
    if root is not None and isinstance(path, str):
        return str(root), path
    return None


def rows_of(matrix: Any, start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of any supported matrix, computed (a :data:`ReadBlock`)."""
    block = matrix[start:stop]
    compute = getattr(block, "compute", None)
    return compute() if callable(compute) else block


def strip_of(matrix: Any, start: int, stop: int, columns: np.ndarray) -> np.ndarray:
    """Rows ``[start, stop)`` and ``columns`` of a dense matrix (a :data:`ReadStrip`)."""
    compute = getattr(matrix, "compute", None)
    if callable(getattr(matrix, "rechunk", None)) and callable(compute):
        return np.asarray(matrix[start:stop][:, columns].compute())
    return read_dense_rows(matrix, start, stop, columns)


def _reopened(source: ExpressionSource) -> Any:
    """The matrix, or a picklable store reader of it when it lives in a file."""
    if source.kind not in ("backed-sparse", "hdf5", "zarr"):
        return source.matrix
    location = _file_location(source.matrix)
    if location is None:
        return source.matrix
    try:
        return open_array(*location)
    except (OSError, KeyError, ValueError):
        return source.matrix


def block_reader(source: ExpressionSource) -> ReadBlock:
    """A picklable :data:`ReadBlock` over a sparse source."""
    return partial(rows_of, _reopened(source))


def strip_reader(source: ExpressionSource) -> ReadStrip:
    """A picklable :data:`ReadStrip` over a dense source."""
    return partial(strip_of, _reopened(source))
