"""The launch defaults of ``uns['cellucid']['defaults']``, checked against what is stored.

Each default is written only when given, and names something the store holds: an obsm
key (of a fitting width), an obs or var column, a vector field drawn on an embedding the
viewer shows. The keys are the web app's and follow :data:`DEFAULTS_ORDER`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .display import SLOTS, drawn_fields, shown_embeddings

#: The order ``defaults`` lists its keys in.
DEFAULTS_ORDER = (
    "embedding1d",
    "embedding2d",
    "embedding3d",
    "modality",
    "geneIdColumn",
    "latentKey",
    "vectorFieldDefault",
    "obsKeys",
    "normalizeEmbeddings",
    "centroidMinPoints",
)


@dataclass(frozen=True)
class Stored:
    """What the defaults are checked against: obsm widths, obs and var column names."""

    obsm: Mapping[str, int]
    obs_columns: frozenset[str]
    var_columns: frozenset[str]


def _optional_name(value: object, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be None or a non-blank string, got {value!r}.")
    return value


def _slot_spec(slot: object, spec: object) -> tuple[str, list[Any] | None]:
    label = f"embedding_defaults[{slot!r}]"
    if slot not in SLOTS:
        raise ValueError(f"embedding_defaults keys must be '1d', '2d' or '3d', got {slot!r}.")
    if isinstance(spec, str):
        key, columns = spec, None
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        if isinstance(spec[1], str | bytes) or not isinstance(spec[1], Sequence):
            raise TypeError(f"{label}: the columns must be a sequence of integers.")
        key, columns = spec[0], list(spec[1])
    else:
        raise TypeError(
            f"{label} must be an obsm key or a (key, columns) tuple, such as 'X_tsne' "
            "or ('X_pca', [0, 1])."
        )
    if not key:
        raise ValueError(f"{label} must name an obsm key, and names ''.")
    return key, columns


def _columns(label: str, columns: list[Any] | None, dimension: int, width: int) -> list[int]:
    """The 0-based columns a slot reads, checked against the array's width."""
    if width < dimension:
        raise ValueError(
            f"{label}: a {dimension}D embedding needs {dimension} columns, the array has {width}."
        )
    chosen = list(range(dimension)) if columns is None else columns
    if len(chosen) != dimension:
        raise ValueError(
            f"{label}: a {dimension}D embedding reads {dimension} columns, got {len(chosen)}."
        )
    for column in chosen:
        if type(column) is not int:
            raise ValueError(f"{label}: column {column!r} must be a Python int.")
        if not 0 <= column < width:
            raise ValueError(
                f"{label}: there is no column {column}; the array has 0 to {width - 1}."
            )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"{label}: each axis needs a different column, got {chosen}.")
    return chosen


def _obsm_width(stored: Stored, key: str, label: str) -> int:
    if key not in stored.obsm:
        raise ValueError(
            f"{label} names obsm[{key!r}], which is not stored; obsm holds {sorted(stored.obsm)}."
        )
    return stored.obsm[key]


def _embedding_defaults(value: object, stored: Stored) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes) or not isinstance(value, Mapping):
        raise TypeError(
            "embedding_defaults must map '1d', '2d' or '3d' to an obsm key or a "
            "(key, columns) tuple, for example {'2d': 'X_tsne'}."
        )
    chosen: dict[str, Any] = {}
    for slot, spec in value.items():
        key, columns = _slot_spec(slot, spec)
        label = f"embedding_defaults[{slot!r}]"
        resolved = _columns(
            f"{label} (obsm[{key!r}])", columns, int(slot[0]), _obsm_width(stored, key, label)
        )
        # A key alone is stored as the key: the viewer reads its first columns.
        chosen[f"embedding{slot}"] = (
            key if isinstance(spec, str) else {"key": key, "columns": resolved}
        )
    return chosen


