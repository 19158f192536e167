"""What every check shares: the open store, the sizes it established, and the findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .read import Node, Store

#: Entries of a sparse matrix (or values of a dense array) read at a time: the checks of X
#: and the graph stream through them, so memory stays bounded whatever the store's size.
BLOCK_ENTRIES = 1 << 22


@dataclass
class Context:
    """One validation: the store, ``n_cells``/``n_genes`` once known, and the lines found."""

    store: Store
    lines: list[str] = field(default_factory=list)
    n_cells: int | None = None
    n_genes: int | None = None
    #: The obs column names (from the store), once read.
    obs_columns: tuple[str, ...] = ()
    #: The var column names, once read.
    var_columns: tuple[str, ...] = ()
    #: ``{obsm key: number of columns}`` of the 2-D obsm arrays.
    obsm_widths: dict[str, int] = field(default_factory=dict)
    #: How each obs column is encoded (``categorical``, ``string-array``, ``array:b``, ...).
    obs_kinds: dict[str, str] = field(default_factory=dict)

    def add(self, element: str, problem: str, expected: str | None = None) -> None:
        """Record one violation: ``element: problem (expected ...)``."""
        where = element or "root"
        tail = f" (expected {expected})" if expected else ""
        self.lines.append(f"{where}: {problem}{tail}")

    def node(self, path: str) -> Node | None:
        """The node at ``path``, or None."""
        return self.store.node(path)

    def group(self, path: str, what: str) -> Node | None:
        """The group at ``path``; a missing node or an array there is a violation."""
        node = self.node(path)
        if node is None:
            self.add(path, "missing", what)
        elif not node.group:
            self.add(path, "is an array", what)
            return None
        return node

    def array(self, path: str, what: str) -> Node | None:
        """The array at ``path``; a missing node or a group there is a violation."""
        node = self.node(path)
        if node is None:
            self.add(path, "missing", what)
        elif node.group:
            self.add(path, "is a group", what)
            return None
        return node

    def encoding(self, node: Node, kind: str, version: str) -> bool:
        """Whether ``node`` carries ``encoding-type``/``encoding-version``; a violation if not."""
        found = (node.attrs.get("encoding-type"), node.attrs.get("encoding-version"))
        if found == (kind, version):
            return True
        shown = "no encoding" if found == (None, None) else f"encoding {found[0]!r} {found[1]!r}"
        self.add(node.path, shown, f"encoding {kind!r} {version!r}")
        return False

    def guarded(self, element: str, check: Callable[..., Any], *args: Any) -> None:
        """Run one check; a store too malformed for it to finish is one violation, not a crash."""
        try:
            check(self, *args)
        except Exception as problem:  # noqa: BLE001 - any failure of a read is a finding
            text = str(problem).splitlines()[0] if str(problem) else ""
            self.add(element, f"could not be checked ({type(problem).__name__}: {text})")


def amount(count: int, singular: str, plural: str | None = None) -> str:
    """``1 entry``, ``3,000 entries``: a count and its noun in the right number."""
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"


def number(value: object) -> str:
    """A stored value as messages print it (floats to 9 significant digits)."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.9g}"
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def ordinal_list(values: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 4 more``: a bounded list for messages."""
    shown = ", ".join(repr(value) for value in list(values)[:limit])
    extra = len(values) - limit
    return f"{shown} and {extra} more" if extra > 0 else shown
