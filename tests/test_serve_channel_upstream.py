"""Our notebook channel against upstream cellucid 0.9.5's, each answering a real client.

Upstream runs in its own virtual environment (tests/reference095.py finds it; the tests skip
without it): its AnnData server on a small .h5ad, with one viewer registered through its
channel module. The same stand-in for the app (tests/channelclient.py) then talks to both
servers: the capability documents, the events each accepts and the command frames each
sends are compared.
"""

from __future__ import annotations

import http.client
import json
import queue
import subprocess
import threading
from pathlib import Path

import pytest

from cellucid import write_demo_export
from cellucid.notebook.show import NotebookViewer
from cellucid.serving.server import CellucidServer

from .channelclient import AppClient, Refused
from .test_serve_channel_hooks import Recorder

#: What upstream 0.9.5 offers and we do not (serving/channel/protocol.py says why):
#: session bundles and data mappings, a command and an event each.
NOT_OFFERED = {
    "commands": {"requestSessionBundle", "setDataMapping"},
    "events": {"session_bundle", "data_mapping"},
}
VIEWER_ID, TOKEN = "0123456789abcdef", "t" * 32
TIMEOUT = 120.0

# Runs in the reference interpreter: an AnnData server (no web app), one registered viewer
# whose checked events are printed as JSON lines, and commands read from stdin and sent.
UPSTREAM = """
import json, sys
import anndata, numpy as np
from cellucid.anndata_server import AnnDataServer
from cellucid._viewer_channel import (
    ViewerProtocolError, register_event_callback, send_viewer_command,
)
from cellucid.jupyter._wire import _require_frontend_message, _require_inbound_jupyter_event

path, viewer_id, token = sys.argv[1:4]
data = anndata.AnnData(np.ones((20, 3), dtype=np.float32))
data.obsm["X_umap"] = np.arange(40, dtype=np.float32).reshape(20, 2)
data.write_h5ad(path)

def deliver(event):
    try:
        kind, payload = _require_inbound_jupyter_event(event)
    except (TypeError, ValueError) as error:  # what upstream's notebook viewer does
        raise ViewerProtocolError(str(error)) from error
    print(json.dumps({"type": kind, **payload}), flush=True)

register_event_callback(viewer_id, token, deliver)
server = AnnDataServer(data=path, port=0, host="127.0.0.1", open_browser=False, quiet=True,
                       serve_web_ui=False, dataset_name="T", dataset_id="t")
server.start_background()
print(json.dumps({"port": server.port}), flush=True)
for line in sys.stdin:
    message = json.loads(line)
    if message == "stop":
        break
    send_viewer_command(viewer_id, token, _require_frontend_message(message))
    print(json.dumps({"sent": message["type"]}), flush=True)
server.stop()
"""


class Upstream:
    """The upstream server process: its port, its printed lines, commands to it."""

    def __init__(self, python: str, folder: Path) -> None:
        self.process = subprocess.Popen(
            [python, "-I", "-c", UPSTREAM, str(folder / "t.h5ad"), VIEWER_ID, TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self.line()["port"]

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=TIMEOUT))
        except queue.Empty:
            raise AssertionError("upstream printed nothing in time") from None

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        assert self.line() == {"sent": message["type"]}

    def stop(self) -> None:
        try:
            self.process.stdin.write('"stop"\n')
            self.process.stdin.flush()
            self.process.wait(timeout=TIMEOUT)
        finally:
            self.process.kill()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    from .reference095 import reference_python

    python = reference_python()
    if python is None:
        pytest.skip("upstream cellucid 0.9.5 is not installed here (tests/reference095.py)")
    running = Upstream(python, tmp_path_factory.mktemp("upstream"))
    yield running
    running.stop()


