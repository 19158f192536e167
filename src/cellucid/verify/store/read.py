"""Opening a Cellucid-ready AnnData store for reading, whatever holds it.

Three containers hold the same tree of groups and arrays: a ``.zarr`` folder (Zarr format 2
or 3), the same store packed into a ``.zarr.zip``, and an HDF5 ``.h5ad``. :func:`open_store`
gives one :class:`Store` for each, whose :attr:`Store.nodes` describe every group and array
(attributes, dtype, shape, chunks and codec configuration, in one vocabulary) and whose
:meth:`Store.read` returns an array's values or a slice of them.

For a Zarr store the description comes from the metadata documents themselves, parsed as
JSON, not from zarr-python's view of them: the checks compare configurations exactly, and the
raw documents are also what the consolidated metadata must repeat. zarr-python only reads the
values.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

#: The suffixes of the three containers, longest first so ``.zarr.zip`` wins over ``.zarr``.
STORE_SUFFIXES = (".zarr.zip", ".zarr", ".h5ad")

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


# =============================================================================
# Zarr: metadata documents from a folder or a ZIP, values through zarr-python
# =============================================================================


class ZarrStore(Store):
    """A Zarr store in a folder or a ``.zarr.zip``."""

    def __init__(self, path: Path, zipped: bool) -> None:
        super().__init__(path)
        self.container = "zarr.zip" if zipped else "zarr"
        self.archive: zipfile.ZipFile | None = None
        if zipped:
            try:
                self.archive = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile) as error:
                raise StoreError(f"{path}: not a readable ZIP archive ({error})") from error
            self.keys = [info.filename for info in self.archive.infolist()]
        else:
            self.keys = sorted(_folder_documents(path))
        #: Every metadata document, parsed: ``{"obs/n/.zarray": {...}}``.
        self.documents: dict[str, Any] = {}
        for key in self.keys:
            if key.rsplit("/", 1)[-1] in ZARR_DOCUMENTS:
                self._parse(key)
        self.zarr_format = 3 if "zarr.json" in self.documents else 2
        if "zarr.json" not in self.documents and ".zgroup" not in self.documents:
            raise StoreError(f"{path}: no Zarr root group document (.zgroup or zarr.json)")
        if self.zarr_format == 2:
            self.nodes = _v2_nodes(self.documents, self.problems)
        else:
            self.nodes = _v3_nodes(self.documents, self.problems)
        self._root: Any = None
        self._zarr_store: Any = None
        self._arrays: dict[str, Any] = {}

    def raw(self, key: str) -> bytes:
        """The bytes of one file (folder) or entry (ZIP) of the store."""
        if self.archive is not None:
            return self.archive.read(key)
        return (self.path / key).read_bytes()

    def _parse(self, key: str) -> None:
        try:
            self.documents[key] = json.loads(self.raw(key))
        except (OSError, KeyError, ValueError) as error:
            self.problems.append(f"{key}: metadata document is not readable JSON ({error})")

    def close(self) -> None:
        if self._zarr_store is not None:
            self._zarr_store.close()
            self._zarr_store = None
        if self.archive is not None:
            self.archive.close()
            self.archive = None

    def _array(self, path: str) -> Any:
        if path not in self._arrays:
            if self._root is None:
                import zarr
                from zarr.storage import LocalStore, ZipStore

                if self.container == "zarr.zip":
                    self._zarr_store = ZipStore(self.path, mode="r")
                else:
                    self._zarr_store = LocalStore(self.path, read_only=True)
                self._root = zarr.open_group(
                    self._zarr_store,
                    mode="r",
                    zarr_format=self.zarr_format,
                    use_consolidated=False,
                )
            self._arrays[path] = self._root[path]
        return self._arrays[path]

    def read(self, path: str, selection: Any = ...) -> np.ndarray:
        values = np.asarray(self._array(path)[selection])
        if values.dtype.kind in "OTU":
            return values.astype(object)
        return values


def _folder_documents(root: Path) -> Iterator[str]:
    """The metadata documents of a store folder, as store keys (``obs/n/.zarray``)."""
    for folder, _, files in os.walk(root):
        for name in files:
            if name in ZARR_DOCUMENTS:
                yield Path(folder, name).relative_to(root).as_posix()


def _parent_paths(documents: dict[str, Any], names: tuple[str, ...]) -> set[str]:
    found = set()
    for key in documents:
        folder, _, name = key.rpartition("/")
        if name in names:
            found.add(folder)
    return found


def _with_children(nodes: dict[str, Node]) -> dict[str, Node]:
    children: dict[str, list[str]] = {path: [] for path in nodes}
    for path in nodes:
        if path:
            parent, _, name = path.rpartition("/")
            children.setdefault(parent, []).append(name)
    return {
        path: replace(node, children=tuple(sorted(children[path]))) for path, node in nodes.items()
    }


def _v2_nodes(documents: dict[str, Any], problems: list[str]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    groups = _parent_paths(documents, (".zgroup",))
    arrays = _parent_paths(documents, (".zarray",))
    for path in sorted(groups & arrays):
        problems.append(f"{path or 'root'}: both .zgroup and .zarray")
    for path in sorted(_parent_paths(documents, (".zattrs",)) - groups - arrays):
        problems.append(f"{join(path, '.zattrs')}: attributes of neither a group nor an array")
    for path in groups:
        nodes[path] = Node(path, True, _dict(documents.get(join(path, ".zattrs"), {})))
    for path in arrays - groups:
        nodes[path] = _v2_array(path, documents, problems)
    return _with_children(nodes)


def _v2_array(path: str, documents: dict[str, Any], problems: list[str]) -> Node:
    meta = _dict(documents[join(path, ".zarray")])
    attrs = _dict(documents.get(join(path, ".zattrs"), {}))
    filters = meta.get("filters") or []
    codecs = [
        Codec.of(str(f.get("id")), {k: v for k, v in f.items() if k != "id"}) for f in filters
    ]
    compressor = meta.get("compressor")
    if compressor:
        rest = {k: v for k, v in compressor.items() if k != "id"}
        codecs.append(Codec.of(str(compressor.get("id")), rest))
    dtype_text = meta.get("dtype")
    dtype, strings = _v2_dtype(dtype_text, filters)
    if dtype is None:
        problems.append(f"{path}: dtype {dtype_text!r} is not a dtype this store can hold")
    return Node(
        path,
        False,
        attrs,
        shape=tuple(meta.get("shape") or ()),
        dtype=dtype,
        strings=strings,
        chunks=tuple(meta.get("chunks") or ()),
        codecs=tuple(codecs),
        fill_value=meta.get("fill_value"),
        layout={
            "order": meta.get("order"),
            "dimension_separator": meta.get("dimension_separator", "."),
            "dtype": dtype_text,
        },
    )


def _v2_dtype(text: Any, filters: list[dict[str, Any]]) -> tuple[np.dtype | None, bool]:
    if text == "|O":
        vlen = any(f.get("id") == "vlen-utf8" for f in filters)
        return np.dtype(object), vlen
    try:
        return np.dtype(text), False
    except TypeError:
        return None, False


def _v3_nodes(documents: dict[str, Any], problems: list[str]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for key, document in documents.items():
        folder, _, name = key.rpartition("/")
        if name != "zarr.json":
            continue
        meta = _dict(document)
        attrs = _dict(meta.get("attributes", {}))
        if meta.get("node_type") == "group":
            nodes[folder] = Node(folder, True, attrs)
        elif meta.get("node_type") == "array":
            nodes[folder] = _v3_array(folder, meta, attrs, problems)
        else:
            problems.append(f"{key}: node_type {meta.get('node_type')!r} (expected group or array)")
    return _with_children(nodes)


def _v3_array(path: str, meta: dict[str, Any], attrs: dict[str, Any], problems: list[str]) -> Node:
    codecs = tuple(
        Codec.of(str(c.get("name")), c.get("configuration") or {}) for c in meta.get("codecs") or []
    )
    data_type = meta.get("data_type")
    strings = data_type in ("string", "variable_length_utf8")
    dtype: np.dtype | None = np.dtype(object)
    if not strings:
        try:
            dtype = np.dtype(data_type)
        except TypeError:
            dtype = None
            problems.append(f"{path}: data_type {data_type!r} is not a dtype this store can hold")
    grid = meta.get("chunk_grid") or {}
    chunk_shape = (grid.get("configuration") or {}).get("chunk_shape") or ()
    return Node(
        path,
        False,
        attrs,
        shape=tuple(meta.get("shape") or ()),
        dtype=dtype,
        strings=strings,
        chunks=tuple(chunk_shape),
        codecs=codecs,
        fill_value=meta.get("fill_value"),
        layout={
            "chunk_grid": grid.get("name"),
            "chunk_key_encoding": meta.get("chunk_key_encoding"),
            "storage_transformers": meta.get("storage_transformers") or [],
        },
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# =============================================================================
# HDF5
# =============================================================================


class H5adStore(Store):
    """An ``.h5ad`` file."""

    container = "h5ad"

    def __init__(self, path: Path) -> None:
        import h5py

        super().__init__(path)
        try:
            self.file = h5py.File(path, "r")
        except OSError as error:
            raise StoreError(f"{path}: not a readable HDF5 file ({error})") from error
        self.nodes = {"": _h5_node("", self.file)}
        self.file.visititems(lambda name, item: self.nodes.__setitem__(name, _h5_node(name, item)))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def read(self, path: str, selection: Any = ...) -> np.ndarray:
        import h5py

        dataset = self.file[path]
        if h5py.check_string_dtype(dataset.dtype) is not None:
            return np.asarray(dataset.asstr()[selection], dtype=object)
        if dataset.shape == () and selection is ...:
            return np.asarray(dataset[()])
        return np.asarray(dataset[selection])


def _h5_node(path: str, item: Any) -> Node:
    import h5py

    attrs = {key: plain(value) for key, value in item.attrs.items()}
    if isinstance(item, h5py.Group):
        return Node(path, True, attrs, children=tuple(sorted(item.keys())))
    strings = h5py.check_string_dtype(item.dtype)
    codecs = []
    if item.shuffle:
        codecs.append(Codec.of("shuffle"))
    if item.compression is not None:
        level = item.compression_opts
        codecs.append(Codec.of(str(item.compression), {} if level is None else {"level": level}))
    if item.fletcher32:
        codecs.append(Codec.of("fletcher32"))
    if item.scaleoffset is not None:
        codecs.append(Codec.of("scaleoffset", {"factor": item.scaleoffset}))
    is_vlen_utf8 = strings is not None and strings.length is None and strings.encoding == "utf-8"
    return Node(
        path,
        False,
        attrs,
        shape=tuple(item.shape),
        dtype=np.dtype(object) if strings is not None else np.dtype(item.dtype),
        strings=is_vlen_utf8,
        chunks=None if item.chunks is None else tuple(item.chunks),
        codecs=tuple(codecs),
        fill_value=plain(item.fillvalue),
        layout={"h5_string": strings},
    )


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


# =============================================================================
# Which container
# =============================================================================


def container_of(path: Path) -> str | None:
    """``"zarr.zip"``, ``"zarr"`` or ``"h5ad"`` by the name, or a folder holding a Zarr root."""
    lowered = path.name.lower()
    if lowered.endswith(".zarr.zip"):
        return "zarr.zip"
    if lowered.endswith(".h5ad"):
        return "h5ad"
    if lowered.endswith(".zarr"):
        return "zarr"
    if path.is_dir() and ((path / ".zgroup").is_file() or (path / "zarr.json").is_file()):
        return "zarr"
    return None


def open_store(path: str | os.PathLike[str]) -> Store:
    """Open a ``.zarr`` folder, ``.zarr.zip`` or ``.h5ad`` for reading.

    Raises
    ------
    StoreError
        The path does not exist, is not one of the three containers, or cannot be read as
        one (the message is one line naming it).
    """
    target = Path(path)
    if not target.exists():
        raise StoreError(f"{target}: does not exist")
    kind = container_of(target)
    if kind is None:
        raise StoreError(f"{target}: not a .zarr folder, .zarr.zip or .h5ad")
    if kind == "h5ad":
        if not target.is_file():
            raise StoreError(f"{target}: an .h5ad must be a file")
        return H5adStore(target)
    if kind == "zarr.zip" and not target.is_file():
        raise StoreError(f"{target}: a .zarr.zip must be a file")
    if kind == "zarr" and not target.is_dir():
        raise StoreError(f"{target}: a .zarr store must be a folder")
    return ZarrStore(target, zipped=kind == "zarr.zip")
