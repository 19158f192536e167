"""Element writers of a Cellucid-ready AnnData store, chosen by the type of the value.

Every element is laid out with anndata's own encodings (``encoding-type`` and
``encoding-version`` on every group and array), so ``anndata.read_h5ad`` / ``read_zarr`` read
the result as they read their own. A registry maps each value type to its writer, as
anndata's IO registry does:

=============================== =====================================================
value                           element
=============================== =====================================================
``dict``                        ``dict`` 0.1.0 group, each item an element
``str``                         ``string`` 0.2.0 (a 0-d array)
``bool``, ``int``, ``float``,   ``numeric-scalar`` 0.2.0 (a 0-d array)
numpy scalars
``numpy.ndarray``               ``string-array`` 0.2.0 (strings) or ``array`` 0.2.0
``pandas.Categorical``          ``categorical`` 0.2.0 (``codes``, ``categories``)
pandas ``Int*`` / ``boolean``   ``nullable-integer`` / ``nullable-boolean`` 0.1.0
                                (``values``, ``mask``)
``scipy.sparse`` CSR            ``csr_matrix`` 0.1.0 (``indptr``, ``data``, ``indices``,
                                which carry no encoding attributes)
=============================== =====================================================

plus the ``dataframe`` 0.2.0 groups of ``obs`` and ``var`` and the expression matrix ``X``.

Writing is two-phase (:mod:`.backend`): :func:`declare_content` declares every group and
array with its attributes and queues each array's values, marking those the web app reads
to open the store (``uns`` but its outlier quantile arrays, the gene names, ``X/indptr``,
the labels of ``obs`` categoricals); :func:`write_store` then writes those values first and
the rest in the order declared, and the streamed chunks of ``X`` last.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .backend import ArraySpec, Chunk, Container
from .containers import ContainerName, open_container
from .content import DenseX, SparseX, StoreContent
from .layout import (
    SLICED_CHUNK_ELEMENTS,
    indices_dtype,
    indptr_dtype,
    row_chunks,
    strip_chunks,
    vector_chunks,
)

#: The one ``uns`` element the web app does not read to open a store: an array per obs
#: column, read only when outliers are filtered.
OUTLIER_QUANTILES_PATH = "uns/cellucid/outlierQuantiles"


def encoding(kind: str, version: str) -> dict[str, str]:
    """anndata's encoding attributes."""
    return {"encoding-type": kind, "encoding-version": version}


@dataclass(frozen=True)
class Opening:
    """What of an element the web app reads as it opens the store.

    ``values``: the element's arrays (``uns``, the gene names, ``X/indptr``); ``labels``: a
    categorical's categories (every ``obs`` field is listed with its categories at opening).
    A scalar is always read at opening.
    """

    values: bool = False
    labels: bool = False


NOT_OPENING = Opening()


class ElementWriter:
    """Declares elements in a container and queues their values.

    Parameters
    ----------
    container
        The store being written.
    """

    def __init__(self, container: Container) -> None:
        self.container = container
        self.opening: list[tuple[str, Callable[[], Any]]] = []
        self.rest: list[tuple[str, Callable[[], Any]]] = []

    def element(self, path: str, value: Any, opening: Opening = NOT_OPENING) -> None:
        """Declare ``value`` at ``path`` with the writer registered for its type."""
        for kind in type(value).__mro__:
            handler = WRITERS.get(kind)
            if handler is not None:
                handler(self, path, value, opening)
                return
        raise TypeError(f"{path}: no store encoding for a value of type {type(value).__name__}")

    def group(self, path: str, attrs: Mapping[str, Any]) -> None:
        """Declare a group."""
        self.container.group(path, attrs)

    def array(
        self,
        path: str,
        values: Callable[[], Any] | np.ndarray | None,
        *,
        shape: tuple[int, ...],
        dtype: Any,
        chunks: tuple[int, ...],
        attrs: Mapping[str, Any] | None = None,
        shuffle: bool = True,
        opening: bool = False,
    ) -> None:
        """Declare an array and queue its values (an array, or a function making them).

        ``attrs`` defaults to the ``array`` 0.2.0 encoding; ``values`` ``None`` queues none
        (they are streamed).
        """
        attrs = encoding("array", "0.2.0") if attrs is None else attrs
        spec = ArraySpec(path, tuple(shape), np.dtype(dtype), tuple(chunks), attrs, shuffle)
        self.container.array(spec)
        if values is not None:
            produce = values if callable(values) else (lambda: values)
            (self.opening if opening else self.rest).append((path, produce))

    def dataframe(
        self,
        path: str,
        index: np.ndarray,
        columns: Mapping[str, Any],
        *,
        index_opening: bool = False,
        labels_opening: bool = False,
    ) -> None:
        """A ``dataframe`` 0.2.0 group: the index in ``_index``, then every column."""
        order = list(columns)
        self.group(
            path, {**encoding("dataframe", "0.2.0"), "_index": "_index", "column-order": order}
        )
        self.element(f"{path}/_index", np.asarray(index, dtype=object), Opening(index_opening))
        for name, column in columns.items():
            self.element(f"{path}/{name}", column, Opening(labels=labels_opening))

    def write_values(self) -> None:
        """Write the queued values: those read at opening first, then the rest as declared."""
        for path, produce in [*self.opening, *self.rest]:
            self.container.write(path, produce())
        self.opening.clear()
        self.rest.clear()


