"""The viewer beside the data: a store server with a (fake) viewer build, online and offline,
and #21 item 8's answers of the shared handler (paths in neither the data nor the viewer get
404 while the viewer is offline; a Range with an unknown unit is ignored)."""

from __future__ import annotations

import json

import pytest

from cellucid import write_demo_export
from cellucid.serving import CellucidServer
from cellucid.serving.stores import StoreServer
from cellucid.serving.viewer import ViewerAssets

from .store_serving import fetch, write_store
from .webfake import KEY_COMMIT, RawHost, closed_port_url, fake_build


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("viewer-store"), "zarr.zip", quiet=True)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer-export") / "demo"
    return write_demo_export(folder, n_cells=60, n_genes=3, quiet=True, dataset_id="demo")


def offline(tmp_path) -> ViewerAssets:
    return ViewerAssets(fake_build("key", KEY_COMMIT)[0], closed_port_url(), tmp_path / "web")


def test_the_viewer_is_served_at_the_root(store, tmp_path):
    build, files = fake_build("key", KEY_COMMIT)
    with RawHost({KEY_COMMIT: files}) as host:
        viewer = ViewerAssets(build, host.url, tmp_path / "web")
        with StoreServer(store, port=0, quiet=True, viewer=viewer) as server:
            assert server.viewer_problem() is None
            reply, body = fetch(server.port, "GET", "/?anndata=true")
            assert reply.status == 200 and body == files["index.html"]
            reply, body = fetch(server.port, "GET", "/assets/js/app.js")
            assert reply.status == 200 and body == files["assets/js/app.js"]
            assert fetch(server.port, "GET", "/assets/js/other.js")[0].status == 404
            assert "Viewer: " + server.viewer_url in server.banner()
            reply, body = fetch(server.port, "GET", "/_cellucid/datasets")
            assert json.loads(body)["datasets"][0]["id"] == "atlas-1"


def test_offline_viewer_on_a_store_server(store, tmp_path):
    with StoreServer(store, port=0, quiet=True, viewer=offline(tmp_path)) as server:
        problem = server.viewer_problem()
        assert problem and "cellucid viewer download" in problem
        reply, body = fetch(server.port, "GET", "/")
        assert reply.status == 503 and b"cellucid viewer download" in body
        assert fetch(server.port, "GET", "/assets/js/app.js")[0].status == 503
        for path in ("/var/NOPE.values.u8.gz", "//etc/passwd", "/assets//app.js"):
            assert fetch(server.port, "GET", path)[0].status == 404, path
        assert fetch(server.port, "GET", "/%2e%2e%2fetc%2fpasswd")[0].status in (403, 404)
        # the data does not need the viewer
        reply, _ = fetch(server.port, "GET", "/_cellucid/anndata/atlas-1.zarr.zip",
                         {"Range": "bytes=0-3"})
        assert reply.status == 206


def test_no_viewer(store):
    with StoreServer(store, port=0, quiet=True) as server:
        assert server.viewer_problem() is None and "Viewer:" not in server.banner()
        assert fetch(server.port, "GET", "/")[0].status == 404
        assert fetch(server.port, "GET", "/_cellucid/datasets")[0].status == 200


@pytest.mark.parametrize("path", ["/var/NOPE.values.u8.gz", "//etc/passwd", "/obs/x.gz",
                                  "/vectors/", "/connectivity/edges.bin"])
def test_offline_export_server_says_404_for_no_file(export, tmp_path, path):
    """#21 item 8: neither in the export nor a possible viewer file: 404, not 503."""
    with CellucidServer(export, port=0, quiet=True, viewer=offline(tmp_path)) as server:
        reply, body = fetch(server.port, "GET", path)
        assert reply.status == 404 and b"root:" not in body
        # a path the viewer may hold still says the viewer is unavailable
        assert fetch(server.port, "GET", "/assets/js/app.js")[0].status == 503


def test_escapes_on_an_export_server(export, tmp_path):
    with CellucidServer(export, port=0, quiet=True, viewer=offline(tmp_path)) as server:
        for path in ("/%2e%2e%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc/passwd", "/../x"):
            assert fetch(server.port, "GET", path)[0].status in (403, 404), path


def test_unknown_range_unit_is_ignored(export, tmp_path):
    """RFC 9110: a Range in a unit the server does not know is ignored: 200, the file."""
    data = (export / "points_2d.bin.gz").read_bytes()
    with CellucidServer(export, port=0, quiet=True, viewer=offline(tmp_path)) as server:
        reply, body = fetch(server.port, "GET", "/points_2d.bin.gz", {"Range": "items=0-5"})
        assert reply.status == 200 and body == data
        reply, body = fetch(server.port, "GET", "/points_2d.bin.gz", {"Range": "bytes=0-5"})
        assert reply.status == 206 and body == data[:6]
        # a bytes range that cannot be satisfied is still 416
        reply, _ = fetch(server.port, "GET", "/points_2d.bin.gz",
                         {"Range": f"bytes={len(data)}-"})
        assert reply.status == 416


def test_channel_routes_on_a_store_server(store, export, tmp_path):
    """The notebook channel's protocol document is the same on both servers."""
    with StoreServer(store, port=0, quiet=True) as stores, CellucidServer(
        export, port=0, quiet=True, viewer=offline(tmp_path)
    ) as exports:
        ours = fetch(stores.port, "GET", "/_cellucid/protocol")
        theirs = fetch(exports.port, "GET", "/_cellucid/protocol")
        assert ours[0].status == theirs[0].status == 200
        assert json.loads(ours[1]) == json.loads(theirs[1])
        assert stores.channel is not None
        # POST is not a store server's: the current app talks on the channel
        assert fetch(stores.port, "POST", "/_cellucid/events")[0].status == 405
