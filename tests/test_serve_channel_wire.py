"""The channel's wire rules, without a server: commands encoded, events checked exactly."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from cellucid.serving.channel import capability_document, wire
from cellucid.serving.channel.protocol import BINARY_COMMAND_MESSAGES, COMMANDS, EVENTS


def split(frame: bytes) -> tuple[dict, list[int], int]:
    (length,) = struct.unpack_from("<I", frame)
    body = frame[4 + length :]
    return json.loads(frame[4 : 4 + length]), list(np.frombuffer(body, "<u4")), length


def test_the_document_lists_what_the_checks_accept():
    document = capability_document()
    assert list(document) == ["channel", "commands", "binaryCommands", "events"]
    assert document["commands"] == sorted(COMMANDS)
    assert document["events"] == sorted(EVENTS)
    assert document["binaryCommands"] == sorted(BINARY_COMMAND_MESSAGES)


def test_cells_travel_ascending_as_uint32():
    frame = wire.encode_command({"type": "highlight", "cells": [7, 0, 3], "color": "#AbCdEf"})
    header, cells, length = split(frame)
    assert header == {"type": "highlight", "color": "#AbCdEf"} and cells == [0, 3, 7]
    assert length % 4 == 0 and frame[4 + length - 1 : 4 + length] in (b" ", b"}")
    for given in (
        np.array([2**32 - 1, 5], dtype=np.uint64),
        np.array([1], dtype=np.int8),
        range(3),
    ):
        header, cells, _ = split(
            wire.encode_command({"type": "highlight", "cells": given, "color": "#000000"})
        )
        assert cells == sorted(int(c) for c in given)
    every = wire.encode_command({"type": "setVisibility", "cells": None, "visible": False})
    assert split(every)[:2] == ({"type": "setVisibility", "visible": False, "all": True}, [])


@pytest.mark.parametrize(
    "cells",
    [[], [1, 1], [-1], [2**32], [True], [1.0], np.array([[1]]), np.array([0.5]), ["1"]],
    ids=["empty", "twice", "negative", "too-big", "bool", "float", "2d", "float-array", "text"],
)
def test_cells_the_app_would_refuse_are_refused(cells):
    with pytest.raises((ValueError, TypeError)):
        wire.encode_command({"type": "highlight", "cells": cells, "color": "#ff0000"})


@pytest.mark.parametrize(
    "message",
    [
        {"type": "highlight", "cells": [1], "color": "red"},
        {"type": "highlight", "cells": [1]},
        {"type": "setVisibility", "cells": [1], "visible": 1},
        {"type": "setColorBy", "field": ""},
        {"type": "setColorBy", "field": "x\n"},
        {"type": "ping", "requestId": "has space"},
        {"type": "resetCamera", "viewerToken": "t"},
        {"type": "requestSessionBundle", "requestId": "r"},
        {"type": "setDataMapping", "requestId": "r", "mapping": {}},
        {"type": "setColorBy", "field": float("nan")},
        ["not", "a", "dict"],
    ],
)
def test_commands_outside_the_protocol_are_refused(message):
    with pytest.raises((ValueError, TypeError)):
        wire.encode_command(message)


def test_text_commands_are_compact_json():
    assert wire.encode_command({"type": "setColorBy", "field": "génes"}) == (
        '{"type":"setColorBy","field":"g\\u00e9nes"}'
    )
    assert wire.encode_command({"type": "freeze"}) == '{"type":"freeze"}'


def test_a_selection_frame_decodes_to_ints():
    header = b'{"type":"selection","source":"lasso"}'
    frame = struct.pack("<I", len(header)) + header + np.array([1, 9], "<u4").tobytes()
    assert wire.decode_binary_event(frame) == {
        "type": "selection",
        "source": "lasso",
        "cells": [1, 9],
    }


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"hover","cell":-1,"position":null}',
        '{"type":"hover","cell":1,"position":{"x":1,"y":2,"z":"3"}}',
        '{"type":"click","cell":1,"button":3,"shift":false,"ctrl":false}',
        '{"type":"ready","n_cells":1.5,"dimensions":2}',
        '{"type":"pong","requestId":"r","t":-1}',
        '{"type":"command_error","command":"setColorBy","reason":"' + "x" * 501 + '"}',
        '{"type":"debug_snapshot","requestId":"r","ts":"t","locationHref":"h","origin":"o",'
        '"serverUrl":"s","connected":"yes","userAgent":null}',
        '{"type":"ready","n_cells":1,"dimensions":2,"extra":0}',
        '{"type":"ready","n_cells":Infinity,"dimensions":2}',
        '{"type":7}',
    ],
)
def test_events_outside_the_protocol_are_refused(text):
    with pytest.raises(wire.WireError):
        wire.decode_text_event(text)
