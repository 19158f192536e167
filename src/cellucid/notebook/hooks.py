"""Callbacks on the notebook viewer's events (the hook API of cellucid 0.0.9).

Events arrive from the app in the iframe on a server thread: from the pinned build as
``POST /_cellucid/events`` (``serving/events.py``), from the current app on its channel
(``serving/channel/``). :meth:`ViewerEvents.deliver` records each one, wakes
:meth:`ViewerEvents.wait_for_event` callers and runs the callbacks of its type.
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
        self._stopped = False

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

    def on_command_error(self, callback: Hook) -> Hook:
        """Decorator: called with ``{"command", "reason"}`` when the current app could not
        carry out a command (``setColorBy`` of a field it does not have, ...).

        Commands return before the app has read them; this is how a failure comes back.
        Without a callback the failure is logged as a warning (logger
        ``cellucid.notebook.hooks``).
        """
        return self.register_hook("command_error", callback)

    def on_message(self, callback: Hook) -> Hook:
        """Decorator: called with every event, whatever its type (``data["type"]`` names it)."""
        return self.register_hook("message", callback)

    # -- receiving --------------------------------------------------------------------
    def deliver(self, message: dict[str, Any]) -> None:
        """Record one event from the viewer and run its callbacks (errors are logged)."""
        kind = str(message.get("type", "message"))
        data = {k: v for k, v in message.items() if k != "type"}
        with self._cv:
            if self._stopped:
                return
            self._seq += 1
            self._recent.append((self._seq, kind, data))
            self.latest[kind] = data
            calls = [(h, data) for h in self._hooks.get(kind, [])]
            calls += [(h, message) for h in self._hooks.get("message", [])]
            self._cv.notify_all()
        if kind == "command_error" and not self._hooks.get("command_error"):
            logger.warning(
                "the viewer did not carry out %s: %s", data.get("command"), data.get("reason")
            )
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
        RuntimeError
            When the viewer is stopped (at once, or while waiting).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            start = self._seq
            while True:
                for seq, kind, data in self._recent:
                    if seq > start and kind == event and (predicate is None or predicate(data)):
                        return data
                if self._stopped:
                    raise RuntimeError(f"stopped waiting for {event!r}: the viewer was stopped")
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

    def stop_events(self) -> None:
        """Refuse further events and end every wait at once (RuntimeError)."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
