"""The notebook channel of the current Cellucid web app: ``/_cellucid/ws`` and
``/_cellucid/protocol`` (upstream 0.9.5's protocol).

``protocol`` declares what the channel carries, ``wire`` encodes and checks its messages,
``upgrade`` answers the WebSocket opening, ``websocket`` runs one connection with
``wsproto``, and ``hub`` holds the viewers of one server and routes between them and their
channels. :func:`answer` is what the HTTP handler calls.
"""

from __future__ import annotations

from typing import Any

from cellucid.serving.channel.hub import ChannelHub
from cellucid.serving.channel.protocol import CHANNEL_ROUTE, PROTOCOL_ROUTE, capability_document
from cellucid.serving.channel.upgrade import refusal, switching_protocols, take_connection
from cellucid.serving.channel.websocket import ChannelSocket

__all__ = ["CHANNEL_ROUTE", "PROTOCOL_ROUTE", "ChannelHub", "capability_document", "open_channel"]

#: Largest text frame the app sends (every text event is a small record).
MAX_TEXT_BYTES = 1 << 20
#: Largest binary frame: a selection of 2**24 cells (16.7 million) with its header.
MAX_BINARY_BYTES = (1 << 26) + (1 << 16)


def open_channel(handler: Any, hub: ChannelHub | None, allowed: set[str]) -> None:
    """Answer ``GET /_cellucid/ws`` on ``handler``: refuse it, or upgrade and serve it.

    Parameters
    ----------
    handler
        The request's :class:`~cellucid.serving.handler.CellucidHandler` (or a subclass):
        its ``refuse_channel(status, message, headers)`` answers a refused opening; after
        the ``101`` its connection is the channel's until the channel ends.
    hub
        The server's viewers (None: this server has no channel, 404).
    allowed
        Lower-case host names the pages may come from besides loopback and ``Host``.
    """
    handler.close_connection = True
    if hub is None:
        handler.refuse_channel(404, "this server has no notebook channel", {})
        return
    refused = refusal(handler.command, handler.headers, allowed)
    if refused is not None:
        handler.refuse_channel(*refused)
        return
    handler.wfile.write(switching_protocols(handler.headers["Sec-WebSocket-Key"]))
    handler.wfile.flush()
    sock = handler.connection
    received = take_connection(sock, handler.rfile)
    # no idle timeout from here: a channel is idle between interactions; pings bound it
    sock.settimeout(None)
    app = handler.server.app
    hub.serve(
        ChannelSocket(sock, received, max_text=MAX_TEXT_BYTES, max_binary=MAX_BINARY_BYTES),
        running=lambda: getattr(app, "running", True),
    )
