"""What an input is, told cheaply: a file's size and times, an in-memory array's CRC-32.

A rerun uses these identities to recognise inputs it has exported before without
reading them again (see :mod:`cellucid.sinks.folder.stamps`). An input read from a file
(a store reader, an h5py dataset or anndata backed matrix of a file opened read-only, a
zarr array in a folder) is told by the path, the key inside it and ``os.stat`` of every
file holding it: size, modification and change time, inode. Changing a file changes its
change time, which no tool can set back, so a rewritten file is never taken for the old
one. An in-memory input (numpy, scipy sparse, pandas) is told by a CRC-32 of its bytes:
cheap beside an export, and no stat could tell that it changed. Any other kind (a dask
graph, xarray, a file open for writing) has no cheap identity: :func:`input_identity`
returns None and the caller reads the inputs as usual.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from zlib_ng import zlib_ng

#: bytes of a non-contiguous array copied at a time to be checksummed
_SLICE_BYTES = 64 << 20


def _crc(*arrays: np.ndarray) -> str:
    """CRC-32 of the arrays' bytes in C order; a strided array is copied a slice at a time."""
    crc = 0
    for array in arrays:
        if array.flags.c_contiguous or array.ndim == 0:
            crc = zlib_ng.crc32(memoryview(np.ascontiguousarray(array)).cast("B"), crc)
            continue
        rows = max(1, _SLICE_BYTES // max(1, array[0].nbytes))
        for start in range(0, array.shape[0], rows):
            piece = np.ascontiguousarray(array[start : start + rows])
            crc = zlib_ng.crc32(memoryview(piece).cast("B"), crc)
    return f"{crc:08x}"


def file_stat(path: str | os.PathLike[str]) -> list[int]:
    """Size, modification and change time (ns) and inode of a file."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def tree_stat(path: str | os.PathLike[str]) -> list[Any]:
    """:func:`file_stat` of a file, or of every file under a folder (relative paths, sorted)."""
    root = Path(path)
    if not root.is_dir():
        return file_stat(root)
    entries = []
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    relative = os.path.relpath(entry.path, root)
                    entries.append([relative, *file_stat(entry.path)])
    return sorted(entries)


def _store_reader(x: Any) -> str | None:
    from cellucid.inputs.store_arrays import DenseReader, RowsReader, SparseReader

    if isinstance(x, RowsReader):
        base = _store_reader(x.base)
        columns = "all" if x.columns is None else _crc(x.columns.astype(np.int64))
        return None if base is None else f"{base}|rows {_crc(x.rows)} cols {columns}"
    if isinstance(x, (DenseReader, SparseReader)):
        # a Zarr store holds an array in a folder of its own: only that folder matters
        held = Path(x.path) / x.key if x.kind == "zarr" else Path(x.path)
        return json.dumps(["store", x.path, x.key, tree_stat(held)])
    return None


def _h5py_object(x: Any) -> str | None:
    h5py = sys.modules.get("h5py")
    if h5py is None or not isinstance(x, (h5py.Dataset, h5py.Group)):
        return None
    if x.file.mode != "r":
        return None  # open for writing: its data may not be on disk yet
    filename = os.path.realpath(x.file.filename)
    return json.dumps(["h5", filename, x.name, file_stat(filename)])


def _zarr_array(x: Any) -> str | None:
    zarr = sys.modules.get("zarr")
    if zarr is None or not isinstance(x, zarr.Array) or not getattr(x, "read_only", False):
        return None
    store = x.store
    root = getattr(store, "root", None) or getattr(store, "path", None)
    if root is None or not Path(root).is_dir():
        return None
    return json.dumps(["zarr", str(Path(root).resolve()), x.path, tree_stat(Path(root) / x.path)])


def _backed_matrix(x: Any) -> str | None:
    group = getattr(x, "group", None)
    if group is None or not type(x).__module__.startswith("anndata"):
        return None
    return _h5py_object(group)


def _numpy(x: Any) -> str | None:
    if not isinstance(x, np.ndarray) or x.dtype.hasobject:
        return None
    return f"ndarray {x.shape} {x.dtype.str} {_crc(x)}"


def _sparse(x: Any) -> str | None:
    if not sp.issparse(x):
        return None
    head = f"{x.format} {x.shape} {x.dtype.str}"
    if x.format in ("csr", "csc"):
        return f"{head} {_crc(x.indptr, x.indices, x.data)}"
    if x.format == "coo":
        return f"{head} {_crc(x.row, x.col, x.data)}"
    return None


def _frame(x: Any) -> str | None:
    if not isinstance(x, pd.DataFrame):
        return None
    try:
        rows = pd.util.hash_pandas_object(x, index=True).to_numpy()
    except (TypeError, ValueError):
        return None  # unhashable cells (lists, dicts): no cheap identity
    columns = []
    for position, (key, dtype) in enumerate(x.dtypes.items()):
        # hashes see values, not category order, which sets the codes written
        order = list(map(str, x.iloc[:, position].cat.categories)) if dtype == "category" else []
        columns.append([repr(key), str(dtype), order])
    index = [repr(x.index.name), str(x.index.dtype)]
    return json.dumps(["frame", columns, index, _crc(rows)])


_KINDS = (_store_reader, _numpy, _sparse, _frame, _h5py_object, _zarr_array, _backed_matrix)


def input_identity(x: Any) -> str | None:
    """A short text that changes whenever ``x`` may have changed; None if not known cheaply.

    Lists and mappings of inputs (``gene_identifiers``, ``vector_fields``) are told by their
    items, in order.
    """
    if x is None:
        return "none"
    if isinstance(x, (list, tuple, pd.Index)) or (isinstance(x, np.ndarray) and x.dtype.hasobject):
        if all(isinstance(v, (str, int, float)) for v in x):
            return json.dumps(["list", [repr(v) for v in x]])
        return None
    if isinstance(x, Mapping):
        items = [[repr(k), input_identity(v)] for k, v in x.items()]
        return None if any(v is None for _, v in items) else json.dumps(["mapping", items])
    for kind in _KINDS:
        identity = kind(x)
        if identity is not None:
            return identity
    return None