Writer = Callable[[ElementWriter, str, Any, Opening], None]


def _mapping(writer: ElementWriter, path: str, value: Mapping[str, Any], opening: Opening) -> None:
    writer.group(path, encoding("dict", "0.1.0"))
    for name, item in value.items():
        child = f"{path}/{name}"
        read = opening.values and child != OUTLIER_QUANTILES_PATH
        writer.element(child, item, Opening(values=read))


def _scalar(writer: ElementWriter, path: str, value: Any, opening: Opening) -> None:
    """A text or number: a 0-d array. Every scalar is read at opening (they are all in uns)."""
    if isinstance(value, str):
        data, attrs = np.array(str(value), dtype=object), encoding("string", "0.2.0")
    else:
        data, attrs = np.asarray(value), encoding("numeric-scalar", "0.2.0")
    writer.array(path, data, shape=(), dtype=data.dtype, chunks=(), attrs=attrs, opening=True)


def _ndarray(writer: ElementWriter, path: str, value: np.ndarray, opening: Opening) -> None:
    if value.ndim == 0:
        _scalar(writer, path, value.item(), opening)
        return
    chunks = vector_chunks(len(value)) if value.ndim == 1 else row_chunks(value.shape)
    if value.dtype.kind in "OUST":
        strings = np.asarray(value, dtype=object)
        attrs = encoding("string-array", "0.2.0")
        writer.array(
            path,
            strings,
            shape=value.shape,
            dtype=object,
            chunks=chunks,
            attrs=attrs,
            opening=opening.values,
        )
        return
    writer.array(
        path, value, shape=value.shape, dtype=value.dtype, chunks=chunks, opening=opening.values
    )


def _categorical(writer: ElementWriter, path: str, value: pd.Categorical, opening: Opening) -> None:
    """Codes at the smallest integer type pandas chose; categories text or numbers."""
    writer.group(path, {**encoding("categorical", "0.2.0"), "ordered": bool(value.ordered)})
    codes = np.asarray(value.codes)
    writer.element(f"{path}/codes", codes)
    categories = value.categories.to_numpy()
    if categories.dtype.kind == "O":
        categories = categories.astype(object)
    writer.element(f"{path}/categories", categories, Opening(values=opening.labels))


def _nullable(writer: ElementWriter, path: str, value: Any, opening: Opening) -> None:
    """``values`` (missing ones stored as 0 / False) and ``mask`` (true where missing)."""
    kind = "nullable-boolean" if isinstance(value, pd.arrays.BooleanArray) else "nullable-integer"
    writer.group(path, encoding(kind, "0.1.0"))
    values = value.to_numpy(dtype=value.dtype.numpy_dtype, na_value=0)
    writer.element(f"{path}/values", values)
    writer.element(f"{path}/mask", np.asarray(value.isna(), dtype=bool))


def _csr(writer: ElementWriter, path: str, matrix: Any, opening: Opening) -> None:
    """A ``csr_matrix`` 0.1.0 group; its three arrays carry no encoding attributes."""
    shape = [int(extent) for extent in matrix.shape]
    writer.group(path, {**encoding("csr_matrix", "0.1.0"), "shape": shape})
    nnz = int(matrix.nnz)
    entries = vector_chunks(nnz)
    for name, values, dtype, chunks in (
        ("indptr", matrix.indptr, indptr_dtype(nnz), vector_chunks(len(matrix.indptr))),
        ("data", matrix.data, matrix.data.dtype, entries),
        ("indices", matrix.indices, indices_dtype(shape[1]), entries),
    ):
        writer.array(
            f"{path}/{name}", values, shape=values.shape, dtype=dtype, chunks=chunks, attrs={}
        )


#: The writer of each value type (looked up along the value type's MRO).
WRITERS: dict[type, Writer] = {
    dict: _mapping,
    str: _scalar,
    bool: _scalar,
    int: _scalar,
    float: _scalar,
    np.generic: _scalar,
    np.ndarray: _ndarray,
    pd.Categorical: _categorical,
    pd.arrays.IntegerArray: _nullable,
    pd.arrays.BooleanArray: _nullable,
    sparse.csr_matrix: _csr,
    sparse.csr_array: _csr,
}


