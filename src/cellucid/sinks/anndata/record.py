"""``uns['cellucid']`` (schema 1) and ``uns['title']``: who the dataset is and how it opens.

The record holds, in this order: ``schema`` (1), ``id``, ``name``, then when given
``description``, ``citation`` (``{text, url?}``), ``source`` (``{name, url?}``),
``defaults`` (:mod:`.defaults`) and ``outlierQuantiles`` (:mod:`.outliers`).
An AnnData that already carries a record lends its identity and defaults to the
arguments not given (:func:`record_arguments`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .names import WINDOWS_DEVICE_NAMES
from .text import require_display_text, require_web_address

SCHEMA = 1

_DATASET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,179}", flags=re.ASCII)

# The record keys an AnnData's record fills, by the argument each fills.
_IDENTITY = (("id", "dataset_id"), ("name", "dataset_name"), ("description", "dataset_description"))
_LINKS = (
    ("citation", "text", "citation_text", "citation_url"),
    ("source", "name", "source_name", "source_url"),
)
_DEFAULT_ARGUMENTS = (
    ("latentKey", "latent_key"),
    ("obsKeys", "obs_keys"),
    ("geneIdColumn", "var_gene_id_column"),
    ("vectorFieldDefault", "vector_field_default"),
    ("normalizeEmbeddings", "normalize_embeddings"),
    ("centroidMinPoints", "centroid_min_points"),
    ("modality", "modality"),
)


def require_dataset_id(value: object) -> str:
    """Check ``dataset_id``: 1 to 180 ASCII letters, digits, ``.``, ``_``, ``-``.

    It starts with a letter or digit, does not end with ``.``, and is no Windows device
    name (before its first dot): sessions and annotations are stored under it.

    Raises
    ------
    TypeError
        Not a string.
    ValueError
        Not such a name.
    """
    if not isinstance(value, str):
        raise TypeError(f"dataset_id must be a string, got {type(value).__name__}.")
    if not _DATASET_ID.fullmatch(value):
        raise ValueError(
            f"dataset_id {value!r} must be 1 to 180 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if value.endswith("."):
        raise ValueError(f"dataset_id {value!r} must not end with '.'.")
    if value.split(".", 1)[0].upper() in WINDOWS_DEVICE_NAMES:
        raise ValueError(f"dataset_id {value!r} is a device name on Windows; choose another.")
    return value


def linked_text(
    text: object, url: object, *, text_label: str, url_label: str, text_key: str
) -> dict[str, str] | None:
    """``{text_key: text, "url": url}`` (url when given); None when neither is given.

    Raises
    ------
    ValueError
        An address without its text, or a refused text or address.
    """
    if text is None:
        if url is not None:
            raise ValueError(f"{url_label} needs {text_label}: pass the text the link shows.")
        return None
    linked = {text_key: require_display_text(text, text_label)}
    if url is not None:
        linked["url"] = require_web_address(url, url_label)
    return linked


def identity(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The record without defaults and quantiles, every part checked.

    Raises
    ------
    TypeError, ValueError
        A refused id, name, description, citation or source.
    """
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "id": require_dataset_id(arguments.get("dataset_id")),
        "name": require_display_text(arguments.get("dataset_name"), "dataset_name"),
    }
    description = arguments.get("dataset_description")
    if description is not None:
        record["description"] = require_display_text(
            description, "dataset_description", allow_empty=True
        )
    for key, text_key, text_label, url_label in _LINKS:
        linked = linked_text(
            arguments.get(text_label),
            arguments.get(url_label),
            text_label=text_label,
            url_label=url_label,
            text_key=text_key,
        )
        if linked is not None:
            record[key] = linked
    return record


def stored_value(value: Any) -> Any:
    """A JSON-shaped value as anndata stores it in ``uns``: a list becomes an array.

    A list of text becomes an object array, any other list an int64 array.
    """
    if isinstance(value, Mapping):
        return {key: stored_value(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return np.asarray(value, dtype=object)
        return np.asarray(value, dtype=np.int64)
    return value


def plain(value: Any) -> Any:
    """A value read from ``uns`` as plain Python: arrays become lists, NumPy scalars numbers."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _default_slots(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``embedding_defaults`` as a record's ``embedding1d`` .. ``embedding3d`` name them."""
    slots: dict[str, Any] = {}
    for slot in ("1d", "2d", "3d"):
        spec = defaults.get(f"embedding{slot}")
        if isinstance(spec, str):
            slots[slot] = spec
        elif isinstance(spec, Mapping) and isinstance(spec.get("key"), str):
            columns = spec.get("columns")
            slots[slot] = spec["key"] if columns is None else (spec["key"], list(columns))
    return slots


def record_arguments(uns: object) -> dict[str, Any]:
    """The ``prepare()`` arguments an AnnData's ``uns['cellucid']`` fills.

    Its identity, citation, source and launch defaults; its stored outlier quantiles
    are not read (they are computed again).

    Raises
    ------
    TypeError
        ``uns['cellucid']`` is not a mapping.
    """
    record = uns.get("cellucid") if isinstance(uns, Mapping) else None
    if record is None:
        return {}
    if not isinstance(record, Mapping):
        raise TypeError(
            f"data.uns['cellucid'] must be a mapping (a Cellucid record), got "
            f"{type(record).__name__}."
        )
    wanted = ("id", "name", "description", "citation", "source", "defaults")
    record = {str(key): plain(item) for key, item in record.items() if str(key) in wanted}
    filled = {argument: record[key] for key, argument in _IDENTITY if key in record}
    for key, text_key, text_argument, url_argument in _LINKS:
        linked = record.get(key)
        if isinstance(linked, Mapping):
            if text_key in linked:
                filled[text_argument] = linked[text_key]
            if "url" in linked:
                filled[url_argument] = linked["url"]
    defaults = record.get("defaults")
    if isinstance(defaults, Mapping):
        slots = _default_slots(defaults)
        if slots:
            filled["embedding_defaults"] = slots
        for key, argument in _DEFAULT_ARGUMENTS:
            if defaults.get(key) is not None:
                filled[argument] = defaults[key]
    return filled
