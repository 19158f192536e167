"""Every array input becomes a dask array chunked along cells.

Adapters are registered by type (in the style of anndata's IO registry) rather than
chained with ``if``: :func:`register_adapter` adds one, :func:`as_cell_chunked` picks the
first whose predicate accepts the object. Modules for optional kinds of input (h5py,
zarr, xarray, anndata backed datasets) register themselves in :mod:`cellucid.engine.lazy_inputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import scipy.sparse as sp

# (input, rows per chunk, columns per chunk of a dense 2-D input; -1 for all)
Wrapper = Callable[[Any, int, int], da.Array]


@dataclass(frozen=True)
class Adapter:
    """Turns one kind of input into a dask array chunked along its first axis."""

    name: str
    accepts: Callable[[Any], bool]
    wrap: Wrapper


_ADAPTERS: list[Adapter] = []


def register_adapter(name: str, accepts: Callable[[Any], bool], wrap: Wrapper) -> None:
    """Register an input adapter; later registrations take precedence."""
    _ADAPTERS.insert(0, Adapter(name, accepts, wrap))


def as_cell_chunked(x: Any, chunk_rows: int, chunk_cols: int = -1) -> da.Array:
    """Wrap ``x`` as a dask array with ``chunk_rows`` rows per chunk.

    Chunks hold whole rows, except that a dense 2-D input read from memory or disk is cut
    into ``chunk_cols`` columns when given (sparse rows cannot be cut cheaply).

    Raises
    ------
    TypeError
        If no adapter knows the kind of input.
    """
    # imported for its registrations; kept here so the light inputs do not pay for it
    from cellucid.engine import lazy_inputs  # noqa: F401

    for adapter in _ADAPTERS:
        if adapter.accepts(x):
            return adapter.wrap(x, chunk_rows, chunk_cols)
    raise TypeError(
        f"Cannot read an input of type {type(x).__module__}.{type(x).__name__}; pass a numpy "
        "array, a scipy sparse matrix or array, a dask array, an h5py dataset, a zarr array "
        "or an xarray DataArray."
    )


def is_sparse_array(x: da.Array) -> bool:
    """Whether the chunks of a dask array are scipy sparse matrices."""
    return sp.issparse(getattr(x, "_meta", None))


def dense_chunks(shape: tuple[int, ...], chunk_rows: int, chunk_cols: int) -> tuple:
    """Chunk sizes of a dense input: rows, then columns (all unless ``chunk_cols``)."""
    if len(shape) == 2 and chunk_cols > 0:
        return (chunk_rows, chunk_cols)
    return (chunk_rows,) + tuple(shape[1:])


def _wrap_dask(x: da.Array, chunk_rows: int, chunk_cols: int) -> da.Array:
    if x.ndim == 1:
        return x.rechunk({0: chunk_rows})
    return x.rechunk({0: chunk_rows, **{axis: -1 for axis in range(1, x.ndim)}})


def _wrap_numpy(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    array = np.asarray(x)
    chunks = dense_chunks(array.shape, chunk_rows, chunk_cols)
    return da.from_array(array, chunks=chunks, name=False)


def _wrap_scipy(x: Any, chunk_rows: int, chunk_cols: int) -> da.Array:
    # CSR slices rows cheaply; COO cannot be sliced and CSC slices rows slowly.
    matrix = sp.csr_matrix(x) if not isinstance(x, sp.csr_matrix) else x
    return da.from_array(
        matrix,
        chunks=(chunk_rows, matrix.shape[1]),
        asarray=False,
        name=False,
        meta=sp.csr_matrix((0, 0), dtype=matrix.dtype),
    )


register_adapter("numpy", lambda x: isinstance(x, (np.ndarray, list, tuple)), _wrap_numpy)
register_adapter("scipy.sparse", sp.issparse, _wrap_scipy)
register_adapter("dask", lambda x: isinstance(x, da.Array), _wrap_dask)
