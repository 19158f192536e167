"""Mapping request paths to files, never outside the served folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

MAX_SEGMENT = 255  # longer names exist on no common file system


class Forbidden(Exception):
    """The request path tries to leave the served folder."""


def request_path(raw: str) -> str:
    """The decoded path part of an origin-form request target (query and fragment dropped).

    Split by hand: ``urlsplit`` would read ``//etc/passwd`` as a host name and a path.
    """
    return unquote(raw.split("?", 1)[0].split("#", 1)[0])


def has_overlong_segment(url_path: str) -> bool:
    """Whether a segment is longer than any file name can be (such a path names nothing)."""
    return any(len(p.encode()) > MAX_SEGMENT for p in url_path.split("/"))


def resolve_inside(root: Path, url_path: str) -> Path | None:
    """The file under ``root`` that ``url_path`` names, or None when there is none.

    Raises
    ------
    Forbidden
        For ``..`` segments, backslashes, NUL bytes, and paths (or symlinks) that resolve
        outside ``root``.
    """
    if "\x00" in url_path or "\\" in url_path:
        raise Forbidden(url_path)
    parts = [p for p in url_path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise Forbidden(url_path)
    if has_overlong_segment(url_path):
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts)
    try:
        resolved = candidate.resolve()
        if resolved != base and not resolved.is_relative_to(base):
            raise Forbidden(url_path)
        # ENAMETOOLONG and friends mean "no such file", never a dropped connection
        return resolved if resolved.is_file() else None
    except (OSError, RuntimeError):
        return None
