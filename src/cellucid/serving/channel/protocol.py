"""What the notebook channel carries: the one declaration of its commands and events.

The current Cellucid web app (0.9.5 and later) asks ``GET /_cellucid/protocol`` which events
and commands this server speaks before it opens the channel (``/_cellucid/ws``), and sends
only the events listed: an event not listed closes its channel as a protocol violation. The
lists below are read by :mod:`cellucid.serving.channel.wire` as well, so the document can
never offer what the checks then refuse.

Upstream 0.9.5 offers two more pairs, which need machinery this package does not have:
session bundles (``requestSessionBundle`` / ``session_bundle``, the app's whole session as a
file) and data mappings (``setDataMapping`` / ``data_mapping``, the app's choice of
embeddings, graph and expression source). They are left out of the document, so the app
neither sends them nor expects them (docs/notebooks.md).
"""

from __future__ import annotations

from typing import Any

#: Where the app opens the channel (a WebSocket), relative to the server's base address.
CHANNEL_ROUTE = "_cellucid/ws"
#: Where the app reads this document.
PROTOCOL_ROUTE = "_cellucid/protocol"

#: Commands sent as JSON text frames: type -> the exact keys of the message.
TEXT_COMMANDS: dict[str, frozenset[str]] = {
    "ping": frozenset({"type", "requestId"}),
    "debug_snapshot": frozenset({"type", "requestId"}),
    "clearHighlights": frozenset({"type"}),
    "setColorBy": frozenset({"type", "field"}),
    "resetCamera": frozenset({"type"}),
    "freeze": frozenset({"type"}),
}

#: Commands that name cells, sent as one binary frame: type -> the exact keys of its header.
BINARY_COMMAND_HEADERS: dict[str, frozenset[str]] = {
    "highlight": frozenset({"type", "color"}),
    "setVisibility": frozenset({"type", "visible", "all"}),
}

#: The same commands as a caller of ``send_message`` gives them (cells beside the header).
BINARY_COMMAND_MESSAGES: dict[str, frozenset[str]] = {
    "highlight": frozenset({"type", "cells", "color"}),
    "setVisibility": frozenset({"type", "cells", "visible"}),
}

COMMANDS: frozenset[str] = frozenset(TEXT_COMMANDS) | frozenset(BINARY_COMMAND_MESSAGES)

#: Events the app may send: type -> the exact keys of the event.
EVENTS: dict[str, frozenset[str]] = {
    "selection": frozenset({"type", "cells", "source"}),
    "hover": frozenset({"type", "cell", "position"}),
    "click": frozenset({"type", "cell", "button", "shift", "ctrl"}),
    "ready": frozenset({"type", "n_cells", "dimensions"}),
    "pong": frozenset({"type", "requestId", "t"}),
    "debug_snapshot": frozenset(
        {"type", "requestId", "ts", "locationHref", "origin", "serverUrl", "connected", "userAgent"}
    ),
    "command_error": frozenset({"type", "command", "reason"}),
}

#: Events that arrive only as binary frames: type -> the exact keys of the frame's header.
BINARY_EVENT_HEADERS: dict[str, frozenset[str]] = {"selection": frozenset({"type", "source"})}

#: The first frame of every channel: exactly these keys, type ``hello``.
HELLO_FIELDS = frozenset({"type", "viewerId", "viewerToken"})


def capability_document() -> dict[str, Any]:
    """The body of ``GET /_cellucid/protocol``.

    Returns
    -------
    dict
        ``channel`` (the WebSocket's route), ``commands`` (every command this server may
        send, also the names a ``command_error`` may report), ``binaryCommands`` (those
        sent as binary frames) and ``events`` (every event it accepts), lists sorted.
    """
    return {
        "channel": CHANNEL_ROUTE,
        "commands": sorted(COMMANDS),
        "binaryCommands": sorted(BINARY_COMMAND_HEADERS),
        "events": sorted(EVENTS),
    }
