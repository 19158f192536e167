"""File names of the export: the ``safe()`` function the viewer applies, and suffixes."""

from __future__ import annotations

import re

import numpy as np

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")

#: the identity file at the top of every export: written last, its presence means complete
IDENTITY_NAME = "dataset_identity.json"
#: file extension of each binary dtype
EXT_BY_DTYPE: dict[str, str] = {"float32": "f32", "uint8": "u8", "uint16": "u16"}


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


def gz_suffix(compression: int | None) -> str:
    """``".gz"`` when a gzip level is set, else ``""``."""
    return ".gz" if compression else ""


def value_dtype(bits: int | None) -> np.dtype:
    """The stored dtype of a continuous value for a quantization setting."""
    return np.dtype({None: "float32", 8: "uint8", 16: "uint16"}[bits])


def value_ext(bits: int | None) -> str:
    """The file extension (``f32``, ``u8``, ``u16``) of a quantization setting."""
    return EXT_BY_DTYPE[value_dtype(bits).name]


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
