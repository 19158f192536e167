"""``POST /_cellucid/events``: the notebook viewer's events, accepted only from that viewer.

The pinned viewer build (theislab/cellucid b343877, ``assets/js/data/jupyter-source.js``)
posts each event as JSON with the ``viewerId`` and ``viewerToken`` it read from its own
page URL, and requires the answer ``{"status": "ok", "delivered": true}`` (exactly).
A viewer is registered here with a random token; a post without that viewer's exact
token is refused (403), so no other page or program can inject events.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

MAX_EVENT_BYTES = 4 << 20  # a selection of a million cells is about 8 MB: refuse beyond 4 MB
ROUTING = ("viewerId", "viewerToken")

Deliver = Callable[[dict[str, Any]], None]


def new_credentials() -> tuple[str, str]:
    """A new viewer's id (16 hex digits) and token (32 random URL-safe characters)."""
    return secrets.token_hex(8), secrets.token_urlsafe(24)


def token_matches(given: object, expected: str | None) -> bool:
    """Whether ``given`` is exactly ``expected``, compared in constant time.

    ``expected`` None (no such viewer) is compared too, against a token that never matches,
    so an unknown viewer and a wrong token take the same time to refuse.
    """
    if not isinstance(given, str):
        return False
    reference = expected if expected is not None else "\0" * 32
    return hmac.compare_digest(given.encode(), reference.encode()) and expected is not None


class EventRefused(Exception):
    """A post that is not one authenticated event; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EventRouter:
    """The viewers whose events one data server accepts: id -> (token, deliver)."""

    def __init__(self) -> None:
        self._viewers: dict[str, tuple[str, Deliver]] = {}
        self._lock = threading.Lock()

    def register(self, deliver: Deliver) -> tuple[str, str]:
        """Accept events for a new viewer; returns its (viewer id, token)."""
        viewer_id, token = new_credentials()
        with self._lock:
            self._viewers[viewer_id] = (token, deliver)
        return viewer_id, token

    def unregister(self, viewer_id: str) -> None:
        """Refuse the viewer's events from now on."""
        with self._lock:
            self._viewers.pop(viewer_id, None)

    def accept(self, body: bytes) -> None:
        """Check one posted event and deliver it (without its routing fields).

        Raises
        ------
        EventRefused
            400 for a body that is not a JSON object with a text ``type``; 403 for an
            unknown viewer or a wrong token.
        """
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise EventRefused(400, "the event is not JSON") from error
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise EventRefused(400, "an event is a JSON object with a text type")
        viewer_id, token = event.get("viewerId"), event.get("viewerToken")
        with self._lock:
            known = self._viewers.get(viewer_id) if isinstance(viewer_id, str) else None
        if not token_matches(token, known[0] if known is not None else None):
            raise EventRefused(403, "events are accepted only from this notebook's viewer")
        known[1]({k: v for k, v in event.items() if k not in ROUTING})
