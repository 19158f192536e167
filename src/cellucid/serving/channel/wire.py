"""The channel's messages as bytes: commands encoded, events decoded, both checked exactly.

Everything is checked against :mod:`cellucid.serving.channel.protocol`; a message outside it
is refused. The rules are upstream 0.9.5's (``cellucid/jupyter/_wire.py``):

- a command is a JSON text frame (compact, ASCII), except a command that names cells
  (``highlight``, ``setVisibility``), which is one binary frame: the header's length as a
  little-endian ``uint32``, the JSON header padded with spaces to a multiple of four bytes,
  then the cells as little-endian ``uint32``, strictly ascending. ``setVisibility`` of every
  cell is ``"all": true`` and no cells;
- an event is a JSON text frame with exactly its type's keys, except ``selection``, a binary
  frame of the same shape (header ``{"type": "selection", "source"}``, then the cells).

Values are checked by type, not by what they convert to: ``true`` is not a cell index and
``1.0`` is not a button. JSON's ``NaN`` and ``Infinity`` are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from cellucid.serving.channel.protocol import (
    BINARY_COMMAND_MESSAGES,
    BINARY_EVENT_HEADERS,
    COMMANDS,
    EVENTS,
    HELLO_FIELDS,
    TEXT_COMMANDS,
)

CELL = np.dtype("<u4")
MAX_CELL = 2**32 - 1
COMMAND_ERROR_REASON_LIMIT = 500
_HEX = frozenset("0123456789abcdefABCDEF")


class WireError(ValueError):
    """A frame from the app that the protocol does not allow (its channel is closed, 1008)."""


# -- values ------------------------------------------------------------------------------
def exact_text(value: object, what: str, *, spaces: bool = False) -> str:
    """``value`` when it is non-empty text without surrounding space or control characters.

    ``spaces=False`` refuses whitespace anywhere (identifiers); ``True`` allows it inside.
    """
    if (
        type(value) is not str
        or not value
        or value != value.strip()
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
        or (not spaces and any(c.isspace() for c in value))
    ):
        raise WireError(f"{what} must be non-empty text without surrounding spaces")
    return value


def hex_colour(value: object, what: str = "color") -> str:
    """``value`` when it is a six-digit hex colour such as ``#ff0000``."""
    if type(value) is not str or len(value) != 7 or value[0] != "#" or set(value[1:]) - _HEX:
        raise ValueError(f"{what} must be a six-digit hex colour like '#ff0000', not {value!r}")
    return value


def cell_array(cells: Iterable[int] | np.ndarray, what: str = "cell indices") -> np.ndarray:
    """Cells as the wire carries them: ``uint32``, strictly ascending, at least one.

    Parameters
    ----------
    cells
        Row indices in any order, each once: a one-dimensional integer array or an iterable
        of ints (``bool`` and floats are refused).
    what
        Names the argument in errors.

    Raises
    ------
    ValueError, TypeError
        Empty, negative, beyond ``2**32 - 1``, repeated, or not integers.
    """
    if isinstance(cells, np.ndarray):
        if cells.ndim != 1 or cells.dtype.kind not in "iu":
            raise TypeError(f"{what} must be a one-dimensional integer array, not {cells.dtype}")
        values = cells
    else:
        items = list(cells)
        bad = [c for c in items if not isinstance(c, int | np.integer) or isinstance(c, bool)]
        if bad:
            raise TypeError(f"{what} must be integers; got {bad[0]!r}")
        values = np.array([int(c) for c in items], dtype=np.int64) if items else np.empty(0, int)
    if values.size == 0:
        raise ValueError(f"give at least one cell in {what}")
    if int(values.min()) < 0 or int(values.max()) > MAX_CELL:
        raise ValueError(f"{what} must be between 0 and {MAX_CELL}")
    ordered = np.sort(values) if values.size > 1 and np.any(values[1:] <= values[:-1]) else values
    if ordered.size > 1 and np.any(ordered[1:] == ordered[:-1]):
        raise ValueError(f"{what} must be unique: a cell is named twice")
    return ordered.astype(CELL, copy=False)


