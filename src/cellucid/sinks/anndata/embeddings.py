"""obsm: the embeddings and the vector fields, and which embeddings the viewer shows.

Every embedding is stored whole, as float32, under its own key: a ``(n_cells,)`` vector
is one column, sparse input is densified, every value must be finite and within the
float32 range. A vector field ``<field>`` bound to the embedding ``X_<basis>`` is stored
as ``obsm['<field>_<basis>']`` (scVelo's name), one column per column of the embedding.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cellucid.inputs.readable import refuse_closed_file

from .names import require_distinct_keys, require_element_key
from .values import require_float32_range, require_real_dtype

#: AnnData's prefix of a representation: ``X_<basis>``. Such a key is never a vector field.
EMBEDDING_PREFIX = "X_"


def cell_matrix(values: object, label: str) -> np.ndarray:
    """One per-cell array as a C-ordered float32 2-D array.

    Raises
    ------
    TypeError
        The values are not real numbers.
    ValueError
        No values, not 1-D or 2-D, or a value not finite or beyond the float32 range.
    """
    if values is None:
        raise ValueError(f"{label} has no values.")
    refuse_closed_file(values, label)
    if sparse.issparse(values):
        values = values.toarray()  # type: ignore[union-attr]
    array = np.asarray(values)
    require_real_dtype(array.dtype, label)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"{label} must be a vector or a 2-D array, and its shape is {array.shape}."
        )
    require_float32_range(array, label)
    return np.ascontiguousarray(array, dtype=np.float32)


def convert_embeddings(embeddings: object) -> tuple[dict[str, np.ndarray], int]:
    """Every embedding as it is stored, and the cell count they agree on.

    Raises
    ------
    TypeError, ValueError
        ``embeddings`` is no mapping or is empty; a key is no portable name; an array
        is refused by :func:`cell_matrix`, has no columns, or its row count differs.
    """
    if isinstance(embeddings, str | bytes) or not isinstance(embeddings, Mapping):
        raise TypeError(
            "embeddings must map obsm keys to arrays, for example "
            "embeddings={'X_umap': adata.obsm['X_umap']}."
        )
    if not embeddings:
        raise ValueError("embeddings must hold at least one embedding.")
    for key in embeddings:
        require_element_key(key, "Embedding")
    require_distinct_keys(embeddings, "Embedding")
    matrices: dict[str, np.ndarray] = {}
    for key, values in embeddings.items():
        matrix = cell_matrix(values, f"Embedding {key!r}")
        if matrix.shape[1] == 0:
            raise ValueError(
                f"Embedding {key!r} has no columns: every obsm entry the store holds needs "
                "at least one value per cell. Drop it from obsm (or embeddings=) first."
            )
        if matrices:
            first, rows = next(iter(matrices)), next(iter(matrices.values())).shape[0]
            if matrix.shape[0] != rows:
                raise ValueError(
                    f"The embeddings need one row per cell, and {first!r} has {rows:,} rows "
                    f"while {key!r} has {matrix.shape[0]:,}."
                )
        matrices[key] = matrix
    n_cells = next(iter(matrices.values())).shape[0]
    if n_cells == 0:
        raise ValueError("The embeddings have no rows: there must be at least one cell.")
    return matrices, int(n_cells)


def parse_vector_field_key(key: object, obsm_keys: Collection[str]) -> tuple[str, str] | None:
    """``(field, embedding key)`` when ``key`` names a vector field, else None.

    ``<field>_<basis>`` is the field ``<field>`` on ``X_<basis>`` when that key is
    present; of the splits at an underscore (both sides non-empty), the leftmost one
    whose embedding is present wins, which is the one with the longest basis. A key
    starting with ``X_`` is never a field.
    """
    if not isinstance(key, str) or key.startswith(EMBEDDING_PREFIX):
        return None
    for split, character in enumerate(key):
        if character == "_" and 0 < split < len(key) - 1:
            embedding = EMBEDDING_PREFIX + key[split + 1 :]
            if embedding in obsm_keys:
                return key[:split], embedding
    return None


def vector_field_keys(keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The keys among ``keys`` that name vector fields, in order, with what they name."""
    listed = list(keys)
    present = frozenset(listed)
    found = {key: parse_vector_field_key(key, present) for key in listed}
    return {key: parsed for key, parsed in found.items() if parsed is not None}


def is_cell_array(value: object) -> bool:
    """Whether an obsm entry of an AnnData is numbers (1-D or 2-D, not a table, not booleans)."""
    if isinstance(value, pd.DataFrame):
        return False
    if sparse.issparse(value):
        return value.ndim == 2 and np.dtype(value.dtype).kind in "iuf"  # type: ignore[union-attr]
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is None or shape is None:
        return False
    return np.dtype(dtype).kind in "iuf" and len(shape) in (1, 2)


def _width(value: Any) -> int:
    return 1 if len(value.shape) == 1 else int(value.shape[1])


def split_obsm(obsm: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """An AnnData's obsm as embeddings and vector fields, as ``prepare(data=)`` takes it.

    Numeric arrays only; one named ``<field>_<basis>`` as wide as ``X_<basis>`` is that
    vector field (stored back under the same key), every other array an embedding.
    """
    arrays = {key: value for key, value in obsm.items() if is_cell_array(value)}
    fields: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for key, (field, embedding) in vector_field_keys(arrays).items():
        if embedding in arrays and _width(arrays[embedding]) == _width(arrays[key]):
            fields.setdefault(field, {})[embedding] = arrays[key]
            taken.add(key)
    return {key: value for key, value in arrays.items() if key not in taken}, fields
