"""Every array input becomes a dask array chunked along cells.

The in-memory kinds (numpy, scipy sparse, dask) are registered here; the kinds that live on
disk or in other libraries in :mod:`cellucid.inputs.lazy`. See
:mod:`cellucid.inputs.adapters` for the registry.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import scipy.sparse as sp

from cellucid.inputs.adapters import dense_chunks, register_adapter, wrap
from cellucid.inputs.readable import refuse_unreadable


def as_cell_chunked(
    x: Any, chunk_rows: int, chunk_cols: int = -1, label: str | None = None
) -> da.Array:
    """Wrap ``x`` as a dask array with ``chunk_rows`` rows per chunk.

    Chunks hold whole rows, except that a dense 2-D input read from memory or disk is cut
    into ``chunk_cols`` columns when given (sparse rows cannot be cut cheaply). ``label``
    names the input in messages (the parameter, e.g. ``"X_umap_2d"``).

    Raises
    ------
    TypeError
        If no adapter knows the kind of input.
    ValueError
        An input that cannot be read as given (:func:`~cellucid.inputs.readable.refuse_unreadable`).
    """
    # imported for its registrations; kept here so the light inputs do not pay for it
    from cellucid.inputs import lazy  # noqa: F401

    refuse_unreadable(x, label or "an input")
    return wrap(x, chunk_rows, chunk_cols, label)


def is_sparse_array(x: da.Array) -> bool:
    """Whether the chunks of a dask array are scipy sparse matrices."""
    return sp.issparse(getattr(x, "_meta", None))


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