def _vector_field_default(field: str, chosen: Mapping[str, Any], stored: Stored) -> None:
    """The field must be declared and drawn on an embedding shown as the store opens."""
    named = {
        slot[len("embedding") :]: value if isinstance(value, str) else value["key"]
        for slot, value in chosen.items()
        if slot.startswith("embedding")
    }
    shown = shown_embeddings(stored.obsm, named, chosen.get("latentKey"))
    declared = drawn_fields(stored.obsm, shown)
    if field not in declared:
        raise ValueError(
            f"vector_field_default names the field {field!r}, which no obsm key declares "
            f"('<field>_<basis>' as wide as 'X_<basis>'); declared: {sorted(declared)}."
        )
    if not declared[field]:
        drawn = sorted(name for name, on in declared.items() if on)
        raise ValueError(
            f"vector_field_default names the field {field!r}, and none of its embeddings "
            "is shown when the store opens, so it would not be drawn. Show one with "
            f"embedding_defaults, or choose a field that is drawn: {drawn}."
        )


def _obs_keys(value: object, stored: Stored) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError("obs_keys must be None or a sequence of obs column names.")
    names = list(value)
    if not names:
        raise ValueError("obs_keys must name at least one obs column (or be None).")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"obs_keys must hold non-empty strings, and holds {name!r}.")
        if name not in stored.obs_columns:
            raise ValueError(
                f"obs_keys names obs[{name!r}], which is not stored; obs holds "
                f"{sorted(stored.obs_columns)}."
            )
    if len(set(names)) != len(names):
        raise ValueError("obs_keys names a column more than once.")
    return names


def _flag(value: object, label: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{label} must be exactly True or False, got {value!r}.")
    return value


def _count(value: object, label: str) -> int:
    if type(value) is not int:
        raise TypeError(f"{label} must be a Python int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{label} must be 1 or more, got {value}.")
    return value


def launch_defaults(arguments: Mapping[str, Any], stored: Stored) -> dict[str, Any]:
    """The ``defaults`` document, in :data:`DEFAULTS_ORDER`; empty when none is given.

    Parameters
    ----------
    arguments
        The ``prepare()`` arguments by name (``embedding_defaults``, ``latent_key``,
        ``var_gene_id_column``, ``vector_field_default``, ``obs_keys``,
        ``normalize_embeddings``, ``centroid_min_points``, ``modality``).
    stored
        What the store holds.

    Raises
    ------
    TypeError, ValueError
        A default of the wrong type or naming something the store does not hold.
    """
    modality = _optional_name(arguments.get("modality"), "modality")
    if modality is not None:
        raise ValueError(
            f"modality names {modality!r}, and an AnnData has one feature space: modality "
            "chooses among a MuData's modalities. Leave modality unset."
        )
    chosen = _embedding_defaults(arguments.get("embedding_defaults"), stored)
    column = _optional_name(arguments.get("var_gene_id_column"), "var_gene_id_column")
    if column is not None:
        if column not in stored.var_columns:
            raise ValueError(
                f"var_gene_id_column names var[{column!r}], which is not stored; var holds "
                f"{sorted(stored.var_columns)}."
            )
        chosen["geneIdColumn"] = column
    latent = _optional_name(arguments.get("latent_key"), "latent_key")
    if latent is not None:
        _obsm_width(stored, latent, "latent_key")
        chosen["latentKey"] = latent
    field = _optional_name(arguments.get("vector_field_default"), "vector_field_default")
    if field is not None:
        _vector_field_default(field, chosen, stored)
        chosen["vectorFieldDefault"] = field
    if arguments.get("obs_keys") is not None:
        chosen["obsKeys"] = _obs_keys(arguments["obs_keys"], stored)
    if arguments.get("normalize_embeddings") is not None:
        chosen["normalizeEmbeddings"] = _flag(
            arguments["normalize_embeddings"], "normalize_embeddings"
        )
    if arguments.get("centroid_min_points") is not None:
        chosen["centroidMinPoints"] = _count(
            arguments["centroid_min_points"], "centroid_min_points"
        )
    return {key: chosen[key] for key in DEFAULTS_ORDER if key in chosen}
