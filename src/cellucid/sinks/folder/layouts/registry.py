"""The registry of layouts, by name (a new layout registers itself from its own module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cellucid.sinks.folder.layouts.base import Layout

_LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    """Make ``layout`` available under ``layout.name`` (a later registration replaces)."""
    _LAYOUTS[layout.name] = layout
    return layout


def unregister_layout(name: str) -> None:
    """Forget a layout (for tests that register their own)."""
    _LAYOUTS.pop(name, None)


def layout_names() -> tuple[str, ...]:
    """Names of the registered layouts, in registration order."""
    return tuple(_LAYOUTS)


def get_layout(name: str) -> Layout:
    """The layout called ``name``.

    Raises
    ------
    ValueError
        If no layout has that name.
    """
    try:
        return _LAYOUTS[name]
    except KeyError:
        known = ", ".join(repr(n) for n in _LAYOUTS)
        raise ValueError(f"Unknown layout {name!r}; choose one of {known}.") from None


def claiming_layout(patterns: list[str]) -> Layout | None:
    """The layout whose path patterns these are (the last registered that claims them)."""
    for layout in reversed(list(_LAYOUTS.values())):
        if any(layout.claims(p) for p in patterns):
            return layout
    return None
