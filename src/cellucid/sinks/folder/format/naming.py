"""File names of the export: ``safe()`` as the viewer applies it, the identity's name.

Extensions and the gzip suffix are the codecs' (:mod:`.codecs`)."""

from __future__ import annotations

import re

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")

#: the identity file at the top of every export: written last, its presence means complete
IDENTITY_NAME = "dataset_identity.json"


def safe_name(key: object) -> str:
    """Return the file-name form of a key, exactly as the viewer builds it.

    Every run of characters outside ``[A-Za-z0-9._-]`` becomes one ``_``; leading and
    trailing ``.`` and ``_`` are stripped; an empty result becomes ``"field"``.
    """
    safe = _UNSAFE_RUN.sub("_", str(key)).strip("._")
    return safe or "field"


def names_a_file(key: object) -> bool:
    """Whether ``safe()`` keeps anything of ``key`` (else the viewer refuses the key)."""
    return bool(_UNSAFE_RUN.sub("_", str(key)).strip("._"))


def find_collisions(keys: list[str]) -> list[tuple[str, str, str]]:
    """Pairs of distinct keys whose safe names are equal, as ``(first, second, safe)``."""
    seen: dict[str, str] = {}
    collisions = []
    for key in keys:
        safe = safe_name(key)
        if safe in seen and seen[safe] != key:
            collisions.append((seen[safe], key, safe))
        else:
            seen.setdefault(safe, key)
    return collisions
