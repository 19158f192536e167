"""A stand-in for the current web app's side of the notebook channel, for tests.

It opens ``/_cellucid/ws`` over a plain socket with ``wsproto``'s client (handshake included),
says ``hello``, sends events as the app does (text frames; a selection as a binary frame) and
reads the server's commands. Frames are built here from the protocol's description, not with
the package's own encoder, so a test compares two independent implementations.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

TIMEOUT = 30.0  # generous: the machine is shared


class Refused(Exception):
    """The server answered the opening with an HTTP status instead of upgrading."""

    def __init__(self, status: int) -> None:
        super().__init__(f"refused with HTTP {status}")
        self.status = status


class Closed(Exception):
    """The server closed the channel; ``code`` and ``reason`` are its close frame's."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class AppClient:
    """One channel, opened like the app opens it."""

    def __init__(
        self,
        port: int,
        *,
        origin: str | None = "http://127.0.0.1",
        host: str | None = None,
        path: str = "/_cellucid/ws",
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"Origin", origin.encode())] if origin else []
        request = Request(host=host or f"127.0.0.1:{port}", target=path, extra_headers=headers)
        self.sock.sendall(self.ws.send(request))
        self._queue: list[Any] = []
        while True:
            event = self._next_event()
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, RejectConnection):
                self.sock.close()
                raise Refused(event.status_code)

    # -- sending ------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=data)))

    def hello(self, viewer_id: str, token: str) -> None:
        self.send_json({"type": "hello", "viewerId": viewer_id, "viewerToken": token})

    def send_selection(self, cells: list[int], source: str) -> None:
        header = json.dumps({"type": "selection", "source": source}).encode()
        self.send_bytes(
            struct.pack("<I", len(header)) + header + struct.pack(f"<{len(cells)}I", *cells)
        )

    # -- receiving ----------------------------------------------------------------------
    def next_event(self) -> Any:
        """The next wsproto event, pings included (not answered)."""
        return self._next_event()

    def _next_event(self) -> Any:
        while not self._queue:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self._queue.extend(self.ws.events())
        return self._queue.pop(0)

    def receive(self) -> str | bytes:
        """The next message from the server; Closed when it closes the channel instead."""
        parts: list[Any] = []
        while True:
            event = self._next_event()
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._answer_close(event)
                raise Closed(event.code, event.reason or "")
            elif isinstance(event, TextMessage | BytesMessage):
                parts.append(event.data)
                if event.message_finished:
                    return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
            elif isinstance(event, RejectData):
                continue

    def _answer_close(self, event: CloseConnection) -> None:
        try:
            self.sock.sendall(self.ws.send(event.response()))
        except Exception:  # the server may be gone already; nothing to answer then
            pass
        self.sock.close()

    def receive_json(self) -> dict[str, Any]:
        message = self.receive()
        assert isinstance(message, str), message
        return json.loads(message)

    def receive_command(self) -> dict[str, Any]:
        """The next command, a binary one decoded into its header plus ``cells``."""
        message = self.receive()
        if isinstance(message, str):
            return json.loads(message)
        (length,) = struct.unpack_from("<I", message)
        header = json.loads(message[4 : 4 + length])
        body = message[4 + length :]
        header["cells"] = list(struct.unpack(f"<{len(body) // 4}I", body))
        header["_header_bytes"] = length
        return header

    def closed(self) -> Closed:
        """Read until the server closes the channel; its close frame."""
        while True:
            try:
                self.receive()
            except Closed as closed:
                return closed

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # already closed by the server
            pass
        self.sock.close()
