"""The data server, started for real on 127.0.0.1 and spoken to with http.client."""

from __future__ import annotations

import email.utils
import gzip
import http.client
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cellucid import __version__, write_demo_export
from cellucid.serving import CellucidServer
from cellucid.serving.viewer import ViewerAssets

from .webfake import KEY_COMMIT, closed_port_url, fake_build


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("exports")
    write_demo_export(
        root / "b_second",
        n_cells=300,
        n_genes=5,
        quiet=True,
        dataset_id="second",
        dataset_name="b_second",
    )
    write_demo_export(
        root / "a_first",
        n_cells=200,
        n_genes=5,
        quiet=True,
        dataset_id="first",
        dataset_name="a_first",
    )
    (root / "notes").mkdir()
    (root.parent / "secret.txt").write_text("TOP-SECRET")
    os.symlink(root.parent / "secret.txt", root / "a_first" / "link.txt")
    return root


@pytest.fixture
def offline_viewer(tmp_path) -> ViewerAssets:
    # a closed port on loopback: the fetch fails at once, as offline
    return ViewerAssets(fake_build("key", KEY_COMMIT)[0], closed_port_url(), tmp_path / "web")


@pytest.fixture
def server(exports, offline_viewer):
    with CellucidServer(exports / "a_first", port=0, quiet=True, viewer=offline_viewer) as s:
        yield s


def request(server, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, headers=headers or {})
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body


def test_endpoints(server, exports):
    reply, body = request(server, "GET", "/_cellucid/health")
    assert reply.status == 200
    assert json.loads(body) == {"status": "ok", "type": "exported", "version": __version__}
    info = json.loads(request(server, "GET", "/_cellucid/info")[1])
    assert info == {
        "version": __version__,
        "host": "127.0.0.1",
        "port": server.port,
        "mode": "standalone",
    }
    for path in ("/_cellucid/health", "/_cellucid/info", "/_cellucid/datasets"):
        reply, _ = request(server, "GET", path)
        assert reply.status == 200 and reply.getheader("Content-Type") == "application/json"
    datasets = json.loads(request(server, "GET", "/_cellucid/datasets")[1])
    assert datasets == {"datasets": [{"id": "first", "name": "a_first", "path": "/"}]}


def test_exports_root(exports, offline_viewer):
    with CellucidServer(exports, port=0, viewer=offline_viewer) as s:
        datasets = json.loads(request(s, "GET", "/_cellucid/datasets")[1])["datasets"]
        assert datasets == [
            {"id": "first", "name": "a_first", "path": "/a_first/"},
            {"id": "second", "name": "b_second", "path": "/b_second/"},
        ]
        reply, body = request(s, "GET", "/b_second/dataset_identity.json")
        assert reply.status == 200 and json.loads(body)["id"] == "second"


def test_gz_served_raw(server, exports):
    path = exports / "a_first" / "points_2d.bin.gz"
    reply, body = request(server, "GET", "/points_2d.bin.gz", {"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.getheader("Content-Encoding") is None
    assert reply.getheader("Content-Type") == "application/octet-stream"
    assert int(reply.getheader("Content-Length")) == len(body) == path.stat().st_size
    assert body == path.read_bytes() and len(gzip.decompress(body)) == 200 * 2 * 4
    reply, _ = request(server, "GET", "/obs_manifest.json")
    assert reply.getheader("Content-Type") == "application/json"


def test_head_range_and_conditional(server, exports):
    data = (exports / "a_first" / "points_3d.bin.gz").read_bytes()
    reply, body = request(server, "HEAD", "/points_3d.bin.gz")
    assert reply.status == 200 and body == b""
    assert int(reply.getheader("Content-Length")) == len(data)
    reply, body = request(server, "GET", "/points_3d.bin.gz", {"Range": "bytes=10-19"})
    assert reply.status == 206 and body == data[10:20]
    assert reply.getheader("Content-Range") == f"bytes 10-19/{len(data)}"
    reply, body = request(server, "GET", "/points_3d.bin.gz", {"Range": "bytes=-5"})
    assert reply.status == 206 and body == data[-5:]
    reply, _ = request(server, "GET", "/points_3d.bin.gz", {"Range": f"bytes={len(data)}-"})
    assert reply.status == 416 and reply.getheader("Content-Range") == f"bytes */{len(data)}"
    modified = reply_modified = request(server, "HEAD", "/points_3d.bin.gz")[0]
    stamp = reply_modified.getheader("Last-Modified")
    assert email.utils.parsedate_to_datetime(stamp)
    reply, body = request(server, "GET", "/points_3d.bin.gz", {"If-Modified-Since": stamp})
    assert reply.status == 304 and body == b""
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert request(server, "GET", "/points_3d.bin.gz", {"If-Modified-Since": old})[0].status == 200
    assert modified.status == 200


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("http://localhost:3000", True),
        ("http://127.0.0.1:8080", True),
        ("https://localhost", True),
        ("https://www.cellucid.com", True),
        ("https://cellucid.com", True),
        ("https://app.cellucid.com", True),
        ("http://www.cellucid.com", False),
        ("https://evil.com", False),
        ("https://cellucid.com.evil.com", False),
        ("https://evilcellucid.com", False),
        ("null", False),
        ("file://", False),
    ],
)
def test_cors(server, origin, allowed):
    reply, _ = request(server, "GET", "/_cellucid/health", {"Origin": origin})
    assert reply.getheader("Access-Control-Allow-Origin") == (origin if allowed else None)
    assert "Origin" in reply.getheader("Vary")
    reply, body = request(
        server,
        "OPTIONS",
        "/points_2d.bin.gz",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert reply.status == 204 and body == b""
    assert reply.getheader("Access-Control-Allow-Origin") == (origin if allowed else None)
    assert reply.getheader("Access-Control-Allow-Private-Network") == ("true" if allowed else None)
    if allowed:
        assert "GET" in reply.getheader("Access-Control-Allow-Methods")
        assert reply.getheader("Access-Control-Allow-Headers") == "range"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/obs/..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "//etc/passwd",
        "/link.txt",
        "/%00/points_2d.bin.gz",
    ],
)
def test_nothing_outside_the_folder(server, path):
    reply, body = request(server, "GET", path)
    # 503: not a data file, so a viewer path, and the (offline) viewer build is unavailable
    assert reply.status in (403, 404, 503)
    assert b"TOP-SECRET" not in body and b"root:" not in body


def test_port_fallback(exports, offline_viewer):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with CellucidServer(exports, port=taken, viewer=offline_viewer) as s:
            assert s.port != taken and taken < s.port <= taken + 100
            assert f":{s.port}" in s.url and f":{s.port}" in s.banner()
            assert request(s, "GET", "/_cellucid/health")[0].status == 200


def test_200_concurrent_requests(server):
    def fetch(i: int) -> int:
        path = ["/_cellucid/health", "/points_2d.bin.gz", "/obs_manifest.json"][i % 3]
        return request(server, "GET", path)[0].status

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(fetch, range(200)))
    assert statuses == [200] * 200


def test_server_object_lifecycle(exports, offline_viewer):
    s = CellucidServer(exports, port=0, viewer=offline_viewer)
    assert not s.running
    s.start()
    assert s.running and s.url.startswith("http://127.0.0.1:")
    port = s.port
    s.stop()
    assert not s.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with pytest.raises(ValueError, match="holds no export"):
        CellucidServer(exports / "notes")
