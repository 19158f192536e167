"""A small valid Cellucid-ready AnnData store, written by hand (no upstream needed).

Used by tests/test_validate_store.py so the store validator is exercised even where the
cellucid 0.9.5 reference interpreter is absent. The layout follows the contract directly:
DEFLATE level 6, byte shuffle on multi-byte arrays but X's values, the chunk rules, Zarr
consolidated metadata, a stored top-level ZIP, an HDF5 1.10 file.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

N_CELLS = 40
N_GENES = 12


@dataclass
class Array:
    values: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)
    #: "vector", "sliced", "values" (X data), "strip" (dense X), "rows" (obsm) or "scalar".
    role: str = "vector"


@dataclass
class Group:
    attrs: dict[str, Any]
    members: dict[str, Any] = field(default_factory=dict)


def _enc(kind: str, version: str) -> dict[str, str]:
    return {"encoding-type": kind, "encoding-version": version}


def _strings(values: list[str]) -> Array:
    return Array(np.asarray(values, dtype=object), _enc("string-array", "0.2.0"))


def _scalar(value: Any) -> Array:
    kind = "string" if isinstance(value, str) else "numeric-scalar"
    values = np.asarray(value, dtype=object) if isinstance(value, str) else np.asarray(value)
    return Array(values, _enc(kind, "0.2.0"), "scalar")


def _sparse(matrix: Any, kind: str, sliced: bool) -> Group:
    data_role = "values" if sliced else "vector"
    return Group(
        {**_enc(kind, "0.1.0"), "shape": list(matrix.shape)},
        {
            "data": Array(matrix.data.astype(np.float32), role=data_role),
            "indices": Array(
                matrix.indices.astype(np.int32), role="sliced" if sliced else "vector"
            ),
            "indptr": Array(matrix.indptr.astype(np.int32)),
        },
    )


def naive_quantiles(latent: np.ndarray, codes: np.ndarray, min_points: int = 10) -> np.ndarray:
    """The outlier quantiles, one cell at a time in plain Python (every category scored)."""
    n, width = latent.shape
    members = {code: [i for i in range(n) if codes[i] == code] for code in set(codes.tolist())}
    distance = [0.0] * n
    for cells in members.values():
        assert len(cells) >= min_points
        centroid = []
        for column in range(width):
            total = 0.0
            for i in cells:  # in cell order
                total += float(latent[i, column])
            centroid.append(total / len(cells))
        for i in cells:
            squared = 0.0
            for column in range(width):  # in column order
                squared += (float(latent[i, column]) - centroid[column]) ** 2
            distance[i] = squared**0.5
    result = np.empty(n, dtype=np.float32)
    for cells in members.values():
        for i in cells:
            closer = sum(1 for j in cells if distance[j] <= distance[i])
            result[i] = np.float32(closer) / np.float32(len(cells))
    return result


def with_dense_x(tree: Group) -> Group:
    """The same store with X dense (tall strips, not shuffled)."""
    members = tree.members["X"].members
    shape = tuple(tree.members["X"].attrs["shape"])
    dense = np.zeros(shape, dtype=np.float32)
    indptr = members["indptr"].values
    for gene in range(shape[1]):
        rows = members["indices"].values[indptr[gene] : indptr[gene + 1]]
        dense[rows, gene] = members["data"].values[indptr[gene] : indptr[gene + 1]]
    tree.members["X"] = Array(dense, _enc("array", "0.2.0"), "strip")
    return tree


def content(seed: int = 0) -> Group:
    """The element tree of a small valid store."""
    rng = np.random.default_rng(seed)
    n, g = N_CELLS, N_GENES
    codes = (np.arange(n) % 3).astype(np.int8)
    x = sparse.random(n, g, density=0.3, format="csc", random_state=seed, dtype=np.float32)
    x.data += 1.0
    graph = sparse.random(n, n, density=0.1, format="csr", random_state=seed + 1)
    graph = (graph + graph.T).tocsr()
    graph.setdiag(0)
    graph.eliminate_zeros()
    graph.sort_indices()
    latent = rng.random((n, 4)).astype(np.float32)
    flags = rng.random(n) > 0.5
    obs = Group(
        {
            **_enc("dataframe", "0.2.0"),
            "_index": "_index",
            "column-order": ["cell_type", "score", "flag", "label"],
        },
        {
            "_index": _strings([f"c{i}" for i in range(n)]),
            "cell_type": Group(
                {**_enc("categorical", "0.2.0"), "ordered": False},
                {
                    "codes": Array(codes, _enc("array", "0.2.0")),
                    "categories": _strings(["a", "b", "c"]),
                },
            ),
            "score": Array(rng.random(n), _enc("array", "0.2.0")),
            "flag": Array(flags, _enc("array", "0.2.0")),
            "label": _strings([f"cell {i}" for i in range(n)]),
        },
    )
    record = Group(
        _enc("dict", "0.1.0"),
        {
            "schema": _scalar(1),
            "id": _scalar("demo-1"),
            "name": _scalar("Demo"),
            "defaults": Group(_enc("dict", "0.1.0"), {"latentKey": _scalar("X_pca")}),
            "outlierQuantiles": Group(
                _enc("dict", "0.1.0"),
                {
                    "latentKey": _scalar("X_pca"),
                    "minPoints": _scalar(10),
                    "fields": Group(
                        _enc("dict", "0.1.0"),
                        {
                            "cell_type": Array(
                                naive_quantiles(latent, codes), _enc("array", "0.2.0")
                            ),
                            "flag": Array(
                                naive_quantiles(latent, flags.astype(int)), _enc("array", "0.2.0")
                            ),
                        },
                    ),
                },
            ),
        },
    )
    return Group(
        _enc("anndata", "0.1.0"),
        {
            "X": _sparse(x, "csc_matrix", sliced=True),
            "obs": obs,
            "var": Group(
                {**_enc("dataframe", "0.2.0"), "_index": "_index", "column-order": []},
                {"_index": _strings([f"g{i}" for i in range(g)])},
            ),
            "obsm": Group(
                _enc("dict", "0.1.0"),
                {
                    "X_umap": Array(
                        rng.random((n, 2)).astype(np.float32), _enc("array", "0.2.0"), "rows"
                    ),
                    "X_pca": Array(latent, _enc("array", "0.2.0"), "rows"),
                },
            ),
            "obsp": Group(
                _enc("dict", "0.1.0"),
                {"connectivities": _sparse(graph, "csr_matrix", sliced=False)},
            ),
            "uns": Group(_enc("dict", "0.1.0"), {"title": _scalar("Demo"), "cellucid": record}),
            "varm": Group(_enc("dict", "0.1.0")),
            "varp": Group(_enc("dict", "0.1.0")),
            "layers": Group(_enc("dict", "0.1.0")),
        },
    )


def _chunks(array: Array) -> tuple[int, ...]:
    shape = array.values.shape
    if array.role == "scalar":
        return ()
    if array.role in ("sliced", "values"):
        return (max(1, min(shape[0], 2**16)),)
    if array.role == "strip":
        rows = max(1, min(shape[0], 2**18))
        return (rows, max(1, min(shape[1], 2**18 // rows)))
    if array.role == "rows":
        return (max(1, min(shape[0], 2**18 // shape[1])), shape[1])
    return (max(1, min(shape[0], 2**18)),)


def _shuffled(array: Array) -> bool:
    return (
        array.values.dtype.kind != "O"
        and array.values.dtype.itemsize > 1
        and array.role not in ("values", "strip")
    )


# =============================================================================
# Writers
# =============================================================================


def write_h5ad(path: Path, tree: Group) -> Path:
    import h5py

    with h5py.File(path, "w", libver=("v110", "v110")) as file:
        _h5_group(file, tree)
    return path


def _h5_group(group: Any, node: Group) -> None:
    import h5py

    group.attrs.update(node.attrs)
    for name, member in node.members.items():
        if isinstance(member, Group):
            _h5_group(group.create_group(name), member)
            continue
        values = member.values
        dtype = h5py.string_dtype() if values.dtype.kind == "O" else values.dtype
        if member.role == "scalar":
            dataset = group.create_dataset(name, data=values, dtype=dtype)
        else:
            dataset = group.create_dataset(
                name,
                data=values,
                dtype=dtype,
                chunks=_chunks(member),
                compression="gzip",
                compression_opts=6,
                shuffle=_shuffled(member),
            )
        dataset.attrs.update(member.attrs)


def write_zarr(path: Path, tree: Group, zarr_format: int) -> Path:
    import zarr

    root = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    _zarr_group(root, tree, zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path), zarr_format=zarr_format)
    return path


def _zarr_codecs(member: Array, zarr_format: int) -> dict[str, Any]:
    from numcodecs import Shuffle, Zlib
    from zarr.codecs import BloscCodec, GzipCodec

    itemsize = member.values.dtype.itemsize
    if zarr_format == 2:
        if member.values.dtype.kind == "O":
            return {"compressors": Zlib(level=6)}  # zarr adds the vlen-utf8 filter itself
        filters = [Shuffle(elementsize=itemsize)] if _shuffled(member) else None
        return {"filters": filters, "compressors": Zlib(level=6)}
    if _shuffled(member):
        blosc = BloscCodec(
            typesize=itemsize, cname="zlib", clevel=6, shuffle="shuffle", blocksize=0
        )
        return {"compressors": blosc}
    return {"compressors": GzipCodec(level=6)}


def _zarr_group(group: Any, node: Group, zarr_format: int) -> None:
    group.attrs.update(node.attrs)
    for name, member in node.members.items():
        if isinstance(member, Group):
            _zarr_group(group.create_group(name), member, zarr_format)
            continue
        values = member.values
        strings = values.dtype.kind == "O"
        array = group.create_array(
            name,
            shape=values.shape,
            dtype=str if strings else values.dtype,
            chunks=_chunks(member),
            fill_value="" if strings else np.zeros((), values.dtype).item(),
            **_zarr_codecs(member, zarr_format),
        )
        array[...] = values
        array.attrs.update(member.attrs)


def zip_store(folder: Path, archive: Path) -> Path:
    """Pack a store folder as the contract says: stored, top level, chunks then documents."""
    documents = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"}
    files = [path for path in folder.rglob("*") if path.is_file()]

    def order(path: Path) -> tuple[Any, ...]:
        relative = path.relative_to(folder)
        if path.name in documents:
            return (1, len(relative.parts) == 1, relative.parts)
        return (0, relative.parts)

    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as file:
        for path in sorted(files, key=order):
            file.write(path, path.relative_to(folder).as_posix())
    return archive


def write_store(folder: Path, kind: str, tree: Group | None = None) -> Path:
    """Write ``kind`` (``zarr2``, ``zarr3``, ``zip2``, ``zip3``, ``h5ad``) under ``folder``."""
    tree = content() if tree is None else tree
    if kind == "h5ad":
        return write_h5ad(folder / "store.h5ad", tree)
    zarr_format = int(kind[-1])
    if kind.startswith("zarr"):
        return write_zarr(folder / "store.zarr", tree, zarr_format)
    staged = write_zarr(folder / "staged.zarr", tree, zarr_format)
    return zip_store(staged, folder / "store.zarr.zip")
