"""Which browser origins may read the served data (CORS). CORS is not authentication."""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def origin_allowed(origin: str | None) -> bool:
    """http(s) on localhost / 127.0.0.1 (any port), https on cellucid.com and its subdomains."""
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.path not in ("", "/") or parts.query or parts.username:
        return False
    if parts.scheme in ("http", "https") and host in LOCAL_HOSTS:
        return True
    return parts.scheme == "https" and (host == "cellucid.com" or host.endswith(".cellucid.com"))