def declare_x(writer: ElementWriter, x: SparseX | DenseX | None, *, pointers: bool) -> list[str]:
    """Declare the expression matrix ``X``, in two steps as an ``.h5ad`` places it.

    ``pointers``: the ``csc_matrix`` group and its ``indptr`` (read at opening); otherwise the
    arrays whose values are streamed (``data`` and ``indices``, or a dense ``X``), whose paths
    are returned in the order they are stored.
    """
    if x is None:
        return []
    if isinstance(x, SparseX):
        if pointers:
            shape = [int(extent) for extent in x.shape]
            writer.group("X", {**encoding("csc_matrix", "0.1.0"), "shape": shape})
            writer.array(
                "X/indptr",
                x.indptr,
                shape=x.indptr.shape,
                dtype=x.indptr_dtype,
                chunks=vector_chunks(len(x.indptr)),
                attrs={},
                opening=True,
            )
            return []
        chunks = vector_chunks(x.nnz, SLICED_CHUNK_ELEMENTS)
        # the expression values repeat whole and compress best unshuffled; the indices shuffled
        writer.array(
            "X/data", None, shape=(x.nnz,), dtype=x.dtype, chunks=chunks, attrs={}, shuffle=False
        )
        writer.array(
            "X/indices", None, shape=(x.nnz,), dtype=x.indices_dtype, chunks=chunks, attrs={}
        )
        return ["X/data", "X/indices"]
    if pointers:
        return []
    writer.array(
        "X", None, shape=x.shape, dtype=x.dtype, chunks=strip_chunks(x.shape), shuffle=False
    )
    return ["X"]


def declare_content(writer: ElementWriter, content: StoreContent) -> list[str]:
    """Declare every element of ``content`` in upstream 0.9.5's order; returns X's streamed paths.

    The order is the order an ``.h5ad`` holds their values (after those read at opening).
    """
    writer.group("", encoding("anndata", "0.1.0"))
    writer.element("uns", dict(content.uns), Opening(values=True))
    writer.dataframe("var", content.var_index, content.var, index_opening=True)
    declare_x(writer, content.x, pointers=True)
    writer.dataframe("obs", content.obs_index, content.obs, labels_opening=True)
    writer.group("obsm", encoding("dict", "0.1.0"))
    for key, values in content.obsm.items():
        writer.element(f"obsm/{key}", np.asarray(values))
    writer.group("obsp", encoding("dict", "0.1.0"))
    for key, matrix in content.obsp.items():
        writer.element(f"obsp/{key}", matrix)
    for name in ("varm", "varp", "layers"):
        writer.group(name, encoding("dict", "0.1.0"))
    return declare_x(writer, content.x, pointers=False)


def write_store(
    path: Path,
    container: ContainerName,
    content: StoreContent,
    x_chunks: Iterable[Chunk] | None,
    *,
    zarr_format: int = 2,
    encode_workers: int | None = None,
) -> dict[str, int]:
    """Write a complete Cellucid-ready AnnData store at ``path``.

    Parameters
    ----------
    path
        Where to write: a folder for ``"zarr"``, a file otherwise. It must not exist (an
        empty folder is accepted for ``"zarr"``); the caller writes to a temporary sibling
        and renames it into place. ``"zarr.zip"`` also uses a folder ``<path>.zarr`` beside
        it while writing, removed at the end.
    container
        ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``.
    content
        Everything but the values of X.
    x_chunks
        The values of X, chunk by chunk: ``(array path, grid position, values)`` with array
        paths ``"X/data"`` and ``"X/indices"`` (sparse X) or ``"X"`` (dense X), positions in
        the chunk grid of :func:`declare_x`'s chunk shapes, and values shorter at the array's
        edge. Zarr takes them in any order; an ``.h5ad`` needs each array's chunks in grid
        order (arrays may interleave; a later array's chunks are spooled until the earlier
        array is complete). Consumed in the calling thread; a yielded array must not be
        modified afterwards. ``None`` when X has no values to stream.
    zarr_format
        2 or 3 for the Zarr containers.
    encode_workers
        Threads compressing chunks (default: every core).

    Returns
    -------
    dict
        Chunks received per streamed X array.

    Raises
    ------
    ValueError
        A chunk outside its array's grid, of the wrong shape, arriving twice or (h5ad) out of
        order, or missing at the end; the store is then left incomplete for the caller to
        remove.
    """
    workers = encode_workers or os.cpu_count() or 1
    store = open_container(path, container, zarr_format=zarr_format, workers=workers)
    try:
        writer = ElementWriter(store)
        streamed = declare_content(writer, content)
        writer.write_values()
        received = store.write_chunks(x_chunks if x_chunks is not None else (), streamed)
        store.close()
    except BaseException:
        store.abort()
        raise
    return received
