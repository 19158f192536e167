"""The notebook channel end to end: a real server, a stand-in for the app, a notebook viewer.

The app's side is tests/channelclient.py (wsproto's client over a plain socket): it opens
/_cellucid/ws, says hello with the viewer's id and token, sends events and reads commands.
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from cellucid import write_demo_export
from cellucid.notebook.show import NotebookViewer
from cellucid.serving.server import CellucidServer

from .channelclient import AppClient


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_demo_export(
        tmp_path_factory.mktemp("e") / "demo", n_cells=40, n_genes=3, quiet=True
    )


@pytest.fixture
def server(export, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web"))
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "http://127.0.0.1:9")
    with CellucidServer(export, port=0, quiet=True) as running:
        yield running


class Recorder:
    """A hook that keeps the events it is called with; :meth:`wait` blocks until n came."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._cv = threading.Condition()

    def __call__(self, event: dict) -> None:
        with self._cv:
            self.events.append(event)
            self._cv.notify_all()

    def wait(self, count: int, timeout: float = 30.0) -> list[dict]:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


def wait_while_sending(viewer: NotebookViewer, kind: str, send) -> dict:
    """``viewer.wait_for_event(kind)`` while the app sends one event at a time until it returns.

    wait_for_event returns the first event that comes after the call; whether the waiter
    is registered before an event lands cannot be observed, so events keep coming, each
    sent once the previous one was delivered, until the wait has one.
    """
    done = threading.Event()

    def pump() -> None:
        number = 0
        while not done.is_set():
            delivered = threading.Event()
            hook = viewer.register_hook(kind, lambda event, done=delivered: done.set())
            send(number)
            number += 1
            delivered.wait(30)
            viewer.unregister_hook(kind, hook)

    sender = threading.Thread(target=pump)
    sender.start()
    try:
        return viewer.wait_for_event(kind, 30)
    finally:
        done.set()
        sender.join(60)


def connect(viewer: NotebookViewer) -> AppClient:
    """The app of ``viewer``: channel open, hello said, welcome read."""
    client = AppClient(viewer.server.port)
    client.hello(viewer.viewer_id, viewer.token)
    assert client.receive_json() == {"type": "welcome"}
    return client