# -- commands ----------------------------------------------------------------------------
def binary_frame(header: dict[str, Any], cells: np.ndarray | None) -> bytes:
    """One binary frame: header length, header padded to four bytes, cells."""
    text = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    head = (text + " " * (-len(text) % 4)).encode("ascii")
    body = b"" if cells is None else cells.astype(CELL, copy=False).tobytes()
    return len(head).to_bytes(4, "little") + head + body


def encode_command(message: dict[str, Any]) -> str | bytes:
    """Check one command and return the frame the app reads: text, or bytes for cells.

    Parameters
    ----------
    message
        ``{"type": ..., ...}`` with exactly the keys of its type (protocol.py); cells as a
        list or integer array, ``None`` for every cell of a ``setVisibility``.

    Raises
    ------
    ValueError, TypeError
        An unknown type, missing or extra keys, or a value the app would refuse.
    """
    if type(message) is not dict:
        raise TypeError("a command is a dict with a 'type'")
    kind = message.get("type")
    expected = BINARY_COMMAND_MESSAGES.get(kind) or TEXT_COMMANDS.get(kind)  # type: ignore[arg-type]
    if expected is None:
        raise ValueError(f"unknown command type {kind!r}; the channel sends {sorted(COMMANDS)}")
    if set(message) != expected:
        raise TypeError(f"a {kind} command has exactly the keys {sorted(expected)}")
    if kind == "highlight":
        colour = hex_colour(message["color"])
        cells = cell_array(message["cells"], "highlight cells")
        return binary_frame({"type": "highlight", "color": colour}, cells)
    if kind == "setVisibility":
        if type(message["visible"]) is not bool:
            raise TypeError("visible must be True or False")
        every = message["cells"] is None
        cells = None if every else cell_array(message["cells"], "visibility cells")
        header = {"type": "setVisibility", "visible": message["visible"], "all": every}
        return binary_frame(header, cells)
    if "requestId" in message:
        _value_error(exact_text, message["requestId"], f"{kind} requestId")
    if kind == "setColorBy":
        _value_error(exact_text, message["field"], "field", spaces=True)
    return json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _value_error(check: Any, value: object, what: str, **options: Any) -> None:
    """Run a wire check on a caller's value: its refusal is the caller's ValueError."""
    try:
        check(value, what, **options)
    except WireError as error:
        raise ValueError(str(error)) from None


# -- events ------------------------------------------------------------------------------
def _no_constants(name: str) -> None:
    raise WireError(f"JSON {name} is not a number the channel carries")


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object with a text ``type``, or WireError."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        if isinstance(error, WireError):
            raise
        raise WireError(f"the {what} is not JSON") from None
    if type(value) is not dict or type(value.get("type")) is not str:
        raise WireError(f"the {what} must be a JSON object with a text type")
    return value


def decode_hello(text: str) -> tuple[object, object]:
    """The viewer id and token of the channel's first frame, as sent (the hub checks them)."""
    hello = json_object(text, "hello frame")
    if set(hello) != HELLO_FIELDS or hello["type"] != "hello":
        raise WireError("the first frame must be exactly {type: 'hello', viewerId, viewerToken}")
    return hello["viewerId"], hello["viewerToken"]


def decode_text_event(text: str) -> dict[str, Any]:
    """One event from a text frame, checked; its ``type`` included."""
    event = json_object(text, "event")
    if event["type"] in BINARY_EVENT_HEADERS:
        raise WireError(f"a {event['type']} event is sent as a binary frame")
    return check_event(event)


