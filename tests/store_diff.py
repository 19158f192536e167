"""Compare two AnnData stores element by element: Zarr folders (v2/v3), .zarr.zip files, .h5ad.

The comparison is what "the same store as upstream 0.9.5 writes" means for a Cellucid-ready
AnnData: the same groups and arrays, attributes, dtypes, shapes, chunk shapes and codec
configuration, the same chunks present, and equal values (NaN equals NaN). The compressed
bytes of a chunk are not compared: any valid DEFLATE stream is acceptable.

For Zarr the metadata documents themselves are compared (every ``.zarray``/``.zattrs``/
``.zgroup`` or ``zarr.json``, and the consolidated metadata), so anything a reader could see in
them counts. For an .h5ad the HDF5 dataset properties are compared (compression, its options,
shuffle, chunks, fill value, how many chunks are written) and the order the arrays' values lie
in the file, which decides what the web app's first read of the file holds.

``compare_stores(ours, theirs)`` returns one line per difference; an empty list means equal.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

#: Names of the Zarr metadata documents (the rest of a store's keys are chunks).
ZARR_DOCUMENTS = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})

#: Values compared per block, so that large arrays are never read whole.
BLOCK_ELEMENTS = 1 << 22

#: At most this many examples are named in one line (chunks, zip entries).
EXAMPLES = 5

#: A function reading part of an array: the selection is a tuple of slices, or () for 0-d.
Reader = Callable[[tuple], Any]


def compare_stores(ours: Path, theirs: Path) -> list[str]:
    """Every difference between two AnnData stores, one line each.

    Parameters
    ----------
    ours, theirs
        Two stores of the same container: ``.zarr`` folders, ``.zarr.zip`` files or
        ``.h5ad`` files.

    Returns
    -------
    list of str
        One line per difference, each starting with the element path it concerns; empty
        when the stores hold the same elements, laid out and encoded the same way.
    """
    ours, theirs = Path(ours), Path(theirs)
    kinds = container_kind(ours), container_kind(theirs)
    if kinds[0] != kinds[1]:
        return [f"container: ours {kinds[0]}, theirs {kinds[1]}"]
    if kinds[0] == "h5ad":
        return _compare_h5ad(ours, theirs)
    return _compare_zarr(ours, theirs)


def container_kind(path: Path) -> str:
    """``"zarr"`` (a folder), ``"zarr.zip"`` or ``"h5ad"``; ValueError for anything else."""
    if path.is_dir():
        return "zarr"
    if path.is_file() and zipfile.is_zipfile(path):
        return "zarr.zip"
    if path.is_file() and h5py.is_hdf5(path):
        return "h5ad"
    raise ValueError(f"{path} is not a Zarr folder, a .zarr.zip or an HDF5 file")


# ---------------------------------------------------------------------------------------------
# values and JSON, shared by both containers
# ---------------------------------------------------------------------------------------------


def json_differences(ours: Any, theirs: Any, where: str) -> list[str]:
    """Differences between two JSON values, each named by its path inside the document.

    Types count (``0`` is not ``0.0``, ``1`` is not ``true``): a reader may tell them apart.
    """
    if isinstance(ours, dict) and isinstance(theirs, dict):
        lines = []
        for key in sorted(set(ours) | set(theirs)):
            inner = f"{where}.{key}" if where else str(key)
            if key not in theirs:
                lines.append(f"{inner}: only in ours ({_short(ours[key])})")
            elif key not in ours:
                lines.append(f"{inner}: only in theirs ({_short(theirs[key])})")
            else:
                lines.extend(json_differences(ours[key], theirs[key], inner))
        return lines
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        lines = []
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            lines.extend(json_differences(mine, other, f"{where}[{index}]"))
        return lines
    if type(ours) is not type(theirs) or ours != theirs:
        return [f"{where or '(document)'}: ours {_short(ours)}, theirs {_short(theirs)}"]
    return []


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value) if not isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def normalised(values: Any) -> np.ndarray:
    """An array's values for comparison: text of any kind becomes an object array of str."""
    array = np.asarray(values)
    if array.dtype.kind in "OSUT":
        flat = [_text(item) for item in array.reshape(-1).tolist()]
        converted = np.empty(len(flat), dtype=object)
        converted[:] = flat
        return converted.reshape(array.shape)
    return array


