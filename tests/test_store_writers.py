"""The element writers and write_store: a small StoreContent in every container, read back,
and the same data written by upstream cellucid 0.9.5 compared element by element."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import zarr
from scipy import sparse

from cellucid.sinks.anndata.content import DenseX, SparseX, StoreContent
from cellucid.sinks.anndata.layout import grid_positions, strip_chunks
from cellucid.sinks.anndata.writers import write_store

from .reference095 import reference_python

CONTAINERS = [
    ("zarr", 2, "s2.zarr"),
    ("zarr", 3, "s3.zarr"),
    ("zarr.zip", 2, "s.zarr.zip"),
    ("h5ad", 2, "s.h5ad"),
]
N_CELLS, N_GENES = 300, 400
SLICE = 65536


# -- a small content, by hand --------------------------------------------------------------------


def small_matrix() -> sparse.csc_matrix:
    """A CSC float32 count matrix of more than one 65,536-value chunk, one gene all zero."""
    matrix = sparse.random(
        N_CELLS, N_GENES, density=0.6, format="csc", random_state=1, dtype=np.float32
    )
    matrix.data = np.ceil(matrix.data * 10).astype(np.float32)
    matrix = sparse.csc_matrix(matrix.multiply(np.arange(N_GENES) != 5), dtype=np.float32)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def small_graph(n: int) -> sparse.csr_matrix:
    graph = sparse.random(n, n, density=0.02, format="csr", random_state=2, dtype=np.float32)
    graph = sparse.csr_matrix(graph + graph.T)
    graph.setdiag(0)
    graph.eliminate_zeros()
    graph.sort_indices()
    return graph


def small_content(x: sparse.csc_matrix) -> StoreContent:
    rng = np.random.default_rng(0)
    n = x.shape[0]
    nullable = pd.array(rng.integers(0, 5, n), dtype="Int32")
    nullable[4] = pd.NA
    flags = pd.array(rng.random(n) > 0.5, dtype="boolean")
    flags[7] = pd.NA
    obs = {
        "cat": pd.Categorical(rng.choice(["b", "a", "c"], n)),
        "text": np.array([f"t{i}" for i in range(n)], dtype=object),
        "flag": rng.random(n) > 0.5,
        "zero": np.zeros(n, dtype=np.int64),
        "count": rng.integers(0, 100, n),
        "score": np.where(np.arange(n) == 3, np.nan, rng.random(n)),
        "nint": nullable,
        "nfull": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "nbool": flags,
        "icat": pd.Categorical(rng.choice([3, 1, 2], n), categories=[3, 1, 2], ordered=True),
    }
    uns = {
        "title": "T",
        "cellucid": {
            "schema": 1,
            "id": "t",
            "name": "T",
            "ratio": 0.5,
            "flagged": True,
            "defaults": {"latentKey": "X_pca", "obsKeys": np.array(["cat", "flag"], dtype=object)},
            "outlierQuantiles": {
                "latentKey": "X_pca",
                "minPoints": 10,
                "fields": {"cat": rng.random(n).astype(np.float32)},
            },
        },
    }
    return StoreContent(
        obs_index=np.array([f"c{i}" for i in range(n)], dtype=object),
        obs=obs,
        var_index=np.array([f"g{i}" for i in range(x.shape[1])], dtype=object),
        var={"hv": rng.random(x.shape[1]) > 0.5},
        obsm={
            "X_umap": rng.random((n, 2)).astype(np.float32),
            "X_pca": rng.random((n, 5)).astype(np.float32),
        },
        obsp={"connectivities": small_graph(n)},
        uns=uns,
        x=SparseX(shape=x.shape, indptr=x.indptr.astype(np.int64), dtype=np.dtype(np.float32)),
    )


def sparse_chunks(x: sparse.csc_matrix, *, interleave: bool = False):
    """The streamed chunks of a CSC matrix: all of X/data then X/indices, or alternating."""
    count = -(-x.nnz // SLICE)
    data = [("X/data", (i,), x.data[i * SLICE : (i + 1) * SLICE]) for i in range(count)]
    indices = [("X/indices", (i,), x.indices[i * SLICE : (i + 1) * SLICE]) for i in range(count)]
    if interleave:
        return iter([item for pair in zip(indices, data, strict=True) for item in pair])
    return iter(data + indices)


def dense_chunks(values: np.ndarray):
    chunks = strip_chunks(values.shape)
    for position in grid_positions(values.shape, chunks):
        rows, cols = (slice(p * c, (p + 1) * c) for p, c in zip(position, chunks, strict=True))
        yield "X", position, values[rows, cols]


def read_back(path: Path, container: str) -> anndata.AnnData:
    if container == "h5ad":
        return anndata.read_h5ad(path)
    if container == "zarr.zip":
        store = zarr.storage.ZipStore(path, mode="r")
        try:
            return anndata.read_zarr(store).to_memory()
        finally:
            store.close()
    return anndata.read_zarr(path)


def assert_uns_equal(ours: object, expected: object) -> None:
    if isinstance(expected, dict):
        assert sorted(ours) == sorted(expected)
        for key in expected:
            assert_uns_equal(ours[key], expected[key])
    elif isinstance(expected, np.ndarray):
        assert np.asarray(ours).dtype == expected.dtype or expected.dtype == object
        np.testing.assert_array_equal(np.asarray(ours), expected)
    else:
        assert ours == expected and type(np.asarray(ours).item()) is type(expected)


def assert_content_equal(adata: anndata.AnnData, content: StoreContent, x) -> None:
    assert list(adata.obs_names) == list(content.obs_index)
    assert list(adata.var_names) == list(content.var_index)
    assert list(adata.obs.columns) == list(content.obs)
    for name, column in content.obs.items():
        stored = adata.obs[name]
        if isinstance(column, pd.Categorical):
            assert stored.cat.ordered == column.ordered
            pd.testing.assert_index_equal(stored.cat.categories, column.categories)
            np.testing.assert_array_equal(stored.cat.codes, column.codes)
        elif isinstance(column, pd.api.extensions.ExtensionArray):
            pd.testing.assert_extension_array_equal(stored.array, column)
        else:
            assert stored.dtype == column.dtype or column.dtype == object
            np.testing.assert_array_equal(stored.to_numpy(), column)
    np.testing.assert_array_equal(adata.var["hv"].to_numpy(), content.var["hv"])
    for key, values in content.obsm.items():
        assert adata.obsm[key].dtype == values.dtype
        np.testing.assert_array_equal(adata.obsm[key], values)
    graph = adata.obsp["connectivities"]
    assert graph.format == "csr" and (graph != content.obsp["connectivities"]).nnz == 0
    assert_uns_equal(dict(adata.uns), content.uns)
    if isinstance(x, np.ndarray):
        np.testing.assert_array_equal(np.asarray(adata.X), x)
    else:
        assert adata.X.format == "csc" and adata.X.dtype == np.float32
        np.testing.assert_array_equal(adata.X.indptr, x.indptr)
        np.testing.assert_array_equal(adata.X.indices, x.indices)
        np.testing.assert_array_equal(adata.X.data, x.data)


@pytest.fixture(scope="module")
def matrix() -> sparse.csc_matrix:
    return small_matrix()


@pytest.mark.parametrize("container, zarr_format, name", CONTAINERS)
def test_every_element_reads_back(tmp_path, matrix, container, zarr_format, name):
    content = small_content(matrix)
    path = tmp_path / name
    received = write_store(
        path,
        container,
        content,
        sparse_chunks(matrix, interleave=True),
        zarr_format=zarr_format,
        encode_workers=2,
    )
    assert received == {"X/data": 2, "X/indices": 2}
    assert_content_equal(read_back(path, container), content, matrix)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no work folder, no spool


@pytest.mark.parametrize("container, zarr_format, name", CONTAINERS)
def test_dense_x_reads_back(tmp_path, container, zarr_format, name):
    values = np.random.default_rng(3).random((700, 765)).astype(np.float32)
    values[:, :374] = 0  # one whole strip of zeros: no Zarr chunk file for it
    content = StoreContent(
        obs_index=np.array([f"c{i}" for i in range(700)], dtype=object),
        obs={},
        var_index=np.array([f"g{i}" for i in range(765)], dtype=object),
        var={},
        uns={"title": "T"},
        x=DenseX(shape=values.shape, dtype=np.dtype(np.float32)),
    )
    path = tmp_path / name
    assert write_store(
        path, container, content, dense_chunks(values), zarr_format=zarr_format, encode_workers=2
    ) == {"X": 3}
    adata = read_back(path, container)
    np.testing.assert_array_equal(np.asarray(adata.X), values)
    if container == "zarr":
        keys = [f"X/0.{j}" if zarr_format == 2 else f"X/c/0/{j}" for j in range(3)]
        assert [(path / key).exists() for key in keys] == [False, True, True]


def _zarr_metadata(tmp_path: Path, matrix, zarr_format: int):
    path = tmp_path / f"m{zarr_format}.zarr"
    content = small_content(matrix)
    write_store(path, "zarr", content, sparse_chunks(matrix), zarr_format=zarr_format)
    document = ".zarray" if zarr_format == 2 else "zarr.json"
    return path, lambda key: json.loads((path / key / document).read_text())


def test_zarr_v2_codecs(tmp_path, matrix):
    _, meta = _zarr_metadata(tmp_path, matrix, 2)
    zlib6 = {"id": "zlib", "level": 6}
    assert meta("X/data")["filters"] is None and meta("X/data")["compressor"] == zlib6
    assert meta("X/data")["chunks"] == [SLICE]
    assert meta("X/indices")["filters"] == [{"id": "shuffle", "elementsize": 4}]
    assert meta("obs/text")["filters"] == [{"id": "vlen-utf8"}]
    assert meta("obs/text")["fill_value"] == "" and meta("obs/text")["dtype"] == "|O"
    assert meta("obs/flag")["filters"] is None and meta("obs/cat/codes")["dtype"] == "|i1"
    assert meta("uns/cellucid/schema")["filters"] == [{"id": "shuffle", "elementsize": 8}]
    assert meta("obsm/X_pca")["chunks"] == [N_CELLS, 5]


def test_zarr_v3_codecs(tmp_path, matrix):
    path, meta = _zarr_metadata(tmp_path, matrix, 3)
    gzip6 = {"name": "gzip", "configuration": {"level": 6}}
    blosc = {"typesize": 4, "cname": "zlib", "clevel": 6, "shuffle": "shuffle", "blocksize": 0}
    little = {"name": "bytes", "configuration": {"endian": "little"}}
    assert meta("X/data")["codecs"] == [little, gzip6]
    assert meta("X/indices")["codecs"] == [little, {"name": "blosc", "configuration": blosc}]
    assert meta("obs/text")["codecs"] == [{"name": "vlen-utf8", "configuration": {}}, gzip6]
    assert meta("obs/flag")["codecs"] == [{"name": "bytes"}, gzip6]
    assert meta("X/data")["attributes"] == {} and meta("X/data")["fill_value"] == 0.0
    root = json.loads((path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    empty = {"kind": "inline", "must_understand": False, "metadata": {}}
    assert root["obs"]["consolidated_metadata"] == empty


def test_h5ad_filters(tmp_path, matrix):
    path = tmp_path / "m.h5ad"
    write_store(path, "h5ad", small_content(matrix), sparse_chunks(matrix))
    with h5py.File(path, "r") as file:
        for key, shuffle in (
            ("X/data", False),
            ("X/indices", True),
            ("obs/cat/codes", False),
            ("obs/count", True),
            ("obs/text", False),
        ):
            dataset = file[key]
            assert (dataset.compression, dataset.compression_opts) == ("gzip", 6)
            assert dataset.shuffle is shuffle, key
        assert file["uns/title"].compression is None and file["uns/title"].shape == ()
        assert dict(file.attrs) == {"encoding-type": "anndata", "encoding-version": "0.1.0"}
        for name in ("varm", "varp", "layers", "obsm", "obsp"):
            assert file[name].attrs["encoding-type"] == "dict"


def _files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("container, zarr_format, name", CONTAINERS)
def test_same_bytes_every_run(tmp_path, matrix, container, zarr_format, name):
    content = small_content(matrix)
    outputs = []
    for run, workers in ((1, 1), (2, 2)):
        path = tmp_path / f"{run}{name}"
        write_store(
            path,
            container,
            content,
            sparse_chunks(matrix, interleave=run == 2),
            zarr_format=zarr_format,
            encode_workers=workers,
        )
        outputs.append(_files(path))
    assert outputs[0] == outputs[1]


def test_zip_entries(tmp_path, matrix):
    path = tmp_path / "s.zarr.zip"
    write_store(path, "zarr.zip", small_content(matrix), sparse_chunks(matrix))
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    assert names[:4] == ["X/data/0", "X/data/1", "X/indices/0", "X/indices/1"]
    assert names[-3:] == [".zattrs", ".zgroup", ".zmetadata"]
    first_document = min(i for i, n in enumerate(names) if n.rsplit("/", 1)[-1].startswith("."))
    assert all(n.rsplit("/", 1)[-1].startswith(".") for n in names[first_document:])
    assert not any(n.startswith("obs/zero/0") for n in names)  # all-zero chunk: no entry
    for entry in entries:
        assert entry.date_time == (1980, 1, 1, 0, 0, 0)
        assert entry.compress_type == zipfile.ZIP_STORED
        assert entry.external_attr >> 16 == 0o100644 and entry.create_system == 3


def test_h5ad_opening_values_first(tmp_path, matrix):
    path = tmp_path / "s.h5ad"
    write_store(path, "h5ad", small_content(matrix), sparse_chunks(matrix, interleave=True))
    with h5py.File(path, "r") as file:

        def start(key: str) -> int:
            dataset = file[key]
            if dataset.chunks is None:
                return dataset.id.get_offset()
            return min(
                dataset.id.get_chunk_info(i).byte_offset for i in range(dataset.id.get_num_chunks())
            )

        opening = [
            "uns/title",
            "uns/cellucid/schema",
            "uns/cellucid/ratio",
            "uns/cellucid/outlierQuantiles/minPoints",
            "uns/cellucid/defaults/obsKeys",
            "var/_index",
            "X/indptr",
            "obs/cat/categories",
            "obs/icat/categories",
        ]
        for key in opening:
            assert start(key) < 512 * 1024, key
        latest_opening = max(start(key) for key in opening)
        for key in (
            "obs/_index",
            "obs/cat/codes",
            "var/hv",
            "uns/cellucid/outlierQuantiles/fields/cat",
            "X/data",
            "X/indices",
        ):
            assert start(key) > latest_opening, key
        # each X array's chunks lie together, in grid order, data before indices
        data = [file["X/data"].id.get_chunk_info(i).byte_offset for i in range(2)]
        indices = [file["X/indices"].id.get_chunk_info(i).byte_offset for i in range(2)]
        assert data[0] < data[1] < indices[0] < indices[1]


def test_stream_errors(tmp_path, matrix):
    content = small_content(matrix)
    chunks = list(sparse_chunks(matrix))
    with pytest.raises(ValueError, match="before every chunk"):
        write_store(tmp_path / "a.zarr", "zarr", content, iter(chunks[:-1]))
    with pytest.raises(ValueError, match="out of grid order"):
        write_store(tmp_path / "b.h5ad", "h5ad", content, iter(chunks[1::-1] + chunks[2:]))
    with pytest.raises(ValueError, match="twice"):
        write_store(tmp_path / "c.zarr", "zarr", content, iter(chunks + chunks[:1]))
    with pytest.raises(ValueError, match="shape"):
        bad = [("X/data", (0,), matrix.data[:10])] + chunks[1:]
        write_store(tmp_path / "d.zarr", "zarr", content, iter(bad))
    with pytest.raises(TypeError, match="no store encoding"):
        odd = StoreContent(
            obs_index=content.obs_index,
            obs={"x": [1] * N_CELLS},
            var_index=content.var_index,
            var={},
        )
        write_store(tmp_path / "e.zarr", "zarr", odd, None)
    assert not (tmp_path / "s.zarr.zip.zarr").exists()


# -- against upstream 0.9.5 ---------------------------------------------------------------------


_REFERENCE_SCRIPT = """
import sys, anndata, cellucid
out = sys.argv[1]
cases = {"sparse": dict(latent_key="X_pca"), "dense": {}, "empty": {}}
for case, extra in cases.items():
    data = anndata.read_h5ad(f"{out}/{case}.h5ad")
    for fmt, name, zf in (("zarr", "2.zarr", 2), ("zarr", "3.zarr", 3),
                          ("zarr.zip", ".zarr.zip", None), ("h5ad", ".h5ad", None)):
        kw = {} if zf is None else {"zarr_format": zf}
        cellucid.prepare(f"{out}/ref-{case}{name}", format=fmt, data=data, dataset_id="t",
                         dataset_name="T", **kw, **extra)