def decode_binary_event(frame: bytes) -> dict[str, Any]:
    """One event from a binary frame (a selection), checked; its cells as ints."""
    if len(frame) < 4:
        raise WireError("a binary event starts with its header's length")
    length = int.from_bytes(frame[:4], "little")
    if length > len(frame) - 4:
        raise WireError("a binary event's header is longer than the frame")
    header = json_object(bytes(frame[4 : 4 + length]), "binary event header")
    expected = BINARY_EVENT_HEADERS.get(header["type"])
    if expected is None or set(header) != expected:
        raise WireError("a binary event header is exactly {type: 'selection', source}")
    body = frame[4 + length :]
    if not body or len(body) % 4:
        raise WireError("a selection's cells are one or more little-endian uint32")
    cells = np.frombuffer(body, dtype=CELL)
    if cells.size > 1 and not bool(np.all(cells[1:] > cells[:-1])):
        raise WireError("a selection's cells must be strictly ascending")
    return check_event({**header, "cells": cells.tolist()})


def _count(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise WireError(f"{what} must be a non-negative integer")
    return value


def _flag(value: object, what: str) -> bool:
    if type(value) is not bool:
        raise WireError(f"{what} must be true or false")
    return value


def _position(value: object) -> None:
    if value is None:
        return
    if type(value) is not dict or set(value) != {"x", "y", "z"}:
        raise WireError("a hover position is null or exactly {x, y, z}")
    for axis in ("x", "y", "z"):
        number = value[axis]
        if type(number) not in (int, float) or not math.isfinite(number):
            raise WireError(f"hover position {axis} must be a finite number")


def _debug_snapshot(event: dict[str, Any]) -> None:
    for key in ("requestId", "ts", "locationHref", "origin", "serverUrl"):
        exact_text(event[key], f"debug_snapshot {key}", spaces=True)
    _flag(event["connected"], "debug_snapshot connected")
    if event["userAgent"] is not None:
        exact_text(event["userAgent"], "debug_snapshot userAgent", spaces=True)


def _command_error(event: dict[str, Any]) -> None:
    # only a command of ours may be named: no text of the page's choosing reaches the notebook
    if exact_text(event["command"], "command_error command") not in COMMANDS:
        raise WireError(f"command_error names no command of this channel: {event['command']!r}")
    reason = exact_text(event["reason"], "command_error reason", spaces=True)
    if len(reason) > COMMAND_ERROR_REASON_LIMIT:
        limit = COMMAND_ERROR_REASON_LIMIT
        raise WireError(f"a command_error reason is at most {limit} characters")


def check_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` when it has exactly its type's keys and values of the right types.

    Raises
    ------
    WireError
        An event type the protocol does not list, missing or extra keys, a wrong value.
    """
    kind = event["type"]
    expected = EVENTS.get(kind)
    if expected is None:
        raise WireError(f"unknown event type {kind!r}; the channel accepts {sorted(EVENTS)}")
    if set(event) != expected:
        missing, extra = sorted(expected - set(event)), sorted(set(event) - expected)
        raise WireError(f"a {kind} event has missing keys {missing} or unknown keys {extra}")
    if kind == "selection":
        exact_text(event["source"], "selection source")
    elif kind == "hover":
        if event["cell"] is not None:
            _count(event["cell"], "hover cell")
        _position(event["position"])
    elif kind == "click":
        _count(event["cell"], "click cell")
        if type(event["button"]) is not int or event["button"] not in (0, 1, 2):
            raise WireError("click button must be 0, 1 or 2")
        _flag(event["shift"], "click shift")
        _flag(event["ctrl"], "click ctrl")
    elif kind == "ready":
        _count(event["n_cells"], "ready n_cells")
        if type(event["dimensions"]) is not int or event["dimensions"] not in (1, 2, 3):
            raise WireError("ready dimensions must be 1, 2 or 3")
    elif kind == "pong":
        exact_text(event["requestId"], "pong requestId")
        _count(event["t"], "pong t")
    elif kind == "debug_snapshot":
        _debug_snapshot(event)
    else:
        _command_error(event)
    return event
