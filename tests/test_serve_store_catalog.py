"""Which stores a StoreServer publishes (one, or a folder of them with unique ids), what it
refuses to start on, and keys that try to leave a store."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cellucid.serving.stores import StoreNotReady, StoreServer, read_store

from .store_serving import fetch, small_anndata, write_store


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder of stores: two with the same id (one differing only in case), a v3 store,
    an .h5ad that is not Cellucid-ready, a damaged .zarr.zip and unrelated files."""
    root = tmp_path_factory.mktemp("many")
    write_store(root, "h5ad", dataset_id="alpha", quiet=True)
    write_store(root, "zarr", dataset_id="alpha", quiet=True)
    write_store(root, "zarr-v3", dataset_id="ALPHA", quiet=True)
    write_store(root, "zarr.zip", dataset_id="beta", dataset_name="Beta", quiet=True)
    small_anndata().write_h5ad(root / "plain.h5ad")
    (root / "broken.zarr.zip").write_bytes(b"not a zip")
    (root / "notes.txt").write_text("hello")
    (root / ".hidden.zarr").mkdir()
    return root


def test_a_folder_lists_each_store_with_a_unique_id(folder):
    with StoreServer(folder, port=0, quiet=True) as server:
        reply, body = fetch(server.port, "GET", "/_cellucid/datasets")
        entries = json.loads(body)["datasets"]
        urls = {e["id"]: e["anndata"]["file"]["url"] for e in entries}
        assert urls == {
            "alpha": "_cellucid/anndata/alpha.h5ad",
            "alpha-2": "_cellucid/anndata/alpha-2.zarr/",
            "ALPHA-3": "_cellucid/anndata/ALPHA-3.zarr/",
            "beta": "_cellucid/anndata/beta.zarr.zip",
        }
        # in the order of the file names; the repeats numbered in that order
        assert [e["id"] for e in entries] == ["alpha", "alpha-2", "beta", "ALPHA-3"]
        assert [e["name"] for e in entries] == ["Atlas one", "Atlas one", "Beta", "Atlas one"]
        # each route reads its own store
        for store_id, url in urls.items():
            key = ".zgroup" if url.endswith("/") and store_id != "ALPHA-3" else "zarr.json"
            target = f"/{url}{key}" if url.endswith("/") else f"/{url}"
            reply, _ = fetch(server.port, "HEAD", target)
            assert reply.status == 200, target
        assert set(server.skipped) == {"plain.h5ad", "broken.zarr.zip"}
        assert "uns['cellucid']" in server.skipped["plain.h5ad"]
        assert "cellucid.prepare" in server.skipped["plain.h5ad"]
        assert "plain.h5ad" in server.banner() and "broken.zarr.zip" in server.banner()
        assert server.viewer_url.endswith("/?anndata=true&dataset=alpha")


def test_a_store_added_later_appears(tmp_path):
    write_store(tmp_path, "h5ad", dataset_id="first", quiet=True)
    with StoreServer(tmp_path, port=0, quiet=True) as server:
        write_store(tmp_path, "zarr.zip", dataset_id="second", quiet=True)
        reply, _ = fetch(server.port, "HEAD", "/_cellucid/anndata/second.zarr.zip")
        assert reply.status == 200
        ids = [d["id"] for d in json.loads(fetch(server.port, "GET", "/_cellucid/datasets")[1])
               ["datasets"]]
        assert ids == ["first", "second"]
        # removed while serving: gone from the list and its route, the server still answers
        for store in tmp_path.iterdir():
            store.unlink()
        assert json.loads(fetch(server.port, "GET", "/_cellucid/datasets")[1]) == {
            "datasets": []
        }
        assert fetch(server.port, "HEAD", "/_cellucid/anndata/second.zarr.zip")[0].status == 404
        health = json.loads(fetch(server.port, "GET", "/_cellucid/health")[1])
        assert health["status"] == "ok" and health["n_cells"] is None


def test_refused_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        StoreServer(tmp_path / "absent.zarr", port=0)
    small_anndata().write_h5ad(tmp_path / "plain.h5ad")
    with pytest.raises(StoreNotReady, match=r"plain\.h5ad: no uns\['cellucid'\] record"):
        StoreServer(tmp_path / "plain.h5ad", port=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StoreNotReady, match="holds no Cellucid-ready store"):
        StoreServer(empty, port=0)
    with pytest.raises(StoreNotReady, match=r"(?s)holds no Cellucid-ready store.*plain\.h5ad"):
        StoreServer(tmp_path, port=0)
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(StoreNotReady, match="must be a folder"):
        read_store(tmp_path / "file.zarr")
    store = write_store(tmp_path, "zarr", quiet=True)
    with pytest.raises(ValueError, match="one store only"):
        StoreServer(tmp_path, port=0, dataset_id="x")
    assert read_store(store).id == "atlas-1"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A .zarr store holding symlinks out of itself, beside a secret file."""
    root = tmp_path_factory.mktemp("guarded")
    store = write_store(root, "zarr", quiet=True)
    (root / "secret.txt").write_text("TOP-SECRET")
    os.symlink(root / "secret.txt", store / "obs" / "leak")
    os.symlink(root, store / "uns" / "up")
    shutil.copy(store / ".zgroup", root / ".zgroup-outside")
    return store


ESCAPES = [
    "/_cellucid/anndata/atlas-1.zarr/../secret.txt",
    "/_cellucid/anndata/atlas-1.zarr/%2e%2e/secret.txt",
    "/_cellucid/anndata/atlas-1.zarr/%2E%2E%2Fsecret.txt",
    "/_cellucid/anndata/atlas-1.zarr/obs%2F..%2F..%2Fsecret.txt",
    "/_cellucid/anndata/atlas-1.zarr/obs%2f.zattrs",
    "/_cellucid/anndata/atlas-1.zarr/obs%5c.zattrs",
    "/_cellucid/anndata/atlas-1.zarr//etc/passwd",
    "/_cellucid/anndata/atlas-1.zarr/%2Fetc%2Fpasswd",
    "/_cellucid/anndata/atlas-1.zarr/obs/./.zattrs",
    "/_cellucid/anndata/atlas-1.zarr/obs/%00.zattrs",
    "/_cellucid/anndata/atlas-1.zarr/",
    "/_cellucid/anndata/atlas-1.zarr",
    "/_cellucid/anndata/../../secret.txt",
    "/_cellucid/anndata/secret.txt",
    "/_cellucid/anndata/atlas.zarr/.zgroup",  # the file's own name is never a route
    "//etc/passwd",
    "/%2e%2e%2fsecret.txt",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_keys_cannot_leave_the_store(guarded, path):
    with StoreServer(guarded, port=0, quiet=True) as server:
        reply, body = fetch(server.port, "GET", path)
    assert reply.status == 404, (path, reply.status)
    assert b"TOP-SECRET" not in body and b"root:" not in body


def test_symlinks_out_of_the_store_are_refused(guarded):
    with StoreServer(guarded, port=0, quiet=True) as server:
        for key in ("obs/leak", "uns/up/secret.txt", "uns/up/.zgroup-outside"):
            reply, body = fetch(server.port, "GET", f"/_cellucid/anndata/atlas-1.zarr/{key}")
            # 403, not 404: a Zarr reader must fail, not read the chunk as fill values
            assert reply.status == 403, key
            assert b"TOP-SECRET" not in body
        reply, _ = fetch(server.port, "GET", "/_cellucid/anndata/atlas-1.zarr/obs/.zattrs")
        assert reply.status == 200
