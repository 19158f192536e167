"""The notebook viewers of one server and their channels: one token per viewer.

A notebook viewer registers here and gets an id and a random token, both in its iframe's
address and nowhere else. The app in the iframe opens ``/_cellucid/ws`` and its first frame
is ``{"type": "hello", "viewerId", "viewerToken"}``; a channel without a registered viewer
and its exact token (constant-time comparison) is closed with 4401. From then on the channel
is that viewer's:

- **events** (app -> Python) are checked (:mod:`~cellucid.serving.channel.wire`) and handed
  to that viewer's ``deliver`` on the channel's thread, one at a time, in order; an event the
  protocol does not allow closes the channel (1008); a failing notebook callback does not;
- **commands** (Python -> app) go out on the open channel, or wait in the viewer's outbox
  until one opens, and then go out in order, each once.

A newer ``hello`` of the same viewer (its page reloaded) replaces the older channel, which
is closed with 4409. Unregistering the viewer, or stopping the server, closes its channel
with 1001.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cellucid.serving.channel import wire
from cellucid.serving.channel.websocket import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY_VIOLATION,
    ChannelClosed,
    ChannelSocket,
    ChannelViolation,
)
from cellucid.serving.events import new_credentials, token_matches

CLOSE_UNAUTHORIZED = 4401
CLOSE_REPLACED = 4409
HELLO_SECONDS = 30.0  # an unauthenticated channel is closed after this long
logger = logging.getLogger("cellucid.serving.channel")

Deliver = Callable[[dict[str, Any]], None]
Frame = str | bytes


class _Viewer:
    """One registered viewer: its token, where its events go, its channel and outbox."""

    def __init__(self, token: str, deliver: Deliver) -> None:
        self.token = token
        self.deliver = deliver
        self.lock = threading.Lock()  # the channel and the outbox change together
        self.delivering = threading.Lock()  # one event at a time, also across channels
        self.socket: ChannelSocket | None = None
        self.outbox: deque[Frame] = deque()


def _send(sock: ChannelSocket, frame: Frame) -> None:
    if isinstance(frame, str):
        sock.send_text(frame)
    else:
        sock.send_binary(frame)


class ChannelHub:
    """The notebook viewers one server's channel route answers (``server.channel``)."""

    def __init__(self) -> None:
        self._viewers: dict[str, _Viewer] = {}
        self._lock = threading.Lock()
        self._sockets: set[ChannelSocket] = set()

    # -- the notebook's side -----------------------------------------------------------
    def register(self, deliver: Deliver) -> tuple[str, str]:
        """Accept a channel for a new viewer whose events go to ``deliver``.

        Returns
        -------
        tuple of str
            The viewer's id and token, for its iframe's address.
        """
        viewer_id, token = new_credentials()
        with self._lock:
            self._viewers[viewer_id] = _Viewer(token, deliver)
        return viewer_id, token

    def unregister(self, viewer_id: str) -> None:
        """Refuse the viewer's channel from now on and close the open one (1001)."""
        with self._lock:
            viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return
        with viewer.lock:
            sock, viewer.socket = viewer.socket, None
            viewer.outbox.clear()
        if sock is not None:
            sock.close(CLOSE_GOING_AWAY, "the viewer was stopped")

    def send(self, viewer_id: str, frame: Frame, *, queue: bool = True) -> bool:
        """Send one encoded command (:func:`wire.encode_command`) to the viewer's app.

        Returns
        -------
        bool
            True when written to the open channel now; False when queued for the next
            channel (or dropped, with ``queue=False``).

        Raises
        ------
        KeyError
            The viewer is not registered (stopped).
        """
        viewer = self._viewer(viewer_id)
        with viewer.lock:
            sock = viewer.socket
            if sock is not None and not sock.closed:
                try:
                    _send(sock, frame)
                    return True
                except ChannelClosed:
                    viewer.socket = None  # not written whole: the app never read it
            if queue:
                viewer.outbox.append(frame)
            return False

    def connected(self, viewer_id: str) -> bool:
        """Whether the viewer's app has an open channel now."""
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            return False
        with viewer.lock:
            return viewer.socket is not None and not viewer.socket.closed

    def close_all(self) -> None:
        """Close every channel, authenticated or not (the server stops): 1001."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            sock.close(CLOSE_GOING_AWAY, "the server stopped")

    def _viewer(self, viewer_id: str) -> _Viewer:
        with self._lock:
            viewer = self._viewers.get(viewer_id)
        if viewer is None:
            raise KeyError(f"viewer {viewer_id} is not registered (stopped?)")
        return viewer

    # -- the app's side ----------------------------------------------------------------
    def serve(self, sock: ChannelSocket, running: Callable[[], bool] = lambda: True) -> None:
        """Run one upgraded channel to its end, on the handler's thread.

        ``running`` says whether the server still serves: a channel that opens while it
        stops is closed (1001) here, or by :meth:`close_all`, never left waiting.
        """
        with self._lock:
            self._sockets.add(sock)
            stopped = not running()
        viewer: _Viewer | None = None
        try:
            if stopped:
                raise ChannelViolation(CLOSE_GOING_AWAY, "the server stopped")
            viewer_id, viewer = self._hello(sock)
            if viewer is not None:
                self._attach(viewer, sock)
                self._events(viewer_id, viewer, sock)
        except ChannelViolation as violation:
            logger.warning("closing a notebook channel: %s", violation.reason)
            sock.close(violation.code, violation.reason)
        except wire.WireError as error:
            logger.warning("closing a notebook channel: %s", error)
            sock.close(CLOSE_POLICY_VIOLATION, str(error))
        except ChannelClosed:
            pass
        finally:
            if viewer is not None:
                with viewer.lock:
                    if viewer.socket is sock:
                        viewer.socket = None
            sock.close(CLOSE_GOING_AWAY, "")
            # the peer's close frame is read before the socket goes (no reset under it)
            sock.finish()
            with self._lock:
                self._sockets.discard(sock)

    def _hello(self, sock: ChannelSocket) -> tuple[str, _Viewer | None]:
        """The viewer the first frame authenticates; None (channel closed 4401) otherwise."""
        first = sock.receive(deadline=time.monotonic() + HELLO_SECONDS)
        if not isinstance(first, str):
            raise wire.WireError("the first frame must be the text frame 'hello'")
        viewer_id, token = wire.decode_hello(first)
        with self._lock:
            viewer = self._viewers.get(viewer_id) if isinstance(viewer_id, str) else None
        # compared even for an unknown viewer: the answer's timing tells nothing
        matches = token_matches(token, viewer.token if viewer is not None else None)
        if viewer is None or not matches:
            logger.warning("refused a notebook channel with unknown viewer credentials")
            sock.close(CLOSE_UNAUTHORIZED, "unknown viewer, or a wrong viewer token")
            return "", None
        return viewer_id, viewer

    @staticmethod
    def _attach(viewer: _Viewer, sock: ChannelSocket) -> None:
        """Make ``sock`` the viewer's channel: welcome, the outbox in order, the old one out."""
        with viewer.lock:
            previous, viewer.socket = viewer.socket, sock
            sock.send_text('{"type":"welcome"}')
            while viewer.outbox:
                # removed only once written: a channel that dies here leaves it queued
                _send(sock, viewer.outbox[0])
                viewer.outbox.popleft()
        if previous is not None and previous is not sock:
            previous.close(CLOSE_REPLACED, "replaced by a newer channel of this viewer")

    def _events(self, viewer_id: str, viewer: _Viewer, sock: ChannelSocket) -> None:
        """Check and deliver the app's events until the channel ends."""
        while True:
            message = sock.receive()
            if isinstance(message, str):
                event = wire.decode_text_event(message)
            else:
                event = wire.decode_binary_event(message)
            with viewer.delivering:
                if sock.closed:
                    return  # replaced or stopped while this event was read: not delivered
                with self._lock:
                    registered = self._viewers.get(viewer_id) is viewer
                if not registered:
                    sock.close(CLOSE_GOING_AWAY, "the viewer was stopped")
                    return
                try:
                    viewer.deliver(event)
                except Exception:  # the notebook's callback failed, not the app
                    logger.exception("a notebook viewer callback failed")
