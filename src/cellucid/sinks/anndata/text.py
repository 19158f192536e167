"""Text the viewer draws exactly as stored: the dataset name, description, citation, source.

A character with no glyph changes the stored value without changing what is drawn
(``'Atlas '`` and ``'Atlas'`` look alike), so such text is refused, never repaired:
control characters, unpaired surrogates, zero-width characters (but the joiners
U+200C/U+200D that Indic scripts and emoji need), and whitespace at either end.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlparse

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")
# Unicode white space that is not a control character.
_SPACES = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_EDGE_SPACE = re.compile(f"^[{_SPACES}]|[{_SPACES}]$")


def _character_name(character: str) -> str:
    """``U+XXXX NAME`` of one character, readable in a message."""
    point = ord(character)
    if 0xD800 <= point <= 0xDFFF:
        return f"U+{point:04X} (unpaired surrogate)"
    name = unicodedata.name(character, "")
    return f"U+{point:04X} {name}" if name else f"U+{point:04X} (control character)"


def display_text_defect(text: str) -> str | None:
    """Why ``text`` cannot be drawn exactly as stored, or None when it can."""
    for pattern in (_CONTROL, _SURROGATE, _ZERO_WIDTH):
        found = pattern.search(text)
        if found is not None:
            return f"contains {_character_name(found.group())}"
    edge = _EDGE_SPACE.search(text)
    if edge is not None:
        where = "starts" if edge.start() == 0 else "ends"
        return f"{where} with {_character_name(edge.group())}"
    return None


def require_display_text(value: object, label: str, *, allow_empty: bool = False) -> str:
    """Check one string the viewer shows verbatim.

    Parameters
    ----------
    value
        The text.
    label
        The argument it came from, named in messages.
    allow_empty
        Whether ``""`` is accepted.

    Raises
    ------
    TypeError
        ``value`` is not a string.
    ValueError
        It is empty (unless allowed) or holds a character with no glyph.
    """
    if not isinstance(value, str):
        raise TypeError(f"{label} must be a string, got {type(value).__name__}.")
    if not value:
        if allow_empty:
            return value
        raise ValueError(f"{label} must not be empty.")
    defect = display_text_defect(value)
    if defect is not None:
        raise ValueError(
            f"{label} is shown exactly as stored, and {value!r} {defect}, which draws as "
            "nothing. Pass the exact text to show, without it (it is not removed for you, "
            "as that would change text you did not ask to change)."
        )
    return value


def require_web_address(value: object, label: str) -> str:
    """Check an absolute ``http``/``https`` address shown as a link.

    Raises
    ------
    TypeError, ValueError
        As :func:`require_display_text`, or the address is not absolute http(s).
    """
    text = require_display_text(value, label)
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{label} must be an absolute http:// or https:// address, got {text!r}.")
    return text