@pytest.fixture
def ours(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web"))
    export = write_demo_export(tmp_path / "demo", n_cells=20, n_genes=2, quiet=True)
    with CellucidServer(export, port=0, quiet=True) as server:
        viewer = NotebookViewer(server, 300, owns_server=False, app="current")
        yield server, viewer
        viewer.stop()


def fetch(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("GET", path)
    response = conn.getresponse()
    assert response.status == 200
    return response.read()


def test_the_protocol_document_is_upstreams_less_what_we_do_not_offer(upstream, ours):
    theirs = json.loads(fetch(upstream.port, "/_cellucid/protocol"))
    mine = fetch(ours[0].port, "/_cellucid/protocol")
    for key, absent in NOT_OFFERED.items():
        assert absent <= set(theirs[key]), f"upstream no longer offers {absent}"
        theirs[key] = [name for name in theirs[key] if name not in absent]
    # the rest is equal to the byte: keys, their order, the lists and their order
    assert mine == json.dumps(theirs).encode()


def say_hello(port: int, viewer_id: str, token: str) -> AppClient:
    client = AppClient(port)
    client.hello(viewer_id, token)
    assert client.receive_json() == {"type": "welcome"}
    return client


EVENTS = [
    {"type": "ready", "n_cells": 20, "dimensions": 2},
    {"type": "hover", "cell": None, "position": None},
    {"type": "hover", "cell": 3, "position": {"x": 1.5, "y": -2, "z": 0}},
    {"type": "click", "cell": 3, "button": 2, "shift": False, "ctrl": True},
    {"type": "pong", "requestId": "r1", "t": 1234},
    {"type": "command_error", "command": "setColorBy", "reason": "no field 'x'"},
    {
        "type": "debug_snapshot",
        "requestId": "r2",
        "ts": "2026-12-07T20:00:00Z",
        "locationHref": "http://127.0.0.1:1/?viewer=true",
        "origin": "http://127.0.0.1:1",
        "serverUrl": "http://127.0.0.1:1",
        "connected": True,
        "userAgent": None,
    },
]


def test_both_accept_the_same_events(upstream, ours):
    server, viewer = ours
    recorder = Recorder()
    viewer.on_message(recorder)
    clients = [say_hello(upstream.port, VIEWER_ID, TOKEN), say_hello(server.port, *creds(viewer))]
    for client in clients:
        for event in EVENTS:
            client.send_json(event)
        client.send_selection([1, 5, 19], "lasso")
    theirs = [upstream.line() for _ in range(len(EVENTS) + 1)]
    assert recorder.wait(len(EVENTS) + 1) == theirs
    for client in clients:
        client.close()


def creds(viewer: NotebookViewer) -> tuple[str, str]:
    return viewer.viewer_id, viewer.token


COMMANDS = [
    {"type": "highlight", "cells": [9, 3, 1], "color": "#00ff00"},
    {"type": "setVisibility", "cells": [4, 2], "visible": False},
    {"type": "setVisibility", "cells": None, "visible": True},
    {"type": "setColorBy", "field": "cell type"},
    {"type": "clearHighlights"},
    {"type": "resetCamera"},
    {"type": "ping", "requestId": "r1"},
    {"type": "debug_snapshot", "requestId": "r2"},
    {"type": "freeze"},
]


def test_both_send_the_same_command_frames(upstream, ours):
    server, viewer = ours
    theirs_client = say_hello(upstream.port, VIEWER_ID, TOKEN)
    ours_client = say_hello(server.port, *creds(viewer))
    for command in COMMANDS:
        upstream.send(command)
        viewer.send_message(dict(command))
        assert ours_client.receive() == theirs_client.receive(), command
    theirs_client.close()
    ours_client.close()


@pytest.mark.parametrize(
    "first, code",
    [
        ({"type": "hello", "viewerId": VIEWER_ID, "viewerToken": "wrong"}, 4401),
        ({"type": "hello", "viewerId": "nobody", "viewerToken": TOKEN}, 4401),
        ({"type": "hello", "viewerId": VIEWER_ID}, 1008),
        ({"type": "ready", "n_cells": 1, "dimensions": 2}, 1008),
    ],
    ids=["wrong-token", "unknown-viewer", "no-token", "no-hello"],
)
def test_both_refuse_the_same_hellos(upstream, ours, first, code):
    server, viewer = ours
    for port, viewer_id in ((upstream.port, VIEWER_ID), (server.port, viewer.viewer_id)):
        client = AppClient(port)
        hello = dict(first)
        if hello.get("viewerId") == VIEWER_ID:
            hello["viewerId"] = viewer_id
        client.send_json(hello)
        assert client.closed().code == code, (port, hello)


@pytest.mark.parametrize(
    "origin, status",
    [(None, 403), ("https://evil.example", 403), ("http://localhost:8888", None)],
)
def test_both_check_the_origin_alike(upstream, ours, origin, status):
    for port in (upstream.port, ours[0].port):
        if status is None:
            AppClient(port, origin=origin).close()
            continue
        with pytest.raises(Refused) as refused:
            AppClient(port, origin=origin)
        assert refused.value.status == status
