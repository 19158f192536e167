"""Server hardening, with a real server and raw sockets: Host check (DNS rebinding),
over-long and malformed targets, idle timeouts, multi-range requests."""

from __future__ import annotations

import ast
import http.client
import socket
import time
from pathlib import Path

import pytest

from cellucid import write_demo_export
from cellucid.serving import CellucidServer
from cellucid.serving.viewer import ViewerAssets

from .webfake import KEY_COMMIT, closed_port_url, fake_build

SRC = Path(__file__).resolve().parents[1] / "src" / "cellucid" / "serving"


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_demo_export(
        tmp_path_factory.mktemp("e") / "demo", n_cells=150, n_genes=4, quiet=True
    )


def offline(tmp_path: Path) -> ViewerAssets:
    return ViewerAssets(fake_build("key", KEY_COMMIT)[0], closed_port_url(), tmp_path / "w")


@pytest.fixture
def server(export, tmp_path):
    with CellucidServer(export, port=0, viewer=offline(tmp_path), idle_timeout=1.0) as s:
        yield s


def status(server: CellucidServer, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    reply = conn.getresponse()
    reply.read()
    conn.close()
    return reply.status


def raw(server: CellucidServer, data: bytes, wait: float = 10) -> bytes:
    """Send bytes, read until the server closes or answers one response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_host_header_must_name_this_server(server):
    port = server.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert status(server, "/_cellucid/health", {"Host": host}) == 200, host
    for host in (
        "evil.example",
        f"evil.example:{port}",
        f"localhost:{port + 1}",
        "localhost",
        f"127.0.0.1.evil.example:{port}",
        f"localhost:{port}@evil",
        "",
    ):
        assert status(server, "/_cellucid/health", {"Host": host}) == 403, host
    assert status(server, "/points_2d.bin.gz", {"Host": "rebound.example"}) == 403
    # no Host header at all
    assert b" 403 " in raw(server, b"GET /_cellucid/health HTTP/1.0\r\n\r\n").split(b"\r\n")[0]


def test_allowed_hosts(export, tmp_path):
    allowed = ["proxy.example", "tunnel.example:9000", "::1"]
    with CellucidServer(export, port=0, viewer=offline(tmp_path), allowed_hosts=allowed) as s:
        assert status(s, "/_cellucid/health", {"Host": "proxy.example"}) == 200
        assert status(s, "/_cellucid/health", {"Host": "proxy.example:8443"}) == 200
        assert status(s, "/_cellucid/health", {"Host": "tunnel.example:9000"}) == 200
        assert status(s, "/_cellucid/health", {"Host": "tunnel.example:9001"}) == 403
        assert status(s, "/_cellucid/health", {"Host": "[::1]:1234"}) == 200
        assert status(s, "/_cellucid/health", {"Host": "evil.example"}) == 403
    with pytest.raises(ValueError, match="not a host"):
        CellucidServer(export, port=0, viewer=offline(tmp_path), allowed_hosts=["a/b"])


def test_long_paths_get_an_answer(server):
    assert status(server, "/" + "a" * 300) == 404
    assert status(server, "/obs/" + "b" * 300 + ".values.f32") == 404
    assert status(server, "/" + "a" * 3000) == 414
    assert status(server, "/" + "/".join(["c" * 200] * 11)) == 414  # 2,211 > 2,048
    # longer than http.server's request-line limit: still an answer, not a dropped socket
    reply = raw(server, b"GET /" + b"d" * 70000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert reply.startswith(b"HTTP/1.") and b" 414 " in reply.split(b"\r\n")[0]


@pytest.mark.parametrize("target", [b"foo", b"http://evil.example/", b"*", b"%2Fetc"])
def test_target_must_start_with_a_slash(server, target):
    host = f"127.0.0.1:{server.port}".encode()
    reply = raw(server, b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert b" 400 " in reply.split(b"\r\n")[0]


def test_idle_connections_are_closed(server):
    for data in (b"", b"GET /_cellucid/health HT"):  # nothing, half a request line
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(data)
            assert sock.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 8


def test_multi_range_gets_the_whole_file(server, export):
    data = (export / "points_2d.bin.gz").read_bytes()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/points_2d.bin.gz", headers={"Range": "bytes=0-1,5-6"})
    reply = conn.getresponse()
    assert reply.status == 200 and reply.read() == data
    assert reply.getheader("Content-Range") is None
    conn.request("GET", "/points_2d.bin.gz", headers={"Range": "bytes=2-5"})
    reply = conn.getresponse()
    assert reply.status == 206 and reply.read() == data[2:6]  # same connection still alive
    conn.close()


def test_handler_and_server_do_not_import_each_other():
    def imports(name: str) -> set[str]:
        tree = ast.parse((SRC / name).read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "cellucid.serving.server" not in imports("handler.py")
    assert "cellucid.serving.handler" in imports("server.py")
    assert "cellucid.serving.server" not in imports("httpd.py")