def test_events_reach_the_callbacks_and_wait_for_event(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    selections, clicks, everything = [], [], Recorder()
    viewer.on_selection(selections.append)
    viewer.on_click(clicks.append)
    viewer.on_message(everything)
    client = connect(viewer)
    assert viewer.connected
    client.send_json({"type": "ready", "n_cells": 40, "dimensions": 3})
    client.send_selection([2, 7, 30], "lasso")
    client.send_json({"type": "hover", "cell": None, "position": None})
    client.send_json({"type": "hover", "cell": 4, "position": {"x": 0.5, "y": -1, "z": 0}})
    client.send_json({"type": "click", "cell": 4, "button": 0, "shift": True, "ctrl": False})
    # every event, with its type, in the order it came
    assert everything.wait(5) == [
        {"type": "ready", "n_cells": 40, "dimensions": 3},
        {"type": "selection", "source": "lasso", "cells": [2, 7, 30]},
        {"type": "hover", "cell": None, "position": None},
        {"type": "hover", "cell": 4, "position": {"x": 0.5, "y": -1, "z": 0}},
        {"type": "click", "cell": 4, "button": 0, "shift": True, "ctrl": False},
    ]
    assert selections == [{"source": "lasso", "cells": [2, 7, 30]}]
    assert clicks == [{"cell": 4, "button": 0, "shift": True, "ctrl": False}]
    assert viewer.wait_for_ready(30) == {"n_cells": 40, "dimensions": 3}  # came already
    assert viewer.latest["hover"]["cell"] == 4
    event = wait_while_sending(
        viewer, "selection", lambda n: client.send_selection([n, n + 1], "proximity")
    )
    assert event["source"] == "proximity" and event["cells"][1] == event["cells"][0] + 1
    viewer.stop()


def test_commands_arrive_with_the_protocols_shapes(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    client = connect(viewer)
    viewer.highlight_cells([9, 3, 1], color="#00ff00")
    command = client.receive_command()
    assert command["_header_bytes"] % 4 == 0  # the cells start on a four-byte boundary
    assert {k: v for k, v in command.items() if k != "_header_bytes"} == {
        "type": "highlight",
        "color": "#00ff00",
        "cells": [1, 3, 9],  # ascending on the wire
    }
    viewer.highlight_cells(np.array([5, 6], dtype=np.int64))
    assert client.receive_command()["cells"] == [5, 6]
    viewer.clear_highlights()
    assert client.receive_json() == {"type": "clearHighlights"}
    viewer.set_color_by("cell type")
    assert client.receive() == '{"type":"setColorBy","field":"cell type"}'
    viewer.set_visibility([4, 2], visible=False)
    hidden = client.receive_command()
    assert (hidden["type"], hidden["visible"], hidden["all"], hidden["cells"]) == (
        "setVisibility",
        False,
        False,
        [2, 4],
    )
    viewer.set_visibility(None, visible=True)
    every = client.receive_command()
    assert (every["visible"], every["all"], every["cells"]) == (True, True, [])
    viewer.reset_view()
    assert client.receive_json() == {"type": "resetCamera"}
    viewer.send_message({"type": "ping", "requestId": "r1"})
    assert client.receive_json() == {"type": "ping", "requestId": "r1"}
    pongs = Recorder()
    viewer.register_hook("pong", pongs)
    client.send_json({"type": "pong", "requestId": "r1", "t": 12})
    assert pongs.wait(1) == [{"requestId": "r1", "t": 12}]
    # refused before anything is sent: what the app would refuse
    for bad in (
        lambda: viewer.highlight_cells([]),
        lambda: viewer.highlight_cells([1, 1]),
        lambda: viewer.highlight_cells([1], "red"),
        lambda: viewer.highlight_cells([-1]),
        lambda: viewer.send_message({"type": "explode"}),
        lambda: viewer.send_message({"type": "resetCamera", "now": True}),
        lambda: viewer.set_color_by(" padded"),
    ):
        with pytest.raises((ValueError, TypeError)):
            bad()
    viewer.reset_view()  # the channel still works, and nothing refused was sent before it
    assert client.receive_json() == {"type": "resetCamera"}
    viewer.stop()


def test_commands_wait_for_the_app_and_go_out_in_order(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    assert not viewer.connected and "waiting for the app" in repr(viewer)
    viewer.set_color_by("leiden")
    viewer.highlight_cells([1])
    client = connect(viewer)
    assert client.receive_json() == {"type": "setColorBy", "field": "leiden"}
    assert client.receive_command()["cells"] == [1]
    viewer.reset_view()
    assert client.receive_json() == {"type": "resetCamera"}
    assert "channel open" in repr(viewer) and viewer.token not in repr(viewer)
    viewer.stop()


def test_a_wrong_or_missing_token_is_refused(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    got = []
    viewer.on_message(got.append)
    attempts = [
        {"type": "hello", "viewerId": viewer.viewer_id, "viewerToken": viewer.token + "x"},
        {"type": "hello", "viewerId": viewer.viewer_id, "viewerToken": ""},
        {"type": "hello", "viewerId": "nobody", "viewerToken": viewer.token},
        {"type": "hello", "viewerId": viewer.viewer_id, "viewerToken": None},
    ]
    for hello in attempts:
        client = AppClient(server.port)
        client.send_json(hello)
        assert client.closed().code == 4401, hello
    for hello in (
        {"type": "hello", "viewerId": viewer.viewer_id},  # no token at all
        {"type": "ready", "n_cells": 1, "dimensions": 2},  # an event before hello
    ):
        client = AppClient(server.port)
        client.send_json(hello)
        assert client.closed().code == 1008, hello
    client = AppClient(server.port)
    client.send_selection([1], "lasso")  # a binary first frame
    assert client.closed().code == 1008
    assert got == [] and not viewer.connected
    viewer.stop()


def test_a_second_viewers_token_cannot_drive_the_first(server):
    first = NotebookViewer(server, 400, owns_server=False, app="current")
    second = NotebookViewer(server, 400, owns_server=False, app="current")
    client = AppClient(server.port)
    client.hello(first.viewer_id, second.token)
    assert client.closed().code == 4401
    app = connect(second)
    app.send_json({"type": "ready", "n_cells": 40, "dimensions": 2})
    assert second.wait_for_ready(30) == {"n_cells": 40, "dimensions": 2}
    assert first.latest == {}  # delivered to its own viewer only
    first.reset_view()  # queued for the first viewer's app, never sent to the second's
    second.clear_highlights()
    assert app.receive_json() == {"type": "clearHighlights"}
    first.stop()
    second.stop()


def test_a_reloaded_page_replaces_the_channel(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    old = connect(viewer)
    new = connect(viewer)
    closed = old.closed()
    assert (closed.code, closed.reason) == (4409, "replaced by a newer channel of this viewer")
    viewer.reset_view()
    assert new.receive_json() == {"type": "resetCamera"}
    viewer.stop()


def test_stop_freezes_and_closes_the_channel(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    client = connect(viewer)
    viewer.stop()
    assert client.receive_json() == {"type": "freeze"}
    closed = client.closed()
    assert (closed.code, closed.reason) == (1001, "the viewer was stopped")
    assert "stopped" in repr(viewer) and viewer.connected is None
    with pytest.raises(RuntimeError):
        viewer.wait_for_event("click", timeout=30)  # at once: nothing will come
    with pytest.raises(RuntimeError):
        viewer.reset_view()
    again = AppClient(server.port)
    again.hello(viewer.viewer_id, viewer.token)
    assert again.closed().code == 4401
    viewer.stop()  # a second stop does nothing
    assert server.running


def test_a_wait_ends_when_the_viewer_stops(server):
    import threading

    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    outcome = []
    started = threading.Event()

    def wait() -> None:
        started.set()
        try:
            viewer.wait_for_event("selection", timeout=120)
        except RuntimeError as error:
            outcome.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    started.wait(30)
    viewer.stop()
    waiter.join(60)
    assert not waiter.is_alive() and len(outcome) == 1


def test_stopping_the_server_closes_its_channels(export, tmp_path):
    server = CellucidServer(export, port=0, quiet=True).start()
    viewer = NotebookViewer(server, 400, app="current")  # owns the server
    client = connect(viewer)
    stranger = AppClient(server.port)  # open, not yet authenticated
    server.stop()
    assert client.closed().code == 1001
    assert stranger.closed().code == 1001
    viewer.stop()


def test_an_idle_channel_is_pinged(server, monkeypatch):
    from wsproto.events import Ping

    from cellucid.serving.channel import websocket

    monkeypatch.setattr(websocket, "KEEPALIVE_SECONDS", 0.2)
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    client = connect(viewer)
    assert isinstance(client.next_event(), Ping)  # the socket's wait, not a sleep
    viewer.stop()


def test_a_failing_callback_does_not_close_the_channel(server, caplog):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")

    @viewer.on_click
    def broken(event):
        raise KeyError("the notebook's bug")

    client = connect(viewer)
    client.send_json({"type": "click", "cell": 1, "button": 2, "shift": False, "ctrl": True})
    client.send_json({"type": "ready", "n_cells": 40, "dimensions": 2})
    assert viewer.wait_for_ready(30)["n_cells"] == 40
    assert viewer.latest["click"]["button"] == 2
    assert "callback failed" in caplog.text
    viewer.stop()


def test_command_errors_reach_their_hook(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    errors = Recorder()
    viewer.on_command_error(errors)
    client = connect(viewer)
    client.send_json({"type": "command_error", "command": "setColorBy", "reason": "no field x"})
    assert errors.wait(1) == [{"command": "setColorBy", "reason": "no field x"}]
    # only a command of this channel may be named
    client.send_json({"type": "command_error", "command": "formatDisk", "reason": "x"})
    assert client.closed().code == 1008
    viewer.stop()


def test_the_iframe_tells_the_app_where_its_channel_is(server, monkeypatch):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    query = f"viewer=true&viewerId={viewer.viewer_id}&viewerToken={viewer.token}&anndata=true"
    assert viewer.url == f"{server.url}/?{query}"
    html = viewer._repr_html_()
    assert "<script" not in html and f'src="{server.url}/?{query.replace("&", "&amp;")}"' in html
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
    assert viewer.url == f"/user/ana/proxy/{server.port}/?{query}"
    viewer.stop()
    pinned = NotebookViewer(server, 400, owns_server=False)
    assert pinned.app == "pinned" and "jupyter=true" in pinned.url
    assert "events by POST" in repr(pinned)
    pinned.stop()


def test_binary_selection_frames_are_checked(server):
    viewer = NotebookViewer(server, 400, owns_server=False, app="current")
    header = b'{"type":"selection","source":"knn"}'
    frames = [
        struct.pack("<I", len(header)) + header + struct.pack("<2I", 5, 5),  # not ascending
        struct.pack("<I", len(header)) + header + b"\x01\x00\x00",  # not whole uint32
        struct.pack("<I", len(header)) + header,  # no cells
        struct.pack("<I", 999) + header,  # header longer than the frame
        struct.pack("<I", 18) + b'{"type":"hover"}  ' + struct.pack("<I", 1),
    ]
    for frame in frames:
        client = connect(viewer)
        client.send_bytes(frame)
        assert client.closed().code == 1008, frame
    assert "selection" not in viewer.latest
    viewer.stop()


def test_the_hooks_on_a_store_server(tmp_path):
    """The server today's app is served by: a Cellucid-ready store, the same channel."""
    from cellucid.serving.stores import StoreServer

    from .store_serving import write_store

    store = write_store(tmp_path, "zarr", quiet=True)
    with StoreServer(store, port=0, quiet=True) as server:
        viewer = NotebookViewer(server, 400, owns_server=False, app="current")
        assert viewer.url.startswith(f"{server.url}/?viewer=true&viewerId={viewer.viewer_id}&")
        viewer.set_color_by("cell_type")  # queued: the app has not connected yet
        clicks = Recorder()
        viewer.on_click(clicks)
        client = connect(viewer)
        assert client.receive_json() == {"type": "setColorBy", "field": "cell_type"}
        client.send_json({"type": "click", "cell": 0, "button": 0, "shift": False, "ctrl": False})
        assert clicks.wait(1) == [{"cell": 0, "button": 0, "shift": False, "ctrl": False}]
        viewer.stop()
        assert client.closed().code == 1001
