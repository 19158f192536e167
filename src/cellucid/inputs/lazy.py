"""Adapters for inputs that live on disk or in other array libraries.

Each adapter only imports its library when the object is of that library's type, so an
input of one kind never pays for importing the others.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import scipy.sparse as sp

from cellucid.inputs.adapters import dense_chunks, register_adapter, wrap
from cellucid.inputs.loaded import is_loaded_instance


def _module_of(x: Any) -> str:
    return type(x).__module__ or ""


def _is_h5py_dataset(x: Any) -> bool:
    return is_loaded_instance(x, "h5py", "Dataset")


def _is_zarr_array(x: Any) -> bool:
    return is_loaded_instance(x, "zarr", "Array")


def _is_xarray(x: Any) -> bool:
    return is_loaded_instance(x, "xarray", "DataArray")


def _is_backed_sparse(x: Any) -> bool:
    # anndata's backed CSR/CSC datasets (anndata.abc.CSRDataset / CSCDataset)
    if is_loaded_instance(x, "anndata.abc", "CSRDataset", "CSCDataset"):
        return True
    return _module_of(x).startswith("anndata") and hasattr(x, "format") and hasattr(x, "shape")


def _wrap_on_disk(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    chunks = dense_chunks(tuple(x.shape), chunk_rows, chunk_cols)
    return da.from_array(x, chunks=chunks, name=False)


def _wrap_xarray(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    return wrap(x.data, chunk_rows, chunk_cols)


def _wrap_backed_sparse(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    meta = sp.csr_matrix((0, 0), dtype=x.dtype)
    return da.from_array(x, chunks=(chunk_rows, x.shape[1]), asarray=False, name=False, meta=meta)


register_adapter("h5py", _is_h5py_dataset, _wrap_on_disk)
register_adapter("zarr", _is_zarr_array, _wrap_on_disk)
register_adapter("xarray", _is_xarray, _wrap_xarray)
register_adapter("anndata-backed-sparse", _is_backed_sparse, _wrap_backed_sparse)


def _is_store_reader(x: Any) -> bool:
    from cellucid.inputs.store_arrays import DenseReader, RowsReader, SparseReader

    return isinstance(x, (DenseReader, SparseReader, RowsReader))


def _wrap_store_reader(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    from cellucid.inputs.store_arrays import RowsReader, SparseReader

    base = x.base if isinstance(x, RowsReader) else x
    if isinstance(base, SparseReader):
        meta = sp.csr_matrix((0, 0), dtype=x.dtype)
        return da.from_array(
            x, chunks=(chunk_rows, x.shape[1]), asarray=False, meta=meta, name=False
        )
    chunks = dense_chunks(tuple(x.shape), chunk_rows, chunk_cols)
    meta = np.empty((0,) * x.ndim, x.dtype)
    return da.from_array(x, chunks=chunks, asarray=False, meta=meta, name=False)


register_adapter("store-reader", _is_store_reader, _wrap_store_reader)
