"""How a notebook viewer talks to the app in its iframe: one class per viewer build.

- :class:`PinnedLink`, the pinned 2025 viewer build (export folders): events arrive as
  ``POST /_cellucid/events`` (``serving/events.py``), commands leave as ``postMessage`` from
  a script displayed with the iframe (``bridge.py``);
- :class:`ChannelLink`, the current web app (Cellucid-ready AnnData): both directions travel
  on the channel the app opens to the server, ``/_cellucid/ws`` (``serving/channel/``);
  commands sent before the app connects wait and go out in order when it does.

Both register the viewer with its server and get its id and token; both take the same
command dicts (``{"type": "highlight", "cells": [...], "color": ...}``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cellucid.notebook import bridge
from cellucid.serving.channel import wire
from cellucid.serving.events import Deliver

APPS = ("pinned", "current")


class PinnedLink:
    """The pinned viewer build's Jupyter mode: POSTed events, ``postMessage`` commands."""

    app = "pinned"

    def __init__(self, server: Any, deliver: Deliver) -> None:
        self.server = server
        self.viewer_id, self.token = server.events.register(deliver)

    def query(self) -> str:
        """The iframe's query: the pinned build's Jupyter mode (exactly these keys)."""
        return urlencode({"jupyter": "true", "viewerId": self.viewer_id, "viewerToken": self.token})

    def html(self, url: str, height: int) -> str:
        """The iframe, a link to open it in a tab, and the script that posts commands."""
        return bridge.iframe_html(url, self.viewer_id, height)

    def send(self, message: dict[str, Any], shown_in_jupyter: bool) -> dict[str, Any]:
        """Post ``message`` with the routing fields the pinned build requires; returns it."""
        full = {**message, "viewerId": self.viewer_id, "viewerToken": self.token}
        if shown_in_jupyter:
            from IPython.display import Javascript, display

            display(Javascript(bridge.post_script(self.viewer_id, full)))
        return full

    def connected(self) -> bool | None:
        """Unknown: the pinned build keeps no connection to the server."""
        return None

    def close(self, shown: bool) -> None:
        """Freeze the shown view, then refuse the viewer's events."""
        if shown:
            self.send({"type": "freeze"}, shown_in_jupyter=True)
        self.server.events.unregister(self.viewer_id)


class ChannelLink:
    """The current web app: events and commands on the viewer's channel (``server.channel``)."""

    app = "current"

    def __init__(self, server: Any, deliver: Deliver) -> None:
        hub = getattr(server, "channel", None)
        if hub is None:
            raise TypeError(
                f"{type(server).__name__} has no notebook channel; the current web app's hooks "
                "need a server with one (CellucidServer or StoreServer)"
            )
        self.hub = hub
        self.viewer_id, self.token = hub.register(deliver)

    def query(self) -> str:
        """The iframe's query: upstream 0.9.5's notebook viewer address (these keys, in order).

        The app finds the server, and so ``/_cellucid/protocol`` and ``/_cellucid/ws``, at its
        own page's folder, and says ``hello`` with this id and token.
        """
        return urlencode(
            {
                "viewer": "true",
                "viewerId": self.viewer_id,
                "viewerToken": self.token,
                "anndata": "true",
            }
        )

    def html(self, url: str, height: int) -> str:
        """The iframe alone: the app opens its own channel, so no script is needed."""
        return bridge.frame_html(url, self.viewer_id, height)

    def send(self, message: dict[str, Any], shown_in_jupyter: bool) -> dict[str, Any]:
        """Encode ``message`` (checked) and send it now, or queue it until the app connects."""
        self.hub.send(self.viewer_id, wire.encode_command(message))
        return message

    def connected(self) -> bool:
        """Whether the app has its channel open now."""
        return bool(self.hub.connected(self.viewer_id))

    def close(self, shown: bool) -> None:
        """Freeze an open page (never queued), then close the channel and refuse new ones."""
        frame = wire.encode_command({"type": "freeze"})
        try:
            self.hub.send(self.viewer_id, frame, queue=False)
        except KeyError:
            pass  # unregistered already
        self.hub.unregister(self.viewer_id)


def make_link(app: str, server: Any, deliver: Deliver) -> PinnedLink | ChannelLink:
    """The link of viewer build ``app`` (``"pinned"`` or ``"current"``)."""
    if app == "pinned":
        return PinnedLink(server, deliver)
    if app == "current":
        return ChannelLink(server, deliver)
    raise ValueError(f"app must be one of {APPS}, not {app!r}")