def _text(item: Any) -> Any:
    return item.decode("utf-8") if isinstance(item, bytes) else item


def _equal_elements(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Elementwise equality, NaN equal to NaN."""
    equal = np.asarray(ours == theirs)
    if ours.dtype.kind in "fc" and theirs.dtype.kind in "fc":
        equal |= np.isnan(ours) & np.isnan(theirs)
    return equal


def _blocks(shape: tuple) -> Iterator[tuple]:
    """Selections covering an array of ``shape``: row blocks of about BLOCK_ELEMENTS values."""
    if not shape:
        yield ()
        return
    row_elements = max(1, int(np.prod(shape[1:], dtype=np.int64)))
    rows = max(1, BLOCK_ELEMENTS // row_elements)
    for start in range(0, shape[0], rows):
        yield (slice(start, min(shape[0], start + rows)),)


def _item(values: np.ndarray, at: tuple) -> Any:
    """One element as a plain Python value."""
    item = values[at] if at else values[()]
    return item.item() if isinstance(item, np.generic) else item


def value_differences(path: str, shape: tuple, ours: Reader, theirs: Reader) -> list[str]:
    """Compare two arrays of ``shape`` block by block along the first axis; at most one line."""
    differing, first = 0, ""
    for block in _blocks(shape):
        mine, other = normalised(ours(block)), normalised(theirs(block))
        if (mine.dtype.kind == "O") != (other.dtype.kind == "O"):
            return [f"{path}: values: ours {mine.dtype}, theirs {other.dtype} (text vs numbers)"]
        unequal = ~_equal_elements(mine, other)
        count = int(np.count_nonzero(unequal))
        if count and not first:
            at = tuple(int(i) for i in np.argwhere(unequal)[0]) if mine.ndim else ()
            position = (at[0] + block[0].start, *at[1:]) if at else ()
            first = f"first at {position}: ours {_item(mine, at)!r}, theirs {_item(other, at)!r}"
        differing += count
    if not differing:
        return []
    total = int(np.prod(shape, dtype=np.int64))
    return [f"{path}: values differ in {differing} of {total} elements, {first}"]


def _node_differences(ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """Groups and arrays present in one store only, or of another kind."""
    lines = []
    for path in sorted(set(ours) | set(theirs)):
        if path not in theirs:
            lines.append(f"{path}: {ours[path]} only in ours")
        elif path not in ours:
            lines.append(f"{path}: {theirs[path]} only in theirs")
        elif ours[path] != theirs[path]:
            lines.append(f"{path}: ours a {ours[path]}, theirs a {theirs[path]}")
    return lines


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return ", ".join(items[:EXAMPLES]) + more


# ---------------------------------------------------------------------------------------------
# Zarr: folder or zip
# ---------------------------------------------------------------------------------------------


class _ZarrKeys:
    """The raw keys and bytes of a Zarr store, a folder or a zip, read without zarr."""

    def __init__(self, path: Path):
        self.path = path
        self.archive = zipfile.ZipFile(path) if path.is_file() else None
        if self.archive is not None:
            self.keys = [info.filename for info in self.archive.infolist() if not info.is_dir()]
        else:
            files = (p for p in path.rglob("*") if p.is_file())
            self.keys = sorted(p.relative_to(path).as_posix() for p in files)

    def read(self, key: str) -> bytes:
        if self.archive is not None:
            return self.archive.read(key)
        return (self.path / key).read_bytes()

    def document(self, key: str) -> Any:
        return json.loads(self.read(key))

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()


def _split_key(key: str) -> tuple[str, str]:
    parent, _, name = key.rpartition("/")
    return parent, name


def _zarr_nodes(store: _ZarrKeys) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Each node's kind ("group"/"array") and metadata documents, by path ("" is the root)."""
    kinds: dict[str, str] = {}
    documents: dict[str, dict[str, Any]] = {}
    for key in store.keys:
        parent, name = _split_key(key)
        if name not in ZARR_DOCUMENTS or name == ".zmetadata":
            continue
        document = store.document(key)
        documents.setdefault(parent, {})[name] = document
        if name == ".zarray" or (name == "zarr.json" and document.get("node_type") == "array"):
            kinds[parent] = "array"
        elif name in (".zgroup", "zarr.json"):
            kinds[parent] = "group"
    return kinds, documents


def _chunk_keys(store: _ZarrKeys, arrays: set[str]) -> dict[str, set[str]]:
    """The chunk keys of each array, relative to the array's path."""
    chunks: dict[str, set[str]] = {path: set() for path in arrays}
    for key in store.keys:
        if _split_key(key)[1] in ZARR_DOCUMENTS:
            continue
        parts = key.split("/")
        # the longest prefix naming an array owns the chunk ("a/c/0/1" in v3, "a/0.1" in v2)
        for cut in range(len(parts) - 1, -1, -1):
            owner = "/".join(parts[:cut])
            if owner in chunks:
                chunks[owner].add("/".join(parts[cut:]))
                break
    return chunks


def _display(path: str) -> str:
    return path or "/"


def _document_lines(ours: dict, theirs: dict, common: list[str]) -> list[str]:
    lines = []
    for path in common:
        mine, other = ours.get(path, {}), theirs.get(path, {})
        for name in sorted(set(mine) | set(other)):
            where = f"{path}/{name}" if path else name
            if name not in other:
                lines.append(f"{where}: document only in ours")
            elif name not in mine:
                lines.append(f"{where}: document only in theirs")
            else:
                lines.extend(
                    f"{where}: {line}" for line in json_differences(mine[name], other[name], "")
                )
    return lines


def _chunk_lines(ours: dict[str, set[str]], theirs: dict[str, set[str]], arrays) -> list[str]:
    lines = []
    for path in arrays:
        extra = sorted(ours[path] - theirs[path])
        missing = sorted(theirs[path] - ours[path])
        if extra:
            lines.append(f"{_display(path)}: chunks only in ours: {_listed(extra)}")
        if missing:
            lines.append(f"{_display(path)}: chunks only in theirs: {_listed(missing)}")
    return lines


def _zip_lines(ours: Path, theirs: Path) -> list[str]:
    """The layout of two .zarr.zip files: entry order and each entry's stored attributes."""
    with zipfile.ZipFile(ours) as mine, zipfile.ZipFile(theirs) as other:
        mine_entries = {info.filename: info for info in mine.infolist()}
        other_entries = {info.filename: info for info in other.infolist()}
        mine_order = [name for name in mine_entries if name in other_entries]
        other_order = [name for name in other_entries if name in mine_entries]
        lines = []
        for index, (a, b) in enumerate(zip(mine_order, other_order, strict=True)):
            if a != b:
                lines.append(f"zip entry order: common entry {index}: ours {a}, theirs {b}")
                break
        differing = []
        for name in mine_order:
            a, b = mine_entries[name], other_entries[name]
            fields = ("compress_type", "date_time", "external_attr", "create_system", "flag_bits")
            unequal = [
                f"{field} ours {getattr(a, field)!r} theirs {getattr(b, field)!r}"
                for field in fields
                if getattr(a, field) != getattr(b, field)
            ]
            if unequal:
                differing.append(f"{name} ({', '.join(unequal)})")
        if differing:
            lines.append(f"zip entries stored differently: {_listed(differing)}")
    return lines


@contextmanager
def _zarr_store(path: Path) -> Iterator[Any]:
    """A read-only zarr store of a folder or a zip."""
    from zarr.storage import LocalStore, ZipStore

    store = ZipStore(path, mode="r") if path.is_file() else LocalStore(path, read_only=True)
    try:
        yield store
    finally:
        store.close()


def _zarr_value_lines(ours: Path, theirs: Path, arrays: list[str]) -> list[str]:
    import zarr

    lines = []
    with _zarr_store(ours) as mine, _zarr_store(theirs) as other:
        for path in arrays:
            a = zarr.open_array(store=mine, path=path, mode="r")
            b = zarr.open_array(store=other, path=path, mode="r")
            if a.shape != b.shape:
                continue  # the shape line is already in the document differences
            lines.extend(
                value_differences(_display(path), a.shape, lambda s, a=a: a[s], lambda s, b=b: b[s])
            )
    return lines


def _compare_zarr(ours: Path, theirs: Path) -> list[str]:
    mine, other = _ZarrKeys(ours), _ZarrKeys(theirs)
    try:
        mine_kinds, mine_documents = _zarr_nodes(mine)
        other_kinds, other_documents = _zarr_nodes(other)
        lines = _node_differences(
            {_display(k): v for k, v in mine_kinds.items()},
            {_display(k): v for k, v in other_kinds.items()},
        )
        common = sorted(p for p in mine_kinds if other_kinds.get(p) == mine_kinds[p])
        lines += _document_lines(mine_documents, other_documents, common)
        consolidated = ".zmetadata"
        has = consolidated in mine.keys, consolidated in other.keys
        if has[0] != has[1]:
            lines.append(f"{consolidated}: only in {'ours' if has[0] else 'theirs'}")
        elif has[0]:
            lines += [
                f"{consolidated}: {line}"
                for line in json_differences(
                    mine.document(consolidated), other.document(consolidated), ""
                )
            ]
        arrays = [p for p in common if mine_kinds[p] == "array"]
        lines += _chunk_lines(
            _chunk_keys(mine, set(arrays)), _chunk_keys(other, set(arrays)), arrays
        )
    finally:
        mine.close()
        other.close()
    if ours.is_file():
        lines += _zip_lines(ours, theirs)
    return lines + _zarr_value_lines(ours, theirs, arrays)


# ---------------------------------------------------------------------------------------------
# .h5ad
# ---------------------------------------------------------------------------------------------


def _h5_nodes(file: h5py.File) -> dict[str, Any]:
    nodes: dict[str, Any] = {"/": file}
    file.visititems(lambda name, node: nodes.__setitem__(name, node))
    return nodes


def _h5_kind(node: Any) -> str:
    return "array" if isinstance(node, h5py.Dataset) else "group"


def _attribute_type(node: Any, name: str) -> str:
    """An attribute's stored type: its shape, and its dtype or string kind."""
    attribute = node.attrs.get_id(name)
    dtype = attribute.dtype
    string = h5py.check_string_dtype(dtype)
    kind = (
        (
            f"{'variable' if string.length is None else string.length}-length "
            f"{string.encoding} string"
        )
        if string
        else str(dtype)
    )
    return f"{kind}, shape {attribute.shape}"


def _attribute_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_attribute_value(item) for item in value.tolist()]
    if isinstance(value, list):
        return [_attribute_value(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _h5_attribute_lines(path: str, ours: Any, theirs: Any) -> list[str]:
    lines = []
    for name in sorted(set(ours.attrs) | set(theirs.attrs)):
        where = f"{path} attribute {name!r}"
        if name not in theirs.attrs:
            lines.append(f"{where}: only in ours")
        elif name not in ours.attrs:
            lines.append(f"{where}: only in theirs")
        else:
            types = _attribute_type(ours, name), _attribute_type(theirs, name)
            if types[0] != types[1]:
                lines.append(f"{where}: stored as {types[0]} in ours, {types[1]} in theirs")
            mine = _attribute_value(ours.attrs[name])
            other = _attribute_value(theirs.attrs[name])
            if mine != other:
                lines.append(f"{where}: ours {mine!r}, theirs {other!r}")
    return lines


def _h5_dtype(dataset: h5py.Dataset) -> str:
    string = h5py.check_string_dtype(dataset.dtype)
    if string:
        length = "variable" if string.length is None else string.length
        return f"{length}-length {string.encoding} string"
    return str(dataset.dtype)


def h5_dataset_properties(dataset: h5py.Dataset) -> dict[str, Any]:
    """What an HDF5 dataset declares about its layout and encoding."""
    chunked = dataset.chunks is not None
    fill = dataset.fillvalue
    return {
        "dtype": _h5_dtype(dataset),
        "shape": dataset.shape,
        "maxshape": dataset.maxshape,
        "chunks": dataset.chunks,
        "compression": dataset.compression,
        "compression_opts": dataset.compression_opts,
        "shuffle": dataset.shuffle,
        "fletcher32": dataset.fletcher32,
        "scaleoffset": dataset.scaleoffset,
        "fillvalue": _attribute_value(fill) if fill is not None else None,
        "layout": dataset.id.get_create_plist().get_layout(),
        "written chunks": dataset.id.get_num_chunks() if chunked else None,
    }


def _h5_property_lines(path: str, ours: h5py.Dataset, theirs: h5py.Dataset) -> list[str]:
    mine, other = h5_dataset_properties(ours), h5_dataset_properties(theirs)
    lines = []
    for name in mine:
        a, b = mine[name], other[name]
        same = (a == b) or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)
        if not same:
            lines.append(f"{path}: {name}: ours {a!r}, theirs {b!r}")
    return lines


def _h5_reader(dataset: h5py.Dataset) -> Reader:
    string = h5py.check_string_dtype(dataset.dtype) is not None
    source = dataset.asstr() if string else dataset
    return lambda selection: source[selection] if selection else source[()]


def storage_order(file: h5py.File, paths: list[str]) -> list[str]:
    """The datasets among ``paths`` in the order their first values lie in the file."""
    placed = []
    for path in paths:
        identifier = file[path].id
        if file[path].chunks is not None:
            written = identifier.get_num_chunks()
            offset = identifier.get_chunk_info(0).byte_offset if written else None
        else:
            offset = identifier.get_offset()
        if offset is not None:
            placed.append((offset, path))
    return [path for _, path in sorted(placed)]


def _order_lines(ours: h5py.File, theirs: h5py.File, datasets: list[str]) -> list[str]:
    mine, other = storage_order(ours, datasets), storage_order(theirs, datasets)
    both = set(mine) & set(other)
    mine, other = [p for p in mine if p in both], [p for p in other if p in both]
    for index, (a, b) in enumerate(zip(mine, other, strict=True)):
        if a != b:
            return [f"h5ad storage order: array {index} in the file: ours {a}, theirs {b}"]
    return []


def _compare_h5ad(ours: Path, theirs: Path) -> list[str]:
    with h5py.File(ours, "r") as mine, h5py.File(theirs, "r") as other:
        mine_nodes, other_nodes = _h5_nodes(mine), _h5_nodes(other)
        lines = _node_differences(
            {p: _h5_kind(n) for p, n in mine_nodes.items()},
            {p: _h5_kind(n) for p, n in other_nodes.items()},
        )
        superblocks = (
            mine.id.get_create_plist().get_version()[0],
            other.id.get_create_plist().get_version()[0],
        )
        if superblocks[0] != superblocks[1]:
            lines.append(f"HDF5 superblock version: ours {superblocks[0]}, theirs {superblocks[1]}")
        common = sorted(
            p
            for p in mine_nodes
            if p in other_nodes and _h5_kind(mine_nodes[p]) == _h5_kind(other_nodes[p])
        )
        datasets = [p for p in common if _h5_kind(mine_nodes[p]) == "array"]
        for path in common:
            lines += _h5_attribute_lines(path, mine_nodes[path], other_nodes[path])
        for path in datasets:
            a, b = mine_nodes[path], other_nodes[path]
            lines += _h5_property_lines(path, a, b)
            if a.shape == b.shape:
                lines += value_differences(path, a.shape, _h5_reader(a), _h5_reader(b))
        lines += _order_lines(mine, other, datasets)
    return lines
