"""A Cellucid-ready store served as it is: real stores written by our writer, a real
StoreServer on 127.0.0.1, read back through HTTP (Range, HEAD, ETag, keys of a .zarr)."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import anndata
import h5py
import numpy as np
import pytest
import zarr
from anndata.io import read_elem

from cellucid import __version__
from cellucid.serving.stores import StoreServer

from .store_serving import N_CELLS, N_GENES, RangeFile, fetch, write_store


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stores")
    return {c: write_store(folder, c, quiet=True) for c in ("zarr", "zarr-v3", "zarr.zip", "h5ad")}


@pytest.fixture(params=["zarr", "zarr-v3", "zarr.zip", "h5ad"])
def served(request, stores):
    with StoreServer(stores[request.param], port=0, quiet=True) as server:
        yield request.param, stores[request.param], server


def get_json(server, route):
    reply, body = fetch(server.port, "GET", route)
    assert reply.status == 200 and reply.getheader("Content-Type") == "application/json"
    return json.loads(body)


def test_documents(served):
    container, path, server = served
    kind, layout, ending = {
        "zarr": ("zarr", "folder", ".zarr/"),
        "zarr-v3": ("zarr", "folder", ".zarr/"),
        "zarr.zip": ("zarr", "zip", ".zarr.zip"),
        "h5ad": ("h5ad", "file", ".h5ad"),
    }[container]
    file = {"url": f"_cellucid/anndata/atlas-1{ending}", "kind": kind, "layout": layout}
    if layout != "folder":
        file["size"] = path.stat().st_size
    entry = {"id": "atlas-1", "name": "Atlas one", "anndata": {"file": file, "defaults": {}}}
    assert get_json(server, "/_cellucid/datasets") == {"datasets": [entry]}
    counts = {"format": kind, "n_cells": N_CELLS, "n_genes": N_GENES}
    health = {"status": "ok", "type": "anndata", "version": __version__, **counts}
    assert get_json(server, "/_cellucid/health") == health
    info = get_json(server, "/_cellucid/info")
    assert info == {
        "version": __version__,
        "type": "anndata",
        "format": kind,
        "host": "127.0.0.1",
        "port": server.port,
        "n_cells": N_CELLS,
        "n_genes": N_GENES,
        "runtime": "python",
    }
    assert list(info) == ["version", "type", "format", "host", "port", "n_cells", "n_genes",
                          "runtime"]
    assert server.viewer_url == f"http://127.0.0.1:{server.port}/?anndata=true"


def test_file_read_back_through_ranges(stores):
    """An .h5ad opened by h5py and a .zarr.zip by zipfile over Range requests only."""
    with StoreServer(stores["h5ad"], port=0, quiet=True) as server:
        remote = RangeFile(server.port, "/_cellucid/anndata/atlas-1.h5ad")
        with h5py.File(remote, "r") as served, h5py.File(stores["h5ad"], "r") as local:
            assert served["uns/cellucid/id"][()] == local["uns/cellucid/id"][()]
            x_served, x_local = read_elem(served["X"]), read_elem(local["X"])
            assert (x_served != x_local).nnz == 0 and x_served.format == "csc"
            np.testing.assert_array_equal(read_elem(served["obsm/X_umap"]),
                                          read_elem(local["obsm/X_umap"]))
        # the whole file was not read: only what h5py asked for
        assert 0 < remote.requests
    with StoreServer(stores["zarr.zip"], port=0, quiet=True) as server:
        remote = RangeFile(server.port, "/_cellucid/anndata/atlas-1.zarr.zip")
        with zipfile.ZipFile(remote) as served, zipfile.ZipFile(stores["zarr.zip"]) as local:
            assert served.namelist() == local.namelist()
            for name in served.namelist():
                assert served.read(name) == local.read(name), name


def _chunk_keys(meta_key, meta, zarr_format):
    """Every chunk key of one array (absent ones are fill values: the server says 404)."""
    shape, prefix = meta["shape"], meta_key.rsplit("/", 1)[0]
    if zarr_format == 2:
        chunks, separator, leading = meta["chunks"], meta.get("dimension_separator", "."), ""
    else:
        chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
        separator = meta["chunk_key_encoding"].get("configuration", {}).get("separator", "/")
        leading = "c" + separator if meta["chunk_key_encoding"]["name"] == "default" else ""
    grid = [range(-(-n // c)) for n, c in zip(shape, chunks, strict=True)] or [range(1)]
    for index in np.ndindex(*[len(g) for g in grid]):
        name = separator.join(str(i) for i in index) if shape else "0"
        if zarr_format == 3 and not shape:
            name = "c" if leading else "0"
        else:
            name = leading + name
        yield f"{prefix}/{name}"


def _mirror(server, route, target, zarr_format):
    """Copy a served .zarr key by key into ``target``, from its consolidated metadata only
    (a browser cannot list a folder)."""
    root_key = ".zmetadata" if zarr_format == 2 else "zarr.json"
    reply, body = fetch(server.port, "GET", f"{route}{root_key}")
    assert reply.status == 200
    document = json.loads(body)
    if zarr_format == 2:
        metadata = document["metadata"]
    else:
        metadata = {"zarr.json": document}
        metadata.update({
            f"{node}/zarr.json": meta
            for node, meta in document["consolidated_metadata"]["metadata"].items()
        })
    fetched = absent = 0
    keys = set(metadata)
    for key, meta in metadata.items():
        array = key.endswith(".zarray") or (key.endswith("zarr.json") and
                                            meta.get("node_type") == "array")
        if array:
            keys.update(_chunk_keys(key, meta, zarr_format))
    keys.add(root_key)
    for key in sorted(keys):
        reply, body = fetch(server.port, "GET", f"{route}{key}")
        if reply.status == 404:
            absent += 1
            continue
        assert reply.status == 200, (key, reply.status)
        (target / key).parent.mkdir(parents=True, exist_ok=True)
        (target / key).write_bytes(body)
        fetched += 1
    return fetched, absent


@pytest.mark.parametrize("container", ["zarr", "zarr-v3"])
def test_zarr_folder_read_back_key_by_key(stores, tmp_path, container):
    zarr_format = 2 if container == "zarr" else 3
    with StoreServer(stores[container], port=0, quiet=True) as server:
        fetched, _ = _mirror(server, "/_cellucid/anndata/atlas-1.zarr/", tmp_path / "m.zarr",
                             zarr_format)
    assert fetched > 20
    for path in (tmp_path / "m.zarr").rglob("*"):
        if path.is_file():
            original = stores[container] / path.relative_to(tmp_path / "m.zarr")
            assert path.read_bytes() == original.read_bytes()
    mirrored = anndata.read_zarr(tmp_path / "m.zarr")
    original = anndata.read_zarr(stores[container])
    assert (mirrored.X != original.X).nnz == 0
    assert mirrored.obs.equals(original.obs) and mirrored.uns["cellucid"]["id"] == "atlas-1"
    np.testing.assert_array_equal(mirrored.obsm["X_pca"], original.obsm["X_pca"])
    assert isinstance(zarr.open_group(tmp_path / "m.zarr", mode="r"), zarr.Group)


def test_range_head_etag(stores):
    path = stores["h5ad"]
    data = path.read_bytes()
    route = "/_cellucid/anndata/atlas-1.h5ad"
    with StoreServer(path, port=0, quiet=True) as server:
        reply, body = fetch(server.port, "HEAD", route)
        assert reply.status == 200 and body == b""
        assert int(reply.getheader("Content-Length")) == len(data)
        assert reply.getheader("Content-Type") == "application/octet-stream"
        etag = reply.getheader("ETag")
        assert etag and etag.startswith('"')
        cases = {
            "bytes=0-99": (0, 99),
            "bytes=100-": (100, len(data) - 1),
            "bytes=-50": (len(data) - 50, len(data) - 1),
            f"bytes={len(data) - 5}-{len(data) + 100}": (len(data) - 5, len(data) - 1),
        }
        for header, (first, last) in cases.items():
            reply, body = fetch(server.port, "GET", route, {"Range": header})
            assert reply.status == 206, header
            assert body == data[first : last + 1], header
            assert reply.getheader("Content-Range") == f"bytes {first}-{last}/{len(data)}"
            assert reply.getheader("ETag") == etag
        reply, _ = fetch(server.port, "GET", route, {"Range": f"bytes={len(data)}-"})
        assert reply.status == 416 and reply.getheader("Content-Range") == f"bytes */{len(data)}"
        # unknown unit: ignored (RFC 9110), the whole file
        reply, body = fetch(server.port, "GET", route, {"Range": "items=0-5"})
        assert reply.status == 200 and body == data
        # cached copy still good: 304 with no body; another tag: the file
        reply, body = fetch(server.port, "GET", route, {"If-None-Match": etag})
        assert reply.status == 304 and body == b"" and reply.getheader("ETag") == etag
        reply, body = fetch(server.port, "GET", route, {"If-None-Match": '"old"'})
        assert reply.status == 200 and body == data
        # If-Range naming an older version: the whole current file, never a range of it
        reply, body = fetch(server.port, "GET", route,
                              {"Range": "bytes=0-9", "If-Range": '"old"'})
        assert reply.status == 200 and body == data
        reply, body = fetch(server.port, "GET", route, {"Range": "bytes=0-9", "If-Range": etag})
        assert reply.status == 206 and body == data[:10]
        # the file rewritten in place: a new tag, and the old one no longer matches
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        reply, body = fetch(server.port, "GET", route, {"If-None-Match": etag})
        assert reply.status == 200 and reply.getheader("ETag") != etag


def test_zarr_key_etag_and_head(stores):
    with StoreServer(stores["zarr"], port=0, quiet=True) as server:
        route = "/_cellucid/anndata/atlas-1.zarr/.zmetadata"
        data = (stores["zarr"] / ".zmetadata").read_bytes()
        reply, body = fetch(server.port, "GET", route)
        assert reply.status == 200 and body == data
        etag = reply.getheader("ETag")
        assert fetch(server.port, "GET", route, {"If-None-Match": etag})[0].status == 304
        reply, body = fetch(server.port, "HEAD", route)
        assert reply.status == 200 and body == b"" and reply.getheader("ETag") == etag
        reply, body = fetch(server.port, "GET", route, {"Range": "bytes=2-11"})
        assert reply.status == 206 and body == data[2:12]


def test_cors_exposes_what_a_range_reader_needs(stores):
    with StoreServer(stores["h5ad"], port=0, quiet=True) as server:
        reply, _ = fetch(server.port, "GET", "/_cellucid/anndata/atlas-1.h5ad",
                           {"Origin": "https://www.cellucid.com", "Range": "bytes=0-3"})
        assert reply.getheader("Access-Control-Allow-Origin") == "https://www.cellucid.com"
        exposed = {h.strip() for h in reply.getheader("Access-Control-Expose-Headers").split(",")}
        assert {"Content-Range", "Content-Length", "ETag", "Accept-Ranges"} <= exposed
        reply, _ = fetch(server.port, "GET", "/_cellucid/datasets",
                           {"Origin": "https://evil.example"})
        assert reply.getheader("Access-Control-Allow-Origin") is None


def test_host_check(stores):
    with StoreServer(stores["h5ad"], port=0, quiet=True) as server:
        reply, _ = fetch(server.port, "GET", "/_cellucid/datasets",
                           {"Host": f"attacker.example:{server.port}"})
        assert reply.status == 403
    with StoreServer(stores["h5ad"], port=0, quiet=True, allowed_hosts=["hub.example"]) as s:
        reply, _ = fetch(s.port, "GET", "/_cellucid/datasets", {"Host": "hub.example:443"})
        assert reply.status == 200


def test_overrides_of_a_single_store(stores):
    defaults = {"latentKey": "X_pca", "obsKeys": ["cell_type"]}
    with StoreServer(stores["zarr"], port=0, quiet=True, dataset_id="other",
                     dataset_name="Other name", defaults=defaults) as server:
        entry = get_json(server, "/_cellucid/datasets")["datasets"][0]
        assert (entry["id"], entry["name"]) == ("other", "Other name")
        assert entry["anndata"] == {
            "file": {"url": "_cellucid/anndata/other.zarr/", "kind": "zarr", "layout": "folder"},
            "defaults": defaults,
        }
        assert fetch(server.port, "GET", "/_cellucid/anndata/other.zarr/.zgroup")[0].status \
            == 200
        assert fetch(server.port, "GET", "/_cellucid/anndata/atlas-1.zarr/.zgroup")[0].status \
            == 404
    with pytest.raises(ValueError, match="dataset_id"):
        StoreServer(stores["zarr"], port=0, quiet=True, dataset_id="../x")


def test_generated_consolidated_metadata(stores, tmp_path):
    """A .zarr folder without consolidated metadata gets one built in memory."""
    import shutil

    for container, key in (("zarr", ".zmetadata"), ("zarr-v3", "zarr.json")):
        copy = tmp_path / f"{container}.zarr"
        shutil.copytree(stores[container], copy)
        if container == "zarr":
            (copy / ".zmetadata").unlink()
        else:
            top = json.loads((copy / "zarr.json").read_text())
            top.pop("consolidated_metadata")
            (copy / "zarr.json").write_text(json.dumps(top))
        with StoreServer(copy, port=0, quiet=True) as server:
            reply, body = fetch(server.port, "GET", f"/_cellucid/anndata/atlas-1.zarr/{key}")
            assert reply.status == 200
            document = json.loads(body)
            original = json.loads((stores[container] / key).read_text())
            if container == "zarr":
                # every document of the store (zarr-python adds blocks of its own to groups)
                assert document["metadata"].keys() == original["metadata"].keys()
                assert document["metadata"]["X/data/.zarray"] == original["metadata"][
                    "X/data/.zarray"
                ]
            else:
                assert (document["consolidated_metadata"]["metadata"].keys()
                        == original["consolidated_metadata"]["metadata"].keys())
            etag = reply.getheader("ETag")
            assert etag == f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            assert fetch(server.port, "GET", f"/_cellucid/anndata/atlas-1.zarr/{key}",
                           {"If-None-Match": etag})[0].status == 304
        # nothing was written into the store
        if container == "zarr":
            assert not (copy / ".zmetadata").exists()
        else:
            assert "consolidated_metadata" not in json.loads((copy / "zarr.json").read_text())
