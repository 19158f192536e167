"""The registry of input adapters, keyed by the kind of object (in the style of anndata's
IO registry) rather than an if-chain.

:func:`register_adapter` adds one; :func:`wrap` picks the most recently registered adapter
whose predicate accepts the object. :mod:`cellucid.inputs.arrays` registers the in-memory
kinds and :mod:`cellucid.inputs.lazy` the on-disk and other libraries' kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.array as da

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


def wrap(x: Any, chunk_rows: int, chunk_cols: int = -1, label: str | None = None) -> da.Array:
    """Wrap ``x`` with the adapter registered for its kind (``label``: the parameter's name).

    Raises
    ------
    TypeError
        If no adapter knows the kind of input.
    """
    for adapter in _ADAPTERS:
        if adapter.accepts(x):
            return adapter.wrap(x, chunk_rows, chunk_cols)
    what = f"{label} is" if label else "Cannot read an input of type"
    raise TypeError(
        f"{what} {type(x).__module__}.{type(x).__name__}, which cannot be read as an array; "
        "pass a numpy array, a scipy sparse matrix or array, a dask array, an h5py dataset, "
        "a zarr array or an xarray DataArray."
    )


def dense_chunks(shape: tuple[int, ...], chunk_rows: int, chunk_cols: int) -> tuple:
    """Chunk sizes of a dense input: rows, then columns (all unless ``chunk_cols``)."""
    if len(shape) == 2 and chunk_cols > 0:
        return (chunk_rows, chunk_cols)
    return (chunk_rows,) + tuple(shape[1:])
