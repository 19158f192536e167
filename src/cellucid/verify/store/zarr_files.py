"""A Zarr store (format 2 or 3) in a folder or a ``.zarr.zip``.

The nodes come from the metadata documents themselves, parsed as JSON, not from
zarr-python's view of them: the checks compare configurations exactly, and the raw documents
are also what the consolidated metadata must repeat. zarr-python only reads the values.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .nodes import ZARR_DOCUMENTS, Codec, Node, Store, StoreError, join


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