"""


def _reference_input(matrix: sparse.csc_matrix) -> anndata.AnnData:
    content = small_content(matrix)
    obs = pd.DataFrame(index=pd.Index(content.obs_index))
    for name, column in content.obs.items():
        obs[name] = column
    var = pd.DataFrame({"hv": content.var["hv"]}, index=pd.Index(content.var_index))
    adata = anndata.AnnData(X=sparse.csr_matrix(matrix), obs=obs, var=var)
    for key, values in content.obsm.items():
        adata.obsm[key] = values
    adata.obsp["connectivities"] = content.obsp["connectivities"]
    return adata


def _empty_input() -> anndata.AnnData:
    """No genes: no X, an empty var index."""
    obs = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 25)}, index=[f"c{i}" for i in range(50)])
    adata = anndata.AnnData(obs=obs)
    adata.obsm["X_umap"] = np.random.default_rng(5).random((50, 2)).astype(np.float32)
    return adata


def _dense_input() -> anndata.AnnData:
    values = np.random.default_rng(3).random((700, 765)).astype(np.float32)
    values[:, :374] = 0
    adata = anndata.AnnData(
        X=values,
        obs=pd.DataFrame(index=[f"c{i}" for i in range(700)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(765)]),
    )
    adata.obsm["X_umap"] = np.random.default_rng(4).random((700, 2)).astype(np.float32)
    return adata


@pytest.fixture(scope="module")
def reference(tmp_path_factory, matrix) -> Path:
    python = reference_python()
    if python is None:
        pytest.skip("no interpreter with cellucid 0.9.5 (set CELLUCID_REFERENCE_PYTHON)")
    out = tmp_path_factory.mktemp("ref095")
    _reference_input(matrix).write_h5ad(out / "sparse.h5ad")
    _dense_input().write_h5ad(out / "dense.h5ad")
    _empty_input().write_h5ad(out / "empty.h5ad")
    # -I: neither this folder, PYTHONPATH nor user site-packages can put our package first
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    subprocess.run(
        [python, "-I", "-c", _REFERENCE_SCRIPT, str(out)],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    return out


def _converted_obs(adata: anndata.AnnData) -> dict[str, object]:
    """The obs columns as 0.9.5 stores them (a nullable integer without NA: plain integers)."""
    obs: dict[str, object] = {}
    for name in adata.obs:
        column = adata.obs[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            obs[name] = column.array
        elif isinstance(column.array, pd.arrays.IntegerArray) and not column.isna().any():
            obs[name] = column.to_numpy(dtype=column.dtype.numpy_dtype)
        elif isinstance(column.array, pd.arrays.IntegerArray | pd.arrays.BooleanArray):
            obs[name] = column.array
        else:
            obs[name] = column.to_numpy()
    return obs


def _our_content(case: str, reference: Path) -> tuple[StoreContent, object]:
    """Our StoreContent of the same input, converted by hand as 0.9.5 converts it."""
    adata = anndata.read_h5ad(reference / f"{case}.h5ad")
    common = dict(
        obs_index=adata.obs_names.to_numpy(dtype=object),
        obs=_converted_obs(adata),
        var_index=adata.var_names.to_numpy(dtype=object),
        var={name: adata.var[name].to_numpy() for name in adata.var},
        obsm={key: np.asarray(adata.obsm[key]) for key in adata.obsm},
        uns={"title": "T", "cellucid": {"schema": 1, "id": "t", "name": "T"}},
    )
    if case == "empty":
        return StoreContent(**common), None
    if case == "dense":
        x = np.asarray(adata.X)
        return StoreContent(**common, x=DenseX(shape=x.shape, dtype=x.dtype)), x
    # The outlier quantiles are the conversions' work: their values are taken from 0.9.5's output
    fields = zarr.open_group(reference / "ref-sparse2.zarr", mode="r")[
        "uns/cellucid/outlierQuantiles/fields"
    ]
    quantiles = {name: fields[name][...] for name in ("cat", "flag", "nbool", "icat")}
    common["uns"]["cellucid"].update(
        {
            "defaults": {"latentKey": "X_pca"},
            "outlierQuantiles": {"latentKey": "X_pca", "minPoints": 10, "fields": quantiles},
        }
    )
    x = sparse.csc_matrix(adata.X)
    x.sort_indices()
    sparse_x = SparseX(shape=x.shape, indptr=x.indptr.astype(np.int64), dtype=np.dtype(np.float32))
    graph = {"connectivities": sparse.csr_matrix(adata.obsp["connectivities"])}
    return StoreContent(**common, obsp=graph, x=sparse_x), x


def _write_ours(case: str, reference: Path, out: Path, container: str, zarr_format: int) -> None:
    content, x = _our_content(case, reference)
    chunks = {"dense": dense_chunks, "empty": lambda x: None}.get(
        case, lambda x: sparse_chunks(x, interleave=True)
    )(x)
    write_store(out, container, content, chunks, zarr_format=zarr_format, encode_workers=2)


CASES = ["sparse", "dense", "empty"]
_METADATA = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"}


def _assert_same_zarr(ours: zarr.Group, theirs: zarr.Group, files_ours, files_theirs) -> None:
    assert sorted(files_ours) == sorted(files_theirs)  # also: the same all-fill chunks skipped
    for name in files_theirs:
        if name.rsplit("/", 1)[-1] in _METADATA:
            assert json.loads(files_ours[name]) == json.loads(files_theirs[name]), name
            assert files_ours[name] == files_theirs[name], name  # even the same bytes
    arrays = [name for name, node in theirs.members(max_depth=None) if isinstance(node, zarr.Array)]
    assert arrays
    for name in arrays:
        np.testing.assert_array_equal(ours[name][...], theirs[name][...], err_msg=name)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_as_upstream(tmp_path, reference, case, zarr_format):
    theirs = reference / f"ref-{case}{zarr_format}.zarr"
    ours = tmp_path / "ours.zarr"
    _write_ours(case, reference, ours, "zarr", zarr_format)
    _assert_same_zarr(
        zarr.open_group(ours, mode="r"),
        zarr.open_group(theirs, mode="r"),
        _files(ours),
        _files(theirs),
    )


@pytest.mark.parametrize("case", CASES)
def test_zip_as_upstream(tmp_path, reference, case):
    ours = tmp_path / "ours.zarr.zip"
    _write_ours(case, reference, ours, "zarr.zip", 2)
    theirs = reference / f"ref-{case}.zarr.zip"
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        assert [e.filename for e in a.infolist()] == [e.filename for e in b.infolist()]
        for mine, upstream in zip(a.infolist(), b.infolist(), strict=True):
            fields = ("date_time", "external_attr", "create_system", "compress_type")
            assert [getattr(mine, f) for f in fields] == [getattr(upstream, f) for f in fields]
        files_ours = {e.filename: a.read(e) for e in a.infolist()}
        files_theirs = {e.filename: b.read(e) for e in b.infolist()}
    stores = [zarr.storage.ZipStore(p, mode="r") for p in (ours, theirs)]
    try:
        _assert_same_zarr(*(zarr.open_group(s, mode="r") for s in stores), files_ours, files_theirs)
    finally:
        for store in stores:
            store.close()


def _h5_tree(file: h5py.File) -> dict[str, tuple]:
    tree: dict[str, tuple] = {}

    def visit(name: str, node: object) -> None:
        attrs = {
            key: (type(value).__name__, np.asarray(value).dtype.str, np.asarray(value).tolist())
            for key, value in node.attrs.items()
        }
        if isinstance(node, h5py.Dataset):
            plist = node.id.get_create_plist()
            filters = [plist.get_filter(i)[:3] for i in range(plist.get_nfilters())]
            tree[name] = (
                node.shape,
                node.dtype.str,
                h5py.check_string_dtype(node.dtype),
                node.chunks,
                filters,
                attrs,
            )
        else:
            tree[name] = ("group", attrs)

    file.visititems(visit)
    tree["/"] = ("group", {k: str(v) for k, v in file.attrs.items()})
    return tree


def _h5_start(dataset: h5py.Dataset) -> int:
    if dataset.chunks is None:
        return dataset.id.get_offset() or -1
    return dataset.id.get_chunk_info(0).byte_offset if dataset.id.get_num_chunks() else -1


@pytest.mark.parametrize("case", CASES)
def test_h5ad_as_upstream(tmp_path, reference, case):
    ours = tmp_path / "ours.h5ad"
    _write_ours(case, reference, ours, "h5ad", 2)
    with h5py.File(ours, "r") as mine, h5py.File(reference / f"ref-{case}.h5ad", "r") as theirs:
        tree = _h5_tree(theirs)
        assert _h5_tree(mine) == tree
        datasets = [name for name, node in tree.items() if node[0] != "group"]
        for name in datasets:
            a, b = mine[name][()], theirs[name][()]
            np.testing.assert_array_equal(a, b, err_msg=name)
        # the same layout: every dataset's values in the same order in the file
        order = sorted(datasets, key=lambda n: _h5_start(theirs[n]))
        assert sorted(datasets, key=lambda n: _h5_start(mine[n])) == order
        assert mine.id.get_filesize() <= theirs.id.get_filesize() * 1.05
