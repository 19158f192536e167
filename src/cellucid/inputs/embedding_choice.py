"""Which obsm entries become the embeddings and vector fields of an AnnData export.

The rule, per dimension d (1, 2 or 3), strongest first:

1. ``embeddings={d: key}`` (CLI ``--embedding-<d>d KEY``): always this key.
2. A key of ``embedding_keys`` (CLI ``--embedding KEY``) whose width is d.
3. ``obsm["X_umap_<d>d"]``.
4. ``obsm["X_umap"]`` when it has d columns.

A weaker key that loses to a stronger one is named in a warning that says how to pick
it instead, except a default key (3, 4) that loses to one named for its dimension (1);
two keys of the same strength for one dimension are an error.

Vector fields are tied to the basis they were computed on: obsm ``<field>_umap`` and
``<field>_umap_<d>d`` are exported only where the d-dimensional embedding is a UMAP
(``X_umap`` or ``X_umap_<d>d``). ``vector_keys`` exports other obsm entries under a
chosen field name, e.g. ``{"velocity_tsne": "velocity_umap_2d"}`` with a tSNE in 2D.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_VECTOR_KEY = re.compile(r"^(?P<field>.+)_umap(?:_(?P<dim>[123])d)?$")
_EXPLICIT_UMAP = re.compile(r"^X_umap_(?P<dim>[123])d$")
_STRENGTH = {"explicit": 3, "requested": 2, "named": 1, "width": 0}
_HOW = {
    "explicit": "embeddings={d: ...}",
    "requested": "embedding_keys",
    "named": "its X_umap_<d>d name",
    "width": "its width",
}


@dataclass
class EmbeddingChoice:
    """The obsm key per dimension and the lines telling the user what was decided."""

    keys: dict[int, str]
    warnings: list[str] = field(default_factory=list)


def _width(x: Any) -> int:
    shape = getattr(x, "shape", None)
    return 1 if shape is None or len(shape) == 1 else int(shape[1])


def _candidates(
    obsm: Mapping[str, Any], requested: Sequence[str], explicit: Mapping[int, str]
) -> list[tuple[int, str, str]]:
    """(dimension, obsm key, how it was chosen) for every key that could be an embedding."""
    found: list[tuple[int, str, str]] = []
    for dim, key in explicit.items():
        if int(dim) not in (1, 2, 3):
            raise ValueError(f"embeddings: dimension must be 1, 2 or 3, got {dim!r}.")
        found.append((int(dim), key, "explicit"))
    for key in requested:
        found.append((_width(obsm[key]) if key in obsm else 0, key, "requested"))
    found += [(int(m["dim"]), k, "named") for k in obsm if (m := _EXPLICIT_UMAP.match(k))]
    if "X_umap" in obsm:
        found.append((_width(obsm["X_umap"]), "X_umap", "width"))
    for dim, key, how in found:
        if key not in obsm:
            raise KeyError(f"obsm has no key '{key}'. Available obsm keys: {sorted(obsm)}")
        width = _width(obsm[key])
        if width not in (1, 2, 3) or (how == "explicit" and width != dim):
            want = f"{dim}" if how == "explicit" else "1, 2 or 3"
            raise ValueError(f"obsm['{key}'] has {width} columns; the embedding needs {want}.")
    return found


def choose_embedding_keys(
    obsm: Mapping[str, Any],
    requested: Sequence[str] = (),
    explicit: Mapping[int, str] | None = None,
) -> EmbeddingChoice:
    """Apply the module's rule: one obsm key per dimension, never replaced silently.

    Raises
    ------
    KeyError
        If a named key is not in obsm.
    ValueError
        If a key has the wrong width, or two keys of the same strength compete.
    """
    choice = EmbeddingChoice({})
    by_dim: dict[int, list[tuple[str, str]]] = {}
    for dim, key, how in _candidates(obsm, requested, explicit or {}):
        if (key, how) not in by_dim.setdefault(dim, []):
            by_dim[dim].append((key, how))
    for dim, entries in sorted(by_dim.items()):
        entries.sort(key=lambda e: -_STRENGTH[e[1]])
        (key, how), losers = entries[0], [e for e in entries[1:] if e[0] != entries[0][0]]
        ties = [k for k, h in losers if h == how]
        if ties:
            raise ValueError(
                f"obsm['{key}'] and obsm['{ties[0]}'] both give the {dim}D embedding; choose "
                f"one with embeddings={{{dim}: '{key}'}}."
            )
        choice.keys[dim] = key
        for other, other_how in losers:
            if how == "explicit" and other_how in ("named", "width"):
                continue  # the caller named this dimension's key: the default is no news
            choice.warnings.append(
                f"{dim}D embedding: obsm['{key}'] (by {_HOW[how]}) is used, not "
                f"obsm['{other}']; to use that one instead pass embeddings={{{dim}: '{other}'}}."
            )
    return choice


def is_umap(key: str) -> bool:
    """Whether an embedding's obsm key names a UMAP."""
    return key == "X_umap" or bool(_EXPLICIT_UMAP.match(key))


