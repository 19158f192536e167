"""Where the current Cellucid web app is fetched from, and which addresses are refused.

The site publishes no signature: its inventory is fetched from the same address as the files
it vouches for. Over plain http anyone on the path could rewrite both, so plain http is
accepted only when the traffic cannot leave this machine (a loopback host), and ``file:``
URLs name a local copy of the app on disk.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

#: the site that publishes today's app and its ``cellucid-web-assets.json``
DEFAULT_APP_URL = "https://www.cellucid.com"
#: environment variable naming another source (a mirror, or a local copy of the app)
APP_URL_VARIABLE = "CELLUCID_WEB_APP_URL"


def is_loopback(hostname: str) -> bool:
    """Whether ``hostname`` can only mean this machine: ``localhost``, 127.0.0.0/8, ``::1``."""
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return hostname.lower() == "localhost"


def _refusal(value: str) -> str | None:
    """Why ``value`` cannot be the app's source, or None when it can."""
    if not value or value != value.strip() or any(c.isspace() for c in value):
        return "it is empty or holds whitespace"
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http", "file"):
        return "it is not an https://, http:// (loopback only) or file:// URL"
    if parts.username is not None or parts.password is not None:
        return "it holds credentials (user:password@); the app's files are public"
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "it holds a query or a fragment; give the address of the app's folder"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.path.strip("/") == "":
            return "a file:// URL must name a folder on this machine (file:///path/to/app)"
        return None
    try:
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        return "its port is not a number between 0 and 65535"
    if not hostname:
        return "it names no host"
    if parts.scheme == "http" and not is_loopback(hostname):
        return (
            f"plain http to {hostname!r} could be rewritten on the way; use https, or "
            "http only for this machine (localhost, 127.0.0.1, ::1)"
        )
    return None


def check_redirect(url: str) -> None:
    """Raise :class:`ValueError` when the site redirects to an address a source may not have
    (an https site sending us to plain http elsewhere would undo the rule above)."""
    reason = _refusal(url)
    if reason is not None or urlsplit(url).scheme == "file":
        raise ValueError(f"the app's site redirected to {url!r}, which is refused: {reason}")


def app_source_url(override: str | None = None) -> str:
    """The checked base URL the current app is fetched from, without a trailing slash.

    Parameters
    ----------
    override
        A URL given explicitly (``--web-source-url``, ``source_url=``); else
        ``$CELLUCID_WEB_APP_URL``; else https://www.cellucid.com. A path to an existing
        folder (a local copy of the app) is taken as its ``file://`` URL.

    Returns
    -------
    str
        The URL, as given but for the trailing slash.

    Raises
    ------
    ValueError
        When the URL is refused, naming where it came from and why.
    """
    if override:
        value, label = override, "--web-source-url / source_url"
    elif os.environ.get(APP_URL_VARIABLE):
        value, label = os.environ[APP_URL_VARIABLE], f"${APP_URL_VARIABLE}"
    else:
        value, label = DEFAULT_APP_URL, "the default source"
    if "://" not in value and Path(value).expanduser().is_dir():
        value = Path(value).expanduser().resolve().as_uri()
    reason = _refusal(value)
    if reason is not None:
        raise ValueError(
            f"{label} {value!r} cannot be the Cellucid web app's source: {reason}. "
            f"Unset it to use {DEFAULT_APP_URL}."
        )
    return value.rstrip("/") or value
