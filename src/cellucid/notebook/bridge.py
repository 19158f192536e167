"""Python -> viewer: the iframe, the postMessage script and the command messages.

The pinned viewer build (theislab/cellucid b343877, ``assets/js/data/jupyter-source.js``)
checks every command's exact keys (``type``, its fields, ``viewerId``, ``viewerToken``),
so the messages are built and checked here, before they reach the browser.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")

# Registers a sender per viewer in the notebook page; it posts to the iframe at the origin
# the iframe was loaded from (never "*": the token must reach only that page).
_REGISTER = """<script>
(function () {{
  var id = {viewer_id};
  window.cellucidViewers = window.cellucidViewers || {{}};
  window.cellucidViewers[id] = {{
    sendMessage: function (message) {{
      var frame = document.getElementById("cellucid-" + id);
      if (!frame || !frame.contentWindow) {{ return false; }}
      var origin = new URL(frame.src, window.location.href).origin;
      frame.contentWindow.postMessage(message, origin);
      return true;
    }}
  }};
}})();
</script>"""

_POST = """(function () {{
  var viewer = window.cellucidViewers && window.cellucidViewers[{viewer_id}];
  if (!viewer || !viewer.sendMessage({message})) {{
    console.warn("cellucid: viewer " + {viewer_id} + " is not shown in this page");
  }}
}})();"""


def iframe_html(url: str, viewer_id: str, height: int) -> str:
    """The iframe of one viewer, its sender script and a link to open it in a tab."""
    src = html.escape(url, quote=True)
    return (
        f'<iframe src="{src}" id="cellucid-{html.escape(viewer_id)}" width="100%" '
        f'height="{int(height)}" style="border: 0" allow="fullscreen; clipboard-write">'
        "</iframe>"
        f'<p><a href="{src}" target="_blank">Open the viewer in a new tab</a></p>'
        + _REGISTER.format(viewer_id=json.dumps(viewer_id))
    )


def frame_html(url: str, viewer_id: str, height: int) -> str:
    """The iframe of one viewer of the current app (it opens its own channel: no script).

    No link to open it in a tab either: a second page of the same viewer would take its
    channel over from the iframe.
    """
    src = html.escape(url, quote=True)
    return (
        f'<iframe src="{src}" id="cellucid-{html.escape(viewer_id)}" width="100%" '
        f'height="{int(height)}" style="border: 0" allow="fullscreen; clipboard-write">'
        "</iframe>"
    )


def post_script(viewer_id: str, message: dict[str, Any]) -> str:
    """JavaScript that posts ``message`` to the viewer ``viewer_id`` shown in this page."""
    return _POST.format(viewer_id=json.dumps(viewer_id), message=json.dumps(message))


def exact_text(value: str, what: str) -> str:
    """``value`` when it is non-empty text without surrounding space (the viewer's rule)."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"{what} must be non-empty text without surrounding spaces")
    return value


def cell_list(cells: Iterable[int], *, empty: bool) -> list[int]:
    """Cell indices as the viewer accepts them: unique non-negative integers."""
    out = [int(c) for c in cells]
    if any(c < 0 for c in out) or len(set(out)) != len(out):
        raise ValueError("cell indices must be unique non-negative integers")
    if not out and not empty:
        raise ValueError("give at least one cell index")
    return out


def highlight(cells: Iterable[int], color: str) -> dict[str, Any]:
    """The ``highlight`` command: at least one cell, a ``#rrggbb`` colour."""
    if not isinstance(color, str) or not HEX_COLOR.fullmatch(color):
        raise ValueError(f"color must be a six-digit hex colour like '#ff0000', not {color!r}")
    return {"type": "highlight", "cells": cell_list(cells, empty=False), "color": color}
