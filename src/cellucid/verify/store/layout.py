"""How every array is laid out: its chunks, its codecs and its fill value.

The web app reads the store itself with range requests, one request and one decode per
chunk, so the layout is part of the contract:

- ``X/data`` and ``X/indices`` (read one gene's range at a time): chunks of
  ``min(nnz, 65,536)`` elements;
- every other 1-D array (read whole): ``min(n, 262,144)`` elements;
- a 2-D ``obsm`` array (read by rows): every column of ``262,144 // n_cols`` rows;
- a dense ``X`` (read one gene at a time): tall strips of ``min(n_cells, 262,144)`` rows;
- DEFLATE level 6 everywhere (HDF5 gzip, Zarr v2 zlib, Zarr v3 gzip), byte shuffle before it
  on every multi-byte array but the expression values (HDF5 shuffle filter, Zarr v2
  ``shuffle`` filter, Zarr v3 ``blosc`` with zlib); strings are not shuffled; fill value 0.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .read import Codec, Node, describe_codecs

SLICED_CHUNK_ELEMENTS = 2**16
WHOLE_CHUNK_ELEMENTS = 2**18
DEFLATE_LEVEL = 6


def role_of(ctx: Context, node: Node) -> str:
    """What the viewer does with an array, which decides its chunks and shuffle.

    ``values`` (sparse X's data: sliced, not shuffled), ``sliced`` (X's indices),
    ``strip`` (a dense X: not shuffled), ``rows`` (a 2-D array read by rows), ``scalar``
    or ``vector``.
    """
    x = ctx.node("X")
    sparse_x = x is not None and x.group
    if sparse_x and node.path == "X/data":
        return "values"
    if sparse_x and node.path == "X/indices":
        return "sliced"
    if node.path == "X" and not node.group:
        return "strip"
    if not node.shape:
        return "scalar"
    return "vector" if len(node.shape) == 1 else "rows"


def expected_chunks(node: Node, role: str) -> tuple[tuple[int, ...], str]:
    """The chunk shape the contract asks of ``node`` (not a scalar), and the rule's words."""
    shape = node.shape or ()
    if role in ("values", "sliced"):
        return (max(1, min(shape[0], SLICED_CHUNK_ELEMENTS)),), "min(nnz, 65,536) elements"
    if role == "strip":
        rows = max(1, min(shape[0], WHOLE_CHUNK_ELEMENTS))
        columns = max(1, min(shape[1], WHOLE_CHUNK_ELEMENTS // rows))
        return (rows, columns), "strips of min(n_cells, 262,144) rows and 262,144 // rows genes"
    if role == "rows":
        columns = max(1, shape[1])
        rows = max(1, min(shape[0], WHOLE_CHUNK_ELEMENTS // columns))
        return (rows, columns, *shape[2:]), "every column of 262,144 // n_cols rows"
    return (max(1, min(shape[0], WHOLE_CHUNK_ELEMENTS)),), "min(n, 262,144) elements"


def shuffled(node: Node, role: str) -> bool:
    """Multi-byte values other than the expression values are byte-shuffled."""
    if node.strings or node.dtype is None or role in ("values", "strip"):
        return False
    return node.dtype.itemsize > 1


def expected_pipelines(ctx: Context, node: Node, role: str) -> list[tuple[Codec, ...]]:
    """The codec pipelines the contract allows for ``node`` in this container (first: the one)."""
    store = ctx.store
    itemsize = node.dtype.itemsize if node.dtype is not None else 0
    shuffle = shuffled(node, role)
    if store.container == "h5ad":
        pipeline = ((Codec.of("shuffle"),) if shuffle else ()) + (
            Codec.of("gzip", {"level": DEFLATE_LEVEL}),
        )
        if role == "scalar":
            return [()]
        # HDF5 can neither chunk nor compress an empty dataset.
        return [pipeline, ()] if node.size == 0 else [pipeline]
    if store.zarr_format == 2:
        zlib = Codec.of("zlib", {"level": DEFLATE_LEVEL})
        if node.strings:
            return [(Codec.of("vlen-utf8"), zlib)]
        if shuffle:
            return [(Codec.of("shuffle", {"elementsize": itemsize}), zlib)]
        return [(zlib,)]
    gzip = Codec.of("gzip", {"level": DEFLATE_LEVEL})
    if node.strings:
        return [(Codec.of("vlen-utf8"), gzip)]
    little = Codec.of("bytes", {"endian": "little"})
    if shuffle:
        blosc = Codec.of(
            "blosc",
            {
                "typesize": itemsize,
                "cname": "zlib",
                "clevel": DEFLATE_LEVEL,
                "shuffle": "shuffle",
                "blocksize": 0,
            },
        )
        return [(little, blosc)]
    if itemsize <= 1:
        # A one-byte type has no byte order: zarr-python writes ``bytes`` without one.
        return [(Codec.of("bytes"), gzip), (little, gzip)]
    return [(little, gzip)]


def check_array_layout(ctx: Context, node: Node) -> None:
    """Chunks, codecs, strings, byte order and fill value of one array."""
    role = role_of(ctx, node)
    _check_chunks(ctx, node, role)
    allowed = expected_pipelines(ctx, node, role)
    if node.codecs not in allowed:
        if any(codec.name == "sharding_indexed" for codec in node.codecs):
            ctx.add(node.path, "is sharded", "unsharded arrays: one chunk per file")
        else:
            ctx.add(
                node.path, f"codecs {describe_codecs(node.codecs)}", describe_codecs(allowed[0])
            )
    if node.dtype is not None and node.dtype.kind in "OSUT" and not node.strings:
        ctx.add(
            node.path, "holds fixed-length or non-UTF-8 strings", "variable-length UTF-8 strings"
        )
    if node.dtype is not None and node.dtype.byteorder == ">":
        ctx.add(node.path, "holds big-endian values", "little-endian values")
    if ctx.store.container != "h5ad":
        _check_zarr_details(ctx, node)


def _check_chunks(ctx: Context, node: Node, role: str) -> None:
    if role == "scalar":
        wanted: tuple[int, ...] | None = None if ctx.store.container == "h5ad" else ()
        if node.chunks != wanted:
            ctx.add(node.path, f"chunks {node.chunks} on a scalar", f"{wanted}")
        return
    expected, rule = expected_chunks(node, role)
    if ctx.store.container == "h5ad" and node.size == 0 and node.chunks is None:
        return
    if node.chunks != expected:
        ctx.add(node.path, f"chunks {node.chunks} for shape {node.shape}", f"{expected}: {rule}")


def _check_zarr_details(ctx: Context, node: Node) -> None:
    layout = node.layout
    if ctx.store.zarr_format == 2:
        if layout.get("order") != "C":
            ctx.add(node.path, f"order {layout.get('order')!r}", "'C'")
        if layout.get("dimension_separator") != ".":
            ctx.add(node.path, f"dimension_separator {layout.get('dimension_separator')!r}", "'.'")
        dtype_text = str(layout.get("dtype"))
        if dtype_text[:1] not in ("<", "|"):
            ctx.add(node.path, f"dtype {dtype_text!r}", "little-endian ('<') or one-byte ('|')")
    else:
        if layout.get("chunk_grid") != "regular":
            ctx.add(node.path, f"chunk grid {layout.get('chunk_grid')!r}", "'regular'")
        encoding = layout.get("chunk_key_encoding") or {}
        separator = (encoding.get("configuration") or {}).get("separator", "/")
        if encoding.get("name") != "default" or separator != "/":
            ctx.add(node.path, f"chunk_key_encoding {encoding}", "default with separator '/'")
        if layout.get("storage_transformers"):
            ctx.add(node.path, "has storage transformers", "none")
    if not _zero_fill(node):
        ctx.add(node.path, f"fill value {node.fill_value!r}", "0 ('' for strings)")


def _zero_fill(node: Node) -> bool:
    value: Any = node.fill_value
    if node.strings:
        return value == ""
    if isinstance(value, bool | int | float):
        return value == 0
    return False
