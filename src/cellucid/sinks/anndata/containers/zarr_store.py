"""A Cellucid-ready AnnData as a Zarr folder (format 2 or 3), unsharded, consolidated.

The metadata documents are written here from each array's :class:`~..backend.ArraySpec`
and codec chain, as zarr-python 3 lays them out (same keys, order and 2-space indent), and
every chunk is encoded by our own threads and stored as one file under its key:
``X/data/17`` in format 2 (``X/0.1`` for a 2-D array: the ``.`` dimension separator), and
``X/data/c/17`` in format 3 (``X/c/0/1``; a 0-d array's only chunk is ``c``). One chunk is
one file, read with one request: never sharded.

A chunk whose values all equal the fill value is not stored (zarr-python's default), so
e.g. an all-zero column has no chunk file. At :meth:`ZarrStore.close` the consolidated
metadata is written (``.zmetadata`` in format 2, inline in the root ``zarr.json`` in format
3): a browser cannot list a folder, and learns every array from that one document.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import (
    CHUNKS_PER_WORKER,
    ArraySpec,
    Chunk,
    ChunkLedger,
    all_fill,
    checked_chunk,
    make_pool,
    ordered_map,
    padded,
)
from ..codecs import CodecChain, zarr_chain
from ..layout import chunk_selection, grid_positions

JSON = dict[str, Any]

#: The block a format 3 subgroup's entry carries in consolidated metadata (zarr-python marks
#: every child group explicitly as holding no further consolidated entries).
_EMPTY_CONSOLIDATED_V3 = {"kind": "inline", "must_understand": False, "metadata": {}}
_EMPTY_CONSOLIDATED_V2 = {"metadata": {}, "must_understand": False, "kind": "inline"}


def _document(value: Any) -> bytes:
    return json.dumps(value, indent=2, allow_nan=True).encode()


def _v2_dtype(dtype: np.dtype) -> str:
    # one-byte types keep "|" (no byte order): "|b1", "|i1"
    return "|O" if dtype.kind == "O" else dtype.newbyteorder("<").str


def _v3_dtype(dtype: np.dtype) -> str:
    return "string" if dtype.kind == "O" else dtype.name


def _consolidated_order(item: tuple[str, Any]) -> tuple[int, str]:
    # zarr-python's order: by depth, then by the case-folded, normalised path
    return item[0].count("/"), unicodedata.normalize("NFKC", item[0]).casefold()


class ZarrStore:
    """A Zarr folder store being written (see the module docstring).

    Parameters
    ----------
    path
        The folder to create (it must not exist, or be empty).
    zarr_format
        2 or 3.
    workers
        Threads encoding chunks.
    """

    def __init__(self, path: Path, zarr_format: int, workers: int) -> None:
        if zarr_format not in (2, 3):
            raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise FileExistsError(f"{path} is not empty")
        self.root = path
        self.zarr_format = zarr_format
        self._nodes: dict[str, JSON] = {}
        self._root_attrs: JSON = {}
        self._arrays: dict[str, tuple[ArraySpec, CodecChain]] = {}
        self._pool = make_pool(workers)
        self._window = CHUNKS_PER_WORKER * max(1, workers)

    # -- declarations -------------------------------------------------------------------------

    def group(self, path: str, attrs: Mapping[str, Any]) -> None:
        """Declare a group (``""``: the root) and write its metadata."""
        attrs = dict(attrs)
        folder = self.root / path
        folder.mkdir(parents=True, exist_ok=True)
        if self.zarr_format == 2:
            (folder / ".zgroup").write_bytes(_document({"zarr_format": 2}))
            (folder / ".zattrs").write_bytes(_document(attrs))
        else:
            doc = {"attributes": attrs, "zarr_format": 3, "node_type": "group"}
            (folder / "zarr.json").write_bytes(_document(doc))
        if path:
            self._nodes[path] = {"group": attrs}
        else:
            self._root_attrs = attrs

    def array(self, spec: ArraySpec) -> None:
        """Declare an array and write its metadata."""
        chain = zarr_chain(spec.dtype, self.zarr_format, shuffle=spec.shuffle)
        folder = self.root / spec.path
        folder.mkdir(parents=True, exist_ok=True)
        attrs = dict(spec.attrs)
        if self.zarr_format == 2:
            doc = self._zarray(spec, chain)
            (folder / ".zarray").write_bytes(_document(doc))
            (folder / ".zattrs").write_bytes(_document(attrs))
        else:
            doc = self._v3_array(spec, chain, attrs)
            (folder / "zarr.json").write_bytes(_document(doc))
        self._nodes[spec.path] = {"array": doc, "attrs": attrs}
        self._arrays[spec.path] = (spec, chain)

    @staticmethod
    def _zarray(spec: ArraySpec, chain: CodecChain) -> JSON:
        codecs = chain.zarr_v2()
        return {
            "shape": list(spec.shape),
            "chunks": list(spec.chunks),
            "dtype": _v2_dtype(spec.dtype),
            "fill_value": spec.fill_value,
            "order": "C",
            "filters": codecs["filters"],
            "dimension_separator": ".",
            "compressor": codecs["compressor"],
            "zarr_format": 2,
        }

    @staticmethod
    def _v3_array(spec: ArraySpec, chain: CodecChain, attrs: JSON) -> JSON:
        return {
            "shape": list(spec.shape),
            "data_type": _v3_dtype(spec.dtype),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(spec.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": spec.fill_value,
            "codecs": chain.zarr_v3(),
            "attributes": attrs,
            "zarr_format": 3,
            "node_type": "array",
            "storage_transformers": [],
        }

    # -- values -------------------------------------------------------------------------------

    def chunk_key(self, position: tuple[int, ...]) -> str:
        """The key of a chunk under its array's folder."""
        if self.zarr_format == 2:
            return ".".join(str(index) for index in position) or "0"
        return "/".join(("c", *(str(index) for index in position)))

    def write(self, path: str, values: np.ndarray) -> None:
        """Write every chunk of a declared array from its values."""
        spec, _ = self._array(path)
        values = np.asarray(values)
        chunks = (
            (path, position, values[chunk_selection(position, spec.chunks, spec.shape)])
            for position in grid_positions(spec.shape, spec.chunks)
        )
        self.write_chunks(chunks, [path])

    def write_chunks(self, chunks: Iterable[Chunk], paths: Sequence[str]) -> dict[str, int]:
        """Store streamed chunks of the arrays ``paths``, in any order; every chunk once.

        Returns the number of chunks received per array; raises if one is missing.
        """
        ledger = ChunkLedger({path: self._array(path)[0] for path in paths})

        def jobs() -> Iterable[tuple[Any, ...]]:
            for path, position, values in chunks:
                ledger.receive(path, position)
                spec, chain = self._arrays[path]
                yield spec, chain, tuple(int(index) for index in position), values

        for _ in ordered_map(self._pool, self._store_chunk, jobs(), self._window):
            pass
        return ledger.finish()

    def _store_chunk(
        self, spec: ArraySpec, chain: CodecChain, position: tuple[int, ...], values: Any
    ) -> None:
        values = checked_chunk(spec, position, values)
        if all_fill(values):
            return
        data = chain.encode(padded(values, spec.chunks, spec.fill_value))
        target = self.root / spec.path / self.chunk_key(position)
        if len(position) > 1 or self.zarr_format == 3:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _array(self, path: str) -> tuple[ArraySpec, CodecChain]:
        try:
            return self._arrays[path]
        except KeyError:
            raise ValueError(f"{path!r} is not a declared array") from None

    # -- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Write the consolidated metadata and stop the encoding threads."""
        self._pool.shutdown()
        entries = sorted(self._nodes.items(), key=_consolidated_order)
        if self.zarr_format == 2:
            (self.root / ".zmetadata").write_bytes(self._zmetadata(entries))
        else:
            (self.root / "zarr.json").write_bytes(_document(self._consolidated_root(entries)))

    def abort(self) -> None:
        """Stop the encoding threads after a failure (the caller removes the folder)."""
        self._pool.shutdown(cancel_futures=True)

    def _zmetadata(self, entries: list[tuple[str, JSON]]) -> bytes:
        metadata: JSON = {".zgroup": {"zarr_format": 2}, ".zattrs": self._root_attrs}
        for path, node in entries:
            if "group" in node:
                metadata[f"{path}/.zattrs"] = node["group"]
                metadata[f"{path}/.zgroup"] = {
                    "zarr_format": 2,
                    "consolidated_metadata": _EMPTY_CONSOLIDATED_V2,
                }
            else:
                metadata[f"{path}/.zattrs"] = node["attrs"]
                metadata[f"{path}/.zarray"] = node["array"]
        # zarr-python writes this one document without indentation
        return json.dumps({"metadata": metadata, "zarr_consolidated_format": 1}).encode()

    def _consolidated_root(self, entries: list[tuple[str, JSON]]) -> JSON:
        metadata: JSON = {}
        for path, node in entries:
            if "group" in node:
                metadata[path] = {
                    "attributes": node["group"],
                    "zarr_format": 3,
                    "consolidated_metadata": _EMPTY_CONSOLIDATED_V3,
                    "node_type": "group",
                }
            else:
                metadata[path] = node["array"]
        consolidated = {"kind": "inline", "must_understand": False, "metadata": metadata}
        return {
            "attributes": self._root_attrs,
            "zarr_format": 3,
            "consolidated_metadata": consolidated,
            "node_type": "group",
        }
