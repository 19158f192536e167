"""Which ``Host`` headers the server answers (DNS rebinding defence).

A web page on an attacker's domain whose DNS name is re-pointed to 127.0.0.1 reaches this
server from the browser as same-origin, but its requests still carry the attacker's host
name. Answering only loopback names on the bound port (and names the user allowed) stops it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
# a DNS name or IPv4 literal, or a bracketed IPv6 literal; then an optional port
_PORT = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$")


def _split(authority: str) -> tuple[str, int | None] | None:
    match = _PORT.match(authority.strip().lower())
    if not match or not match.group(1):
        return None
    return match.group(1), int(match.group(2)) if match.group(2) else None


def normalise_allowed(entries: Iterable[str]) -> list[tuple[str, int | None]]:
    """``--allowed-host`` values as (host, port or None for any port); bare IPv6 is bracketed."""
    result = []
    for entry in entries:
        entry = entry.strip()
        if entry.count(":") > 1 and not entry.startswith("["):
            entry = f"[{entry}]"
        parsed = _split(entry)
        if parsed is None:
            raise ValueError(f"not a host name or host:port: {entry!r}")
        result.append(parsed)
    return result


def host_allowed(
    header: str | None, port: int, allowed: Iterable[tuple[str, int | None]] = ()
) -> bool:
    """Whether a request's ``Host`` header names this server.

    Parameters
    ----------
    header
        The ``Host`` header (None when missing: refused).
    port
        The port the server is bound to.
    allowed
        Extra (host, port or None) pairs, from :func:`normalise_allowed`.
    """
    if header is None:
        return False
    parsed = _split(header)
    if parsed is None:
        return False
    name, given = parsed
    effective = given if given is not None else 80  # a browser omits the default port
    if name in LOOPBACK_NAMES and effective == port:
        return True
    return any(name == host and (want is None or want == effective) for host, want in allowed)
