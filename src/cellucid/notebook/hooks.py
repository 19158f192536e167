"""Callbacks on the notebook viewer's events (the hook API of cellucid 0.0.9).

Events arrive from the viewer in the iframe as ``POST /_cellucid/events`` (see
``serving/events.py``) on a server thread; :meth:`ViewerEvents.deliver` records each one,
wakes :meth:`ViewerEvents.wait_for_event` callers and runs the callbacks of its type.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Hook = Callable[[dict[str, Any]], Any]
RECENT_EVENTS = 256
logger = logging.getLogger("cellucid.notebook.hooks")


class ViewerEvents:
    """Hooks per event type, the latest event of each type, and waiting for events."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Hook]] = {}
        self._cv = threading.Condition()
        self._seq = 0
        self._recent: deque[tuple[int, str, dict[str, Any]]] = deque(maxlen=RECENT_EVENTS)
        self.latest: dict[str, dict[str, Any]] = {}

    # -- registering ------------------------------------------------------------------
    def register_hook(self, event: str, callback: Hook) -> Hook:
        """Call ``callback(data)`` on every event of type ``event``; returns the callback."""
        with self._cv:
            self._hooks.setdefault(event, []).append(callback)
        return callback

    def unregister_hook(self, event: str, callback: Hook) -> bool:
        """Stop calling ``callback``; True when it was registered."""
        with self._cv:
            hooks = self._hooks.get(event, [])
            if callback in hooks:
                hooks.remove(callback)
                return True
        return False

    def clear_hooks(self, event: str | None = None) -> None:
        """Forget the callbacks of ``event`` (all events when None)."""
        with self._cv:
            if event is None:
                self._hooks.clear()
            else:
                self._hooks.pop(event, None)

    def on_selection(self, callback: Hook) -> Hook:
        """Decorator: called with ``{"cells": [...], "source": ...}`` on each selection.

        The pinned viewer build posts one when a selection tool's Confirm button is pressed;
        ``source`` is ``"annotation"``, ``"lasso"``, ``"proximity"`` or ``"knn"``.
        """
        return self.register_hook("selection", callback)

    def on_hover(self, callback: Hook) -> Hook:
        """Decorator: called with ``{"cell": i or None, "position": {x, y, z} or None}``."""
        return self.register_hook("hover", callback)

    def on_click(self, callback: Hook) -> Hook:
        """Decorator: called with ``{"cell", "button", "shift", "ctrl"}`` on each click."""
        return self.register_hook("click", callback)

    def on_ready(self, callback: Hook) -> Hook:
        """Decorator: called with ``{"n_cells", "dimensions"}`` once the viewer is ready."""
        return self.register_hook("ready", callback)

    def on_message(self, callback: Hook) -> Hook:
        """Decorator: called with every event, whatever its type (``data["type"]`` names it)."""
        return self.register_hook("message", callback)

    # -- receiving --------------------------------------------------------------------
    def deliver(self, message: dict[str, Any]) -> None:
        """Record one event from the viewer and run its callbacks (errors are logged)."""
        kind = str(message.get("type", "message"))
        data = {k: v for k, v in message.items() if k != "type"}
        with self._cv:
            self._seq += 1
            self._recent.append((self._seq, kind, data))
            self.latest[kind] = data
            calls = [(h, data) for h in self._hooks.get(kind, [])]
            calls += [(h, message) for h in self._hooks.get("message", [])]
            self._cv.notify_all()
        for hook, argument in calls:
            try:
                hook(argument)
            except Exception:  # a notebook callback's bug must not break the server thread
                logger.exception("cellucid %s callback failed", kind)

    def wait_for_event(
        self,
        event: str,
        timeout: float | None = 30.0,
        *,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Block until the next event of type ``event`` arrives (after this call).

        Parameters
        ----------
        event
            Event type, e.g. ``"ready"``, ``"selection"``.
        timeout
            Seconds to wait; None waits forever.
        predicate
            Only an event whose data it accepts counts.

        Returns
        -------
        dict
            The event's data.

        Raises
        ------
        TimeoutError
            When no such event arrived in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            start = self._seq
            while True:
                for seq, kind, data in self._recent:
                    if seq > start and kind == event and (predicate is None or predicate(data)):
                        return data
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no {event!r} event from the viewer in {timeout} s")
                self._cv.wait(remaining)

    def wait_for_ready(self, timeout: float | None = 30.0) -> dict[str, Any]:
        """The viewer's ``ready`` event: at once if it came already, else wait for it."""
        with self._cv:
            if "ready" in self.latest:
                return self.latest["ready"]
        return self.wait_for_event("ready", timeout)
