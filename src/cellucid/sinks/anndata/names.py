"""Names that become paths in a store, and names made unique the way anndata makes them.

Every obs or var column and every obsm key is a folder in a Zarr store (or an entry of a
``.zarr.zip`` someone may unpack), so it must be a path component every platform accepts;
names side by side must differ by more than letter case, since macOS and Windows fold case.
Cell and gene names are made unique with anndata's ``make_index_unique`` rule.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The metadata documents of a Zarr store (formats 2 and 3), which no element may shadow.
ZARR_METADATA_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})

# Path separators, characters some file system refuses, and control characters.
_UNPORTABLE = re.compile(r'[/\\<>:"|?*\x00-\x1f]')

#: Names Windows keeps for devices, whatever extension follows them.
WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{digit}" for digit in range(1, 10)]
    + [f"LPT{digit}" for digit in range(1, 10)]
)


def require_element_key(key: object, what: str) -> str:
    """Check one name that becomes a path component of the store.

    Parameters
    ----------
    key
        The name: an obs or var column, an obsm key.
    what
        How the message calls it, for example ``"obs column"``.

    Returns
    -------
    str
        ``key``, unchanged.

    Raises
    ------
    TypeError
        ``key`` is not a non-empty string.
    ValueError
        ``key`` is not a portable path component.
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"{what} names must be non-empty strings; got {key!r}.")
    problem = _path_problem(key)
    if problem is not None:
        raise ValueError(
            f"{what} {key!r} {problem}. It becomes a folder or file name in the store, "
            "so rename it."
        )
    return key


def _path_problem(key: str) -> str | None:
    """Why ``key`` is no portable path component, or None."""
    if _UNPORTABLE.search(key):
        return (
            'contains a character some platform forbids in file names (/ \\ < > : " | ? * '
            "or a control character)"
        )
    if key in (".", "..") or key in ZARR_METADATA_NAMES:
        return "is a name the Zarr store layout keeps for itself"
    if key[-1] in " .":
        return "ends with a space or a dot, which Windows strips from file names"
    if key.split(".", 1)[0].upper() in WINDOWS_DEVICE_NAMES:
        return "is a device name on Windows"
    return None


def require_distinct_keys(keys: Iterable[str], what: str) -> None:
    """Refuse two names of one group that are equal, or equal but for letter case.

    Raises
    ------
    ValueError
        Two names fold to the same text (``Sex`` and ``sex`` are one folder on macOS
        and Windows).
    """
    first_of: dict[str, str] = {}
    for key in keys:
        folded = key.casefold()
        if folded not in first_of:
            first_of[folded] = key
            continue
        earlier = first_of[folded]
        if earlier == key:
            raise ValueError(
                f"{what} name {key!r} appears twice; names must be unique. Rename or drop "
                "one of them (a table: table.loc[:, ~table.columns.duplicated()])."
            )
        raise ValueError(
            f"{what} names {earlier!r} and {key!r} differ only in letter case; on macOS "
            "and Windows they would be one folder of the store. Rename one of them."
        )


@dataclass(frozen=True)
class UniqueNames:
    """Names made unique.

    Attributes
    ----------
    names
        The unique names, in input order.
    renamed
        ``(original, new)`` for every renamed position, in input order.
    filled
        How many missing names were taken from the index beside them.
    """

    names: list[str]
    renamed: list[tuple[str, str]]
    filled: int = 0


def is_missing_name(value: object) -> bool:
    """Whether a name is empty: None, ``""``, a float NaN, pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def make_unique(
    names: Sequence[object], *, index: Sequence[object] | None = None, join: str = "-"
) -> UniqueNames:
    """Make names unique with anndata's ``make_index_unique`` rule.

    A missing name first takes the ``index`` name at its position (which must be
    non-empty text). Then the first occurrence of a name keeps it, and each later one
    becomes ``name-k`` for the next ``k`` of that name whose result is no name already
    present or produced (``c0 -> c0-1``; ``c5 -> c5-2`` when ``c5-1`` exists).

    Raises
    ------
    ValueError
        A missing name has no text index name to take, or a name is not text.
    """
    texts: list[str] = []
    filled = 0
    for position, value in enumerate(names):
        if is_missing_name(value):
            replacement = None if index is None else index[position]
            if not isinstance(replacement, str) or not replacement:
                raise ValueError(
                    f"The name at position {position:,} is empty, and there is no text "
                    f"index name to use instead (got {replacement!r})."
                )
            texts.append(replacement)
            filled += 1
        elif isinstance(value, str):
            texts.append(value)
        else:
            raise ValueError(
                f"The name at position {position:,} is a {type(value).__name__}, not text."
            )
    return _deduplicated(texts, join, filled)


def _deduplicated(texts: list[str], join: str, filled: int) -> UniqueNames:
    present = set(texts)
    kept: set[str] = set()
    suffix: dict[str, int] = {}
    result: list[str] = []
    renamed: list[tuple[str, str]] = []
    for text in texts:
        if text not in kept:
            kept.add(text)
            result.append(text)
            continue
        number = suffix.get(text, 0) + 1
        while f"{text}{join}{number}" in present:
            number += 1
        suffix[text] = number
        new = f"{text}{join}{number}"
        present.add(new)
        result.append(new)
        renamed.append((text, new))
    return UniqueNames(names=result, renamed=renamed, filled=filled)


def unique_names_note(names: UniqueNames, *, source: str | None = None) -> str | None:
    """One line saying what making names unique changed, or None when nothing changed.

    ``source`` is the var column the names came from (names it lacked came from the
    var index).
    """
    parts: list[str] = []
    if names.filled:
        count = names.filled
        parts.append(
            f"{count:,} gene{'' if count == 1 else 's'} "
            f"{'has' if count == 1 else 'have'} no '{source}' value and "
            f"{'uses its' if count == 1 else 'use their'} var index name."
        )
    if names.renamed:
        count = len(names.renamed)
        before, after = names.renamed[0]
        parts.append(
            f"{count:,} duplicate name{' was' if count == 1 else 's were'} made unique, "
            f"e.g. '{before}' → '{after}'."
        )
    return " ".join(parts) or None


def gene_name_text(value: object) -> str | None:
    """The text a gene-name value stands for, or None when it is missing.

    Text is itself; a boolean is ``True``/``False``; an integer its decimal digits;
    another real number ``str(float(value))``. The web app reads a var column the same way.

    Raises
    ------
    ValueError
        The value is neither text nor a number.
    """
    if is_missing_name(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else str(number)
    raise ValueError(f"a gene name must be text or a number, not {type(value).__name__}")
