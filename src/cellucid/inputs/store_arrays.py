"""Arrays inside a .h5ad file or an AnnData Zarr store, read lazily by path.

A reader holds only the store's path and the array's key, so it pickles: a task sent to
a ``dask.distributed`` worker opens the store there (h5py handles cannot be pickled).
Each process keeps one open handle per store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

_HANDLES: dict[tuple[str, str], Any] = {}
_HANDLES_LOCK = threading.Lock()


def store_kind(path: str | Path) -> str:
    """``"h5"`` for an HDF5 file, ``"zarr"`` for a Zarr store (a folder)."""
    return "zarr" if Path(path).is_dir() else "h5"


def open_store(path: str, kind: str) -> Any:
    """The process-wide read-only handle of a store (opened on first use)."""
    with _HANDLES_LOCK:
        handle = _HANDLES.get((path, kind))
        if handle is None:
            if kind == "h5":
                import h5py

                handle = h5py.File(path, "r")
            else:
                import zarr

                handle = zarr.open_group(path, mode="r")
            _HANDLES[(path, kind)] = handle
        return handle


def _attr(node: Any, name: str) -> Any:
    value = node.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def sparse_format(node: Any) -> str | None:
    """``"csr"`` or ``"csc"`` for a sparse matrix group, else None.

    Files written before anndata 0.7 mark sparse groups with ``h5sparse_format`` and
    ``h5sparse_shape`` instead of ``encoding-type`` and ``shape``.
    """
    attrs = node.attrs
    if "encoding-type" in attrs:
        encoding = str(_attr(node, "encoding-type"))
        return encoding[:3] if encoding in ("csr_matrix", "csc_matrix") else None
    if "h5sparse_format" in attrs:
        return str(_attr(node, "h5sparse_format"))
    return None


def _sparse_shape(group: Any) -> tuple[int, int]:
    name = "shape" if "shape" in group.attrs else "h5sparse_shape"
    rows, columns = (int(v) for v in _attr(group, name))
    return rows, columns


def _normalize_rows(key: Any, n_rows: int) -> tuple[slice, Any]:
    if not isinstance(key, tuple):
        key = (key,)
    rows = key[0]
    rest = key[1] if len(key) > 1 else slice(None)
    if isinstance(rows, slice):
        start, stop, step = rows.indices(n_rows)
        if step != 1:
            raise IndexError("store readers take contiguous row ranges only")
        return slice(start, stop), rest
    raise IndexError("store readers take row slices only")


@dataclass(frozen=True)
class DenseReader:
    """A dense array of a store, sliced along rows."""

    path: str
    key: str
    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @classmethod
    def open(cls, path: str | Path, key: str) -> DenseReader:
        path = str(Path(path).resolve())
        kind = store_kind(path)
        node = open_store(path, kind)[key]
        return cls(path, key, kind, tuple(node.shape), np.dtype(node.dtype))

    def __getitem__(self, key: Any) -> np.ndarray:
        node = open_store(self.path, self.kind)[self.key]
        if not isinstance(key, tuple):
            key = (key,)
        if self.ndim == 1:
            return np.asarray(node[key[0]])
        rows, rest = _normalize_rows(key, self.shape[0])
        if isinstance(rest, slice):
            # read only the wanted columns, not whole rows
            return np.asarray(node[rows, rest])
        return np.asarray(node[rows])[:, rest]


@dataclass(frozen=True)
class SparseReader:
    """A CSR matrix group of a store (``data``, ``indices``, ``indptr``), sliced by rows.

    Reading a row range costs one contiguous read of each of the three arrays.
    """

    path: str
    key: str
    kind: str
    shape: tuple[int, int]
    dtype: np.dtype

    ndim = 2

    @classmethod
    def open(cls, path: str | Path, key: str) -> SparseReader:
        path = str(Path(path).resolve())
        kind = store_kind(path)
        group = open_store(path, kind)[key]
        encoding = sparse_format(group)
        if encoding != "csr":
            raise ValueError(
                f"{key} in {path} is stored as {encoding}; streaming needs rows (CSR). "
                "Convert it once, e.g. adata.X = adata.X.tocsr(), and save again."
            )
        return cls(path, key, kind, _sparse_shape(group), np.dtype(group["data"].dtype))

    def __getitem__(self, key: Any) -> sp.csr_matrix:
        rows, rest = _normalize_rows(key, self.shape[0])
        group = open_store(self.path, self.kind)[self.key]
        indptr = np.asarray(group["indptr"][rows.start : rows.stop + 1], dtype=np.int64)
        first, last = int(indptr[0]), int(indptr[-1])
        data = np.asarray(group["data"][first:last])
        indices = np.asarray(group["indices"][first:last])
        block = sp.csr_matrix(
            (data, indices, indptr - first), shape=(rows.stop - rows.start, self.shape[1])
        )
        return block if _every_column(rest, self.shape[1]) else block[:, rest]


def _every_column(key: Any, n_columns: int) -> bool:
    """Whether a column key selects every column in order (dask asks for ``0:n``)."""
    return isinstance(key, slice) and key.indices(n_columns) == (0, n_columns, 1)


def open_array(path: str | Path, key: str) -> DenseReader | SparseReader:
    """A lazy reader for the array or sparse matrix at ``key`` of a store."""
    path = str(Path(path).resolve())
    node = open_store(path, store_kind(path))[key]
    if sparse_format(node) is not None:
        return SparseReader.open(path, key)
    return DenseReader.open(path, key)


#: file rows further apart than this are read separately, not as one span
_ROW_GAP = 256


@dataclass(frozen=True, eq=False)
class RowsReader:
    """The rows (and columns) of a view of a store's array, in the view's order.

    ``rows`` are the file rows of the view's rows; ``columns`` the file columns, or None
    for all. A block of the view's rows is read in file order, as contiguous spans (rows
    closer than ``_ROW_GAP`` share one read), and put in the view's order in memory.
    """

    base: DenseReader | SparseReader
    rows: np.ndarray
    columns: np.ndarray | None = None

    @property
    def ndim(self) -> int:
        return self.base.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        rest = tuple(self.base.shape[1:])
        if self.columns is not None:
            rest = (len(self.columns), *rest[1:])
        return (len(self.rows), *rest)

    def _read_rows(self, file_rows: np.ndarray, columns: Any) -> Any:
        order = np.argsort(file_rows, kind="stable")
        ordered = file_rows[order]
        breaks = np.flatnonzero(np.diff(ordered) > _ROW_GAP) + 1
        pieces = []
        for run in np.split(ordered, breaks):
            if not len(run):
                continue
            first, last = int(run[0]), int(run[-1])
            span = self.base[(slice(first, last + 1), *columns)]
            pieces.append(span[run - first])
        if not pieces:
            return self.base[(slice(0, 0), *columns)]
        if isinstance(self.base, SparseReader):
            block = sp.vstack(pieces, format="csr")
        else:
            block = np.concatenate(pieces)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return block[inverse]

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple):
            key = (key,)
        rows, rest = _normalize_rows(key, self.shape[0])
        if self.ndim == 1:
            return self._read_rows(self.rows[rows], ())
        if self.columns is None:
            return self._read_rows(self.rows[rows], (rest,))
        block = self._read_rows(self.rows[rows], ())[:, self.columns]
        return block if _every_column(rest, self.shape[1]) else block[:, rest]


def view_index(index: Any, length: int) -> np.ndarray | None:
    """A view's row or column index (anndata's ``_oidx`` / ``_vidx``) as file positions,
    or None when it selects everything in order."""
    if isinstance(index, slice):
        start, stop, step = index.indices(length)
        if (start, stop, step) == (0, length, 1):
            return None
        return np.arange(start, stop, step, dtype=np.int64)
    positions = np.asarray(index)
    if positions.dtype == bool:
        positions = np.flatnonzero(positions)
    return positions.astype(np.int64, copy=False).reshape(-1)
