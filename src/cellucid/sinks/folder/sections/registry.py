"""The registry of section writers: each section module registers one with :func:`section`."""

from __future__ import annotations

from collections.abc import Callable

from cellucid.sinks.folder.context import RunContext

Writer = Callable[[RunContext], None]
_WRITERS: dict[str, tuple[int, Writer]] = {}


def section(name: str, order: int) -> Callable[[Writer], Writer]:
    """Register a writer as the section ``name``; sections run by ascending ``order``."""

    def register(writer: Writer) -> Writer:
        _WRITERS[name] = (order, writer)
        return writer

    return register


def writers() -> list[tuple[str, Writer]]:
    """The registered section writers in running order."""
    return [(name, w) for name, (_, w) in sorted(_WRITERS.items(), key=lambda i: i[1][0])]
