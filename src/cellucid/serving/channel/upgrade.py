"""The opening handshake of ``GET /_cellucid/ws``: checks, the ``101`` answer, the hand-over.

What is refused before upgrading, with an HTTP answer: a request that is not a WebSocket
opening (426), a key that is not 16 bytes in base64 (400), and a page of another site (403).
A browser sends ``Origin`` with every WebSocket opening and no CORS rule covers WebSockets,
so ``Origin`` is the cross-site check here: the page must be on a loopback name, on the name
the request's ``Host`` gives (the Host check already confined that to this server's names),
or on a name given with ``allowed_hosts`` (a notebook proxy's). The viewer's credentials are
not in the request: the app sends them in its first frame (``hello``), see
:mod:`cellucid.serving.channel.hub`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from wsproto.utilities import generate_accept_token


def _single(headers: Any, name: str) -> str | None:
    values = headers.get_all(name) or []
    return values[0] if len(values) == 1 else None


def _hostname(authority: str | None) -> str | None:
    """The lower-case host of ``host[:port]`` (IPv6 without brackets), None if malformed."""
    if not authority:
        return None
    try:
        parts = urlsplit(f"//{authority}")
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    return parts.hostname.lower() if parts.hostname else None


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str | None, host: str | None, allowed: set[str]) -> bool:
    """Whether a page at ``origin`` may open the channel of a request with ``Host: host``.

    Parameters
    ----------
    origin
        The request's ``Origin`` (None when missing: refused).
    host
        The request's ``Host``.
    allowed
        Lower-case host names given with ``allowed_hosts`` (any port).
    """
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        name = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not name:
        return False
    return _loopback(name) or name in allowed or name == _hostname(host)


def client_key(value: str | None) -> str | None:
    """``Sec-WebSocket-Key`` when it is 16 bytes in base64, else None."""
    if value is None or len(value) != 24:
        return None
    try:
        return value if len(base64.b64decode(value, validate=True)) == 16 else None
    except (binascii.Error, ValueError):
        return None


def refusal(command: str, headers: Any, allowed: set[str]) -> tuple[int, str, dict] | None:
    """Why an opening request is refused (status, message, extra headers), or None.

    Parameters
    ----------
    command
        The HTTP method.
    headers
        The request's headers (``http.client.HTTPMessage``).
    allowed
        As for :func:`origin_allowed`.
    """
    upgrade = (_single(headers, "Upgrade") or "").lower()
    connection = {t.strip().lower() for t in (_single(headers, "Connection") or "").split(",")}
    if command != "GET" or upgrade != "websocket" or "upgrade" not in connection:
        return (
            HTTPStatus.UPGRADE_REQUIRED,
            "the notebook channel is a WebSocket: open it with new WebSocket(...)",
            {"Upgrade": "websocket", "Connection": "Upgrade"},
        )
    if _single(headers, "Sec-WebSocket-Version") != "13":
        return (
            HTTPStatus.UPGRADE_REQUIRED,
            "WebSocket version 13 is required",
            {"Sec-WebSocket-Version": "13"},
        )
    if client_key(_single(headers, "Sec-WebSocket-Key")) is None:
        return HTTPStatus.BAD_REQUEST, "Sec-WebSocket-Key must be 16 bytes in base64", {}
    if not origin_allowed(_single(headers, "Origin"), _single(headers, "Host"), allowed):
        return (
            HTTPStatus.FORBIDDEN,
            "the notebook channel accepts only pages of this server, of a loopback name or of "
            "a host given with allowed_hosts",
            {},
        )
    return None


def switching_protocols(key: str) -> bytes:
    """The ``101`` answer to an accepted opening with ``Sec-WebSocket-Key: key``."""
    accept = generate_accept_token(key.encode("ascii")).decode("ascii")
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode("ascii")


def take_connection(sock: Any, reader: Any) -> bytes:
    """Hand the connection over from the HTTP reader: the bytes it already buffered.

    The peer may send its first frame right behind the request; the buffered reader may hold
    it. Peeking with the socket non-blocking takes exactly what is buffered, never waiting.
    """
    sock.setblocking(False)
    try:
        held = reader.peek(1)
    except (BlockingIOError, OSError):
        held = b""
    data = reader.read(len(held)) if held else b""
    sock.setblocking(True)
    return data or b""
