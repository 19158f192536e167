"""What the notebook channel refuses: openings (before upgrading) and frames (after).

Refused openings get an HTTP status and no upgrade; refused frames close the channel with
the WebSocket code that says why, in an orderly close the client reads.
"""

from __future__ import annotations

import http.client
import os
import struct
from pathlib import Path

import pytest

from cellucid import write_demo_export
from cellucid.notebook.show import NotebookViewer
from cellucid.serving.server import CellucidServer

from .channelclient import AppClient, Refused

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("e") / "demo"
    return write_demo_export(folder, n_cells=20, n_genes=2, quiet=True)


@pytest.fixture
def server(export, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web"))
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "http://127.0.0.1:9")
    with CellucidServer(export, port=0, quiet=True, allowed_hosts=["hub.example.org"]) as running:
        yield running


@pytest.fixture
def viewer(server):
    shown = NotebookViewer(server, 300, owns_server=False, app="current")
    yield shown
    shown.stop()


def opening(port: int, **headers: str) -> tuple[int, dict[str, str]]:
    """Send a WebSocket opening with ``headers`` (``None`` values left out); status, headers."""
    base = {
        "Host": f"127.0.0.1:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
        "Origin": "http://localhost:8888",
    }
    base.update(headers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", "/_cellucid/ws", skip_host=True)
    for name, value in base.items():
        if value is not None:
            conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    answer = response.status, {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    return answer


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Upgrade": None}, 426),
        ({"Connection": "keep-alive"}, 426),
        ({"Sec-WebSocket-Version": "8"}, 426),
        ({"Sec-WebSocket-Key": "short"}, 400),
        ({"Sec-WebSocket-Key": "x" * 24}, 400),
        ({"Origin": None}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Host": "evil.example"}, 403),  # the server's Host check comes first
    ],
    ids=[
        "no-upgrade",
        "no-connection-upgrade",
        "version",
        "key",
        "key-base64",
        "no-origin",
        "other-site",
        "opaque-origin",
        "foreign-host",
    ],
)
def test_openings_refused_before_upgrading(server, headers, status):
    answered, _ = opening(server.port, **headers)
    assert answered == status


def test_openings_accepted_from_this_servers_pages(server):
    status, headers = opening(server.port)
    assert status == 101
    # the sample of RFC 6455, section 1.3
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    # the page's origin may be the Host's own name, or a host given with allowed_hosts
    assert opening(server.port, Origin=f"http://127.0.0.1:{server.port}")[0] == 101
    assert opening(server.port, Origin="https://hub.example.org")[0] == 101
    assert opening(server.port, Origin="https://hub.example.org.evil.example")[0] == 403


def test_a_server_without_a_hub_answers_404(server):
    hub, server.channel = server.channel, None
    try:
        with pytest.raises(Refused) as refused:
            AppClient(server.port)
    finally:
        server.channel = hub
    assert refused.value.status == 404


def test_the_protocol_document_is_served(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/_cellucid/protocol")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert response.read().startswith(b'{"channel": "_cellucid/ws", "commands": [')


def connected(viewer: NotebookViewer) -> AppClient:
    client = AppClient(viewer.server.port)
    client.hello(viewer.viewer_id, viewer.token)
    assert client.receive_json() == {"type": "welcome"}
    return client


def masked(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """One client frame built by hand, to send what wsproto's client never would."""
    first = (0x80 if fin else 0) | opcode
    key = os.urandom(4) if mask else b""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | length)
    else:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, length)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + key + body


@pytest.mark.parametrize(
    "frame, code",
    [
        (masked(0x1, b'{"type":"ready"}', mask=False), 1002),  # clients must mask
        (masked(0x1, b"\xff\xfe"), 1007),  # text that is not UTF-8
        (masked(0x3, b"x"), 1002),  # a reserved opcode
        (masked(0x9, b"x" * 126), 1002),  # a control frame over 125 bytes
        (masked(0x1, b"{"), 1008),  # not JSON
        (masked(0x1, b'{"type":"ready","n_cells":NaN,"dimensions":2}'), 1008),
        (masked(0x1, b"[1, 2]"), 1008),  # not an object
        (masked(0x1, b'{"type":"ready","n_cells":true,"dimensions":2}'), 1008),
        (masked(0x1, b'{"type":"ready","n_cells":5,"dimensions":4}'), 1008),
        (masked(0x1, b'{"type":"click","cell":1,"button":0,"shift":0,"ctrl":false}'), 1008),
        (masked(0x1, b'{"type":"hover","cell":1,"position":{"x":1,"y":2}}'), 1008),
        (masked(0x1, b'{"type":"selection","cells":[1],"source":"lasso"}'), 1008),  # binary
        (masked(0x1, b'{"type":"session_bundle","requestId":"r"}'), 1008),  # not offered
        (masked(0x1, b'{"type":"data_mapping","requestId":null}'), 1008),  # not offered
        (masked(0x1, b'{"type":"hello","viewerId":"a","viewerToken":"b"}'), 1008),  # twice
    ],
    ids=[
        "unmasked",
        "utf8",
        "opcode",
        "control",
        "json",
        "nan",
        "array",
        "bool-count",
        "dimensions",
        "int-flag",
        "position",
        "text-selection",
        "bundle",
        "mapping",
        "second-hello",
    ],
)
def test_bad_frames_close_the_channel(viewer, frame, code):
    client = connected(viewer)
    client.sock.sendall(frame)
    assert client.closed().code == code
    assert viewer.latest == {}
    assert not viewer.connected


def test_oversized_messages_close_the_channel(viewer, monkeypatch):
    from cellucid.serving import channel

    client = connected(viewer)
    client.send_text('{"type":"pong","requestId":"' + "r" * (1 << 20) + '","t":1}')
    closed = client.closed()
    assert (closed.code, closed.reason) == (1009, f"text messages are at most {1 << 20} bytes")
    # a binary message over its limit, in fragments: counted across them
    monkeypatch.setattr(channel, "MAX_BINARY_BYTES", 4096)
    client = connected(viewer)
    client.sock.sendall(masked(0x2, b"\0" * 3000, fin=False) + masked(0x0, b"\0" * 3000))
    assert client.closed().code == 1009
    # the limit is the whole message: a fragmented one under it is read whole
    client = connected(viewer)
    header = b'{"type":"selection","source":"lasso"}   '
    frame = struct.pack("<I", len(header)) + header + struct.pack("<3I", 1, 2, 3)
    client.sock.sendall(masked(0x2, frame[:10], fin=False) + masked(0x0, frame[10:]))
    client.send_json({"type": "ready", "n_cells": 20, "dimensions": 2})
    assert viewer.wait_for_ready(30) == {"n_cells": 20, "dimensions": 2}
    assert viewer.latest["selection"] == {"source": "lasso", "cells": [1, 2, 3]}
    client.close()


def test_pings_are_answered_and_the_peer_can_close(viewer):
    from wsproto.events import Ping, Pong

    client = connected(viewer)
    client.sock.sendall(client.ws.send(Ping(payload=b"are you there")))
    assert client.next_event() == Pong(payload=b"are you there")
    client.close()


def test_the_server_ends_the_connection_after_the_apps_close(viewer):
    from wsproto.events import CloseConnection

    client = connected(viewer)
    client.sock.sendall(client.ws.send(CloseConnection(code=1000, reason="page closed")))
    answer = client.next_event()
    assert isinstance(answer, CloseConnection) and answer.code == 1000
    # the server closes the TCP connection first; the client only waits for it
    assert client.sock.recv(1024) == b""
    client.sock.close()


def test_a_hello_sent_with_the_opening_is_read(viewer):
    """Frames right behind the request (already in the HTTP reader's buffer) are not lost."""
    import json
    import socket

    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import TextMessage

    port = viewer.server.port
    request = (
        f"GET /_cellucid/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"
        "Origin: http://127.0.0.1\r\n\r\n"
    ).encode()
    hello = {"type": "hello", "viewerId": viewer.viewer_id, "viewerToken": viewer.token}
    ready = {"type": "ready", "n_cells": 20, "dimensions": 2}
    frames = masked(0x1, json.dumps(hello).encode()) + masked(0x1, json.dumps(ready).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request + frames)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        client = Connection(ConnectionType.CLIENT, trailing_data=rest)
        events = list(client.events())
        while not events:
            client.receive_data(sock.recv(4096))
            events = list(client.events())
        assert events[0] == TextMessage(data='{"type":"welcome"}')
        assert viewer.wait_for_ready(30) == {"n_cells": 20, "dimensions": 2}
