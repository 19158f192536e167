"""The vocabulary every container is described in: nodes (groups and arrays), codecs, stores.

A :class:`Node` describes one group or array the same way whatever holds it (attributes,
dtype, shape, chunks and codec pipeline); a :class:`Store` maps paths to nodes and reads an
array's values. The containers are in :mod:`.zarr_files` and :mod:`.h5ad_file`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The names of Zarr metadata documents (format 2 and 3).
ZARR_DOCUMENTS = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})


class StoreError(Exception):
    """The path cannot be opened as a store at all (the one line says why)."""


@dataclass(frozen=True)
class Codec:
    """One step of an array's encoding pipeline: a name and its configuration."""

    name: str
    config: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, config: dict[str, Any] | None = None) -> Codec:
        """A codec from a configuration mapping (its keys sorted, so equal configs compare)."""
        items = sorted((config or {}).items())
        return cls(name, tuple((key, _frozen(value)) for key, value in items))

    def describe(self) -> str:
        """``zlib(level=6)`` (``shuffle`` without a configuration): how messages name it."""
        if not self.config:
            return self.name
        inner = ", ".join(f"{key}={value}" for key, value in self.config)
        return f"{self.name}({inner})"


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


def describe_codecs(codecs: tuple[Codec, ...]) -> str:
    """A pipeline as messages print it: ``shuffle(elementsize=4) -> zlib(level=6)``."""
    return " -> ".join(codec.describe() for codec in codecs) if codecs else "none"


@dataclass(frozen=True)
class Node:
    """One group or array of a store.

    Attributes
    ----------
    path
        Its path from the root, ``""`` for the root (``"obs/cell_type/codes"``).
    group
        True for a group, False for an array.
    attrs
        Its attributes, with HDF5 values turned into plain Python (lists, str, bool, int).
    children
        The names of a group's members, sorted.
    shape, dtype, strings
        An array's shape and value type; ``strings`` when it holds variable-length UTF-8
        text (``dtype`` is then ``object``).
    chunks
        An array's chunk shape (``()`` for a Zarr scalar), None when not chunked (an HDF5
        scalar or contiguous dataset).
    codecs
        An array's encoding pipeline in the container's own terms (Zarr v2 filters then
        compressor; Zarr v3 codecs; HDF5 ``shuffle`` then ``gzip``).
    fill_value
        An array's fill value.
    layout
        Container details of an array that the checks look at (Zarr v2 ``order`` and
        ``dimension_separator``; Zarr v3 ``chunk_grid``, ``chunk_key_encoding``,
        ``storage_transformers``; the Zarr v2 dtype text).
    """

    path: str
    group: bool
    attrs: dict[str, Any] = field(default_factory=dict)
    children: tuple[str, ...] = ()
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    strings: bool = False
    chunks: tuple[int, ...] | None = None
    codecs: tuple[Codec, ...] = ()
    fill_value: Any = None
    layout: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last component of the path (``"root"`` for the root)."""
        return self.path.rsplit("/", 1)[-1] if self.path else "root"

    @property
    def size(self) -> int:
        """Number of elements of an array (1 for a scalar)."""
        return int(np.prod(self.shape)) if self.shape is not None else 0


def join(parent: str, name: str) -> str:
    """A child's path."""
    return f"{parent}/{name}" if parent else name


class Store:
    """A store opened for reading. Use :func:`open_store`; close it (or use ``with``)."""

    #: ``"zarr"`` (a folder), ``"zarr.zip"`` or ``"h5ad"``.
    container: str = ""
    #: 2 or 3 for a Zarr store, None for an ``.h5ad``.
    zarr_format: int | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nodes: dict[str, Node] = {}
        #: Problems found while reading the structure (unparsable documents, ...).
        self.problems: list[str] = []

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the files the store holds open."""

    def node(self, path: str) -> Node | None:
        """The node at ``path``, or None."""
        return self.nodes.get(path)

    def read(self, path: str, selection: Any = ...) -> np.ndarray:
        """An array's values (``selection`` of them), strings as an object array of ``str``."""
        raise NotImplementedError


def plain(value: Any) -> Any:
    """An attribute or scalar as plain Python: lists, str, bool, int, float."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()] if value.ndim else plain(value.item())
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
