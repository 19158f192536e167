"""One WebSocket over a connection the HTTP handler upgraded, framed by ``wsproto``.

``wsproto`` does the framing (masking, fragments, control frames, UTF-8 of text, close
codes); this class moves its bytes over the socket and adds what a server needs around it:
whole messages with size limits, pings on an idle channel, a close that any thread may start
and that the reading thread finishes (the peer's own close frame is awaited for a bounded
time, so the page reads the code and reason it was sent, not a reset).

One thread reads (:meth:`ChannelSocket.receive`); any thread may send or close.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_LOST = 1006

#: Seconds of silence after which the server pings (proxies close idle connections).
KEEPALIVE_SECONDS = 20.0
#: Seconds the reading thread waits for the peer's close frame after sending its own.
CLOSE_DRAIN_SECONDS = 5.0
#: How often a waiting reader looks whether another thread closed the channel.
TICK_SECONDS = 0.25
READ_BYTES = 1 << 16
_CLOSE_REASON_BYTES = 123  # a control frame holds 125 bytes, two of them the code


class ChannelClosed(ConnectionError):
    """The channel is closed (by the peer, this side, or the network); ``code`` says why."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"channel closed ({code}){': ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


class ChannelViolation(ValueError):
    """The peer broke the framing rules or a size limit; close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _short(reason: str) -> str:
    """A close reason cut to what a close frame holds, on a character boundary."""
    return reason.encode()[:_CLOSE_REASON_BYTES].decode("utf-8", "ignore")


class ChannelSocket:
    """The server end of one upgraded connection.

    Parameters
    ----------
    sock
        The connection, after the ``101`` answer was written.
    received
        Bytes the HTTP reader already read past the request (the peer's first frames).
    max_text, max_binary
        Largest text and binary message accepted; a larger one closes the channel (1009).
    keepalive
        Seconds of silence before a ping; a ping unanswered as long again ends the channel
        (default :data:`KEEPALIVE_SECONDS`, read when the socket is made).
    """

    def __init__(
        self,
        sock: socket.socket,
        received: bytes = b"",
        *,
        max_text: int,
        max_binary: int,
        keepalive: float | None = None,
    ) -> None:
        self._sock = sock
        self._ws = Connection(ConnectionType.SERVER)
        self._lock = threading.Lock()  # the wsproto state and the writes
        self._limits = {TextMessage: max_text, BytesMessage: max_binary}
        self._keepalive = KEEPALIVE_SECONDS if keepalive is None else keepalive
        self._pending = bytes(received)
        self._parts: list[str | bytes] = []
        self._size = 0
        self._heard = time.monotonic()
        self._pinged: float | None = None
        self._drain_until: float | None = None
        self._broken = False  # wsproto refused a frame: what follows is not parsed
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def closed(self) -> bool:
        """Whether a close frame was sent (or the connection was lost)."""
        return self.close_code is not None

    # -- writing -----------------------------------------------------------------------
    def _send(self, event: object) -> None:
        with self._lock:
            if self.closed:
                raise ChannelClosed(self.close_code or CLOSE_GOING_AWAY, "channel closed")
            self._write(self._ws.send(event))  # type: ignore[arg-type]

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as error:
            self._lost()
            raise ChannelClosed(CLOSE_LOST, "connection lost") from error

    def send_text(self, text: str) -> None:
        """Send one text message."""
        self._send(TextMessage(data=text))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message."""
        self._send(BytesMessage(data=data))

    def ping(self) -> None:
        """Send one ping; a browser answers it by itself."""
        self._send(Ping())

    def close(self, code: int, reason: str = "") -> None:
        """Send the close frame once (from any thread); the reader then ends the channel."""
        with self._lock:
            if self.closed:
                return
            try:
                data = self._ws.send(CloseConnection(code=code, reason=_short(reason)))
            except LocalProtocolError:
                data = b""  # the peer's close was answered already
            self.close_code, self.close_reason = code, reason
            self._drain_until = time.monotonic() + CLOSE_DRAIN_SECONDS
            with contextlib.suppress(OSError):
                self._sock.sendall(data)
                self._sock.shutdown(socket.SHUT_WR)

    def _lost(self) -> None:
        if self.close_code is None:
            self.close_code = CLOSE_LOST
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    # -- reading -----------------------------------------------------------------------
    def receive(self, deadline: float | None = None) -> str | bytes:
        """The next whole message from the peer: text, or the bytes of a binary one.

        Parameters
        ----------
        deadline
            ``time.monotonic()`` by which a message must have come (the ``hello``);
            None waits as long as the channel lives.

        Raises
        ------
        ChannelClosed
            The channel ended: closed by either side (after the close handshake or its
            bounded wait) or lost. Nothing the peer sends after a close is returned.
        ChannelViolation
            Broken framing, a message over its size limit, or no message by ``deadline``:
            the caller closes the channel with the violation's code.
        """
        while True:
            message = self._next_message()
            if message is not None:
                return message
            self._read_more(deadline)

    def finish(self) -> None:
        """Read until the close handshake ends (or its wait does); the reader's last call.

        Once both close frames have crossed, this returns at once: the server closes the
        connection first, as RFC 6455 asks (a browser waits for that before closing its own).
        """
        with contextlib.suppress(ChannelClosed, ChannelViolation):
            while self._ws.state is not ConnectionState.CLOSED:
                self.receive()

    def _next_message(self) -> str | bytes | None:
        with self._lock:
            for event in self._ws.events():
                if isinstance(event, Ping):
                    if not self.closed:
                        self._write(self._ws.send(event.response()))
                elif isinstance(event, Pong):
                    self._pinged = None
                elif isinstance(event, CloseConnection):
                    self._closing(event)
                elif not self.closed:
                    message = self._collect(event)  # type: ignore[arg-type]
                    if message is not None:
                        return message
        return None

    def _closing(self, event: CloseConnection) -> None:
        """The peer's close frame, the answer to ours, or wsproto's report of bad framing."""
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            if not self.closed:
                self.close_code, self.close_reason = event.code, event.reason or ""
                with contextlib.suppress(OSError, LocalProtocolError):
                    self._sock.sendall(self._ws.send(event.response()))
            raise ChannelClosed(event.code, event.reason or "")
        if state is ConnectionState.CLOSED:
            raise ChannelClosed(self.close_code or event.code, self.close_reason)
        # still OPEN: wsproto could not parse a frame; the frames after it mean nothing
        self._broken = True
        raise ChannelViolation(event.code, event.reason or "invalid frame")

    def _collect(self, event: TextMessage | BytesMessage) -> str | bytes | None:
        chunk = event.data
        self._size += len(chunk.encode()) if isinstance(chunk, str) else len(chunk)
        limit = self._limits[type(event)]
        if self._size > limit:
            self._parts, self._size = [], 0
            kind = "text" if isinstance(event, TextMessage) else "binary"
            raise ChannelViolation(CLOSE_TOO_BIG, f"{kind} messages are at most {limit} bytes")
        self._parts.append(chunk)
        if not event.message_finished:
            return None
        parts, self._parts, self._size = self._parts, [], 0
        return "".join(parts) if isinstance(chunk, str) else b"".join(parts)  # type: ignore[arg-type]

    def _read_more(self, deadline: float | None) -> None:
        """Feed the next bytes of the socket to wsproto, pinging while it is silent."""
        if self._pending:
            data, self._pending = self._pending, b""
            self._feed(data)
            return
        while True:
            self._check_time(deadline)
            readable, _, _ = select.select([self._sock], [], [], TICK_SECONDS)
            if not readable:
                continue
            try:
                data = self._sock.recv(READ_BYTES)
            except OSError as error:
                self._lost()
                raise ChannelClosed(CLOSE_LOST, "connection lost") from error
            if not data:
                self._lost()
                raise ChannelClosed(self.close_code or CLOSE_LOST, "the peer left")
            self._heard, self._pinged = time.monotonic(), None
            self._feed(data)
            return

    def _feed(self, data: bytes) -> None:
        if self._broken:
            return  # read and dropped until the peer leaves or the wait ends
        with self._lock:
            with contextlib.suppress(LocalProtocolError):
                self._ws.receive_data(data)

    def _check_time(self, deadline: float | None) -> None:
        now = time.monotonic()
        if self._drain_until is not None and now >= self._drain_until:
            self._lost()
            raise ChannelClosed(self.close_code or CLOSE_LOST, "no close answer in time")
        if deadline is not None and now >= deadline and not self.closed:
            raise ChannelViolation(CLOSE_POLICY_VIOLATION, "no hello in time")
        if self._pinged is not None and now - self._pinged > self._keepalive:
            self._lost()
            raise ChannelClosed(CLOSE_LOST, "the peer stopped answering pings")
        if self._pinged is None and not self.closed and now - self._heard >= self._keepalive:
            self._pinged = now
            with contextlib.suppress(ChannelClosed):
                self.ping()
