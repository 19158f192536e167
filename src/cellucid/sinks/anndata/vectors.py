"""Vector fields: ``{field: {"X_<basis>": array}}`` stored as ``obsm['<field>_<basis>']``.

The viewer finds a field by its key alone (scVelo's naming, read by
:func:`~.embeddings.parse_vector_field_key`), so the stored key must read back as the
same field on the same embedding; a key that would not is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .embeddings import EMBEDDING_PREFIX, cell_matrix, parse_vector_field_key
from .names import require_distinct_keys, require_element_key


def _bindings(field: object, bindings: object) -> Mapping[str, object]:
    if not isinstance(field, str) or not field:
        raise TypeError(f"vector_fields names must be non-empty strings; got {field!r}.")
    if isinstance(bindings, str | bytes) or not isinstance(bindings, Mapping) or not bindings:
        raise TypeError(
            f"vector_fields[{field!r}] must map embedding keys to arrays, for example "
            f"vector_fields={{{field!r}: {{'X_umap': vectors}}}}."
        )
    return bindings


def _field_array(
    label: str, embedding: object, values: object, matrices: Mapping[str, np.ndarray], n_cells: int
) -> np.ndarray:
    if embedding not in matrices:
        raise ValueError(f"{label}: {embedding!r} is none of the embeddings {list(matrices)}.")
    assert isinstance(embedding, str)
    if not embedding.startswith(EMBEDDING_PREFIX) or embedding == EMBEDDING_PREFIX:
        raise ValueError(
            f"{label}: the viewer binds a field to the embedding 'X_<basis>' its key "
            f"names ('velocity_umap' to 'X_umap'), so the embedding needs an 'X_<basis>' "
            f"key. Rename {embedding!r}, for example to 'X_{embedding}'."
        )
    array = cell_matrix(values, label)
    width = matrices[embedding].shape[1]
    if array.shape[1] != width:
        raise ValueError(
            f"{label} has {array.shape[1]} columns and {embedding!r} has {width}: a vector "
            "field has one component per embedding column."
        )
    if array.shape[0] != n_cells:
        raise ValueError(
            f"{label} needs one row per cell ({n_cells:,}), and has {array.shape[0]:,}."
        )
    return array


def convert_vector_fields(
    vector_fields: object, matrices: Mapping[str, np.ndarray], n_cells: int
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each field's arrays by obsm key, and the field names in the order given.

    Raises
    ------
    TypeError, ValueError
        Malformed ``vector_fields``; a field bound to an unknown or non-``X_`` embedding;
        a refused array; two fields or a field and an embedding on one key; a key that
        would read back as another field.
    """
    if vector_fields is None:
        return {}, []
    if isinstance(vector_fields, str | bytes) or not isinstance(vector_fields, Mapping):
        raise TypeError(
            "vector_fields must map each field to embedding keys and arrays, for example "
            "vector_fields={'velocity': {'X_umap': velocity_umap}}."
        )
    arrays: dict[str, np.ndarray] = {}
    origin: dict[str, tuple[str, str]] = {}
    for field, bindings in vector_fields.items():
        for embedding, values in _bindings(field, bindings).items():
            label = f"vector_fields[{field!r}][{embedding!r}]"
            array = _field_array(label, embedding, values, matrices, n_cells)
            key = f"{field}_{embedding[len(EMBEDDING_PREFIX) :]}"
            if key in arrays:
                raise ValueError(
                    f"{label} and vector_fields[{origin[key][0]!r}][{origin[key][1]!r}] would "
                    f"both be stored as obsm[{key!r}]. Rename one field."
                )
            require_element_key(key, "Vector field obsm key")
            arrays[key], origin[key] = array, (field, embedding)
    _require_readable_keys(origin, matrices)
    return arrays, list(vector_fields)


def _require_readable_keys(
    origin: Mapping[str, tuple[str, str]], matrices: Mapping[str, np.ndarray]
) -> None:
    """Each stored key must differ from the rest and read back as its own field."""
    clash = {key.casefold() for key in origin} & {key.casefold() for key in matrices}
    if clash:
        raise ValueError(
            f"A vector field would be stored as obsm[{sorted(clash)[0]!r}], the key of an "
            "embedding too. Rename the field or the embedding."
        )
    # Beyond 0.9.5, which lets 'Velocity_umap' and 'velocity_umap' through: on macOS and
    # Windows they would be one folder of a Zarr store.
    require_distinct_keys(origin, "Vector field obsm key")
    keys = {*matrices, *origin}
    for key, expected in origin.items():
        parsed = parse_vector_field_key(key, keys)
        if parsed != expected:
            field, embedding = expected
            reads = (
                "an embedding (a key starting with 'X_' is never a vector field)"
                if parsed is None
                else f"the field {parsed[0]!r} on {parsed[1]!r}"
            )
            raise ValueError(
                f"vector_fields[{field!r}][{embedding!r}] would be stored as obsm[{key!r}], "
                f"which the viewer reads as {reads}. Rename the field."
            )