def choose_vector_fields(
    obsm: Mapping[str, Any],
    embeddings: Mapping[int, str],
    vector_keys: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Vector fields to export (by field name) and the lines naming the skipped ones."""
    chosen: dict[str, Any] = {}
    skipped: list[str] = []
    for key, name in (vector_keys or {}).items():
        if key not in obsm:
            raise KeyError(f"obsm has no key '{key}'. Available obsm keys: {sorted(obsm)}")
        if name in chosen:
            first = next(k for k, n in vector_keys.items() if n == name)
            raise ValueError(
                f"vector_keys maps obsm['{first}'] and obsm['{key}'] to the same field "
                f"'{name}': one would silently replace the other. Give each its own name."
            )
        chosen[name] = obsm[key]
    mapped = set(vector_keys or {})
    for key in sorted(obsm):
        match = _VECTOR_KEY.match(key)
        if key.startswith("X_") or match is None or key in mapped:
            continue
        dim = int(match["dim"]) if match["dim"] else _width(obsm[key])
        basis = embeddings.get(dim)
        if basis is not None and is_umap(basis):
            if key in chosen:
                raise ValueError(
                    f"vector_keys names a field '{key}', and obsm['{key}'] is exported under "
                    "that name too: one would silently replace the other. Give the mapped "
                    "field another name."
                )
            chosen[key] = obsm[key]
            continue
        if basis is None:
            skipped.append(f"vector field obsm['{key}'] is not exported: no {dim}D embedding.")
            continue
        skipped.append(
            f"vector field obsm['{key}'] is not exported: it was computed on a UMAP but the "
            f"{dim}D embedding is obsm['{basis}']; to draw it there anyway pass "
            f"vector_keys={{'{key}': '{match['field']}_umap_{dim}d'}}."
        )
    _refuse_two_spellings(chosen, vector_keys or {})
    return chosen, skipped


def _refuse_two_spellings(chosen: Mapping[str, Any], vector_keys: Mapping[str, str]) -> None:
    """``velocity_umap`` and ``velocity_umap_2d`` are one 2D field: refuse exporting both.

    The export takes a name without ``_<d>d`` as the field of its width, so one of the two
    would silently replace the other.
    """
    origin = {name: key for key, name in vector_keys.items()}
    seen: dict[tuple[str, int], str] = {}
    for name, values in chosen.items():
        match = re.match(r"^(?P<field>.+)_(?P<dim>[123])d$", name)
        field_id, dim = (match["field"], int(match["dim"])) if match else (name, _width(values))
        key = origin.get(name, name)
        other = seen.setdefault((field_id, dim), key)
        if other != key:
            raise ValueError(
                f"obsm['{other}'] and obsm['{key}'] are both the {dim}D vector field "
                f"'{field_id}' (a name without _{dim}d is the field of its width): one would "
                "silently replace the other. Remove or rename one of them in obsm "
                f"(e.g. del adata.obsm['{other}'])."
            )
