"""The parts of AnnData files written before anndata 0.7 that need their own reading.

Such files carry no ``encoding-type`` attributes. obs and var are compound (structured)
datasets whose first field is the index, categorical columns hold integer codes with their
categories in ``uns/<column>_categories``, obsm may be one structured dataset with a field
per key, sparse matrices are groups marked ``h5sparse_format`` (handled by
:mod:`cellucid.inputs.store_arrays`), and the KNN graph lives in ``uns/neighbors``. Only
per-cell and per-gene tables are read here, with the same results as
``anndata.read_h5ad``; X and layers stay lazy readers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cellucid.inputs.store_arrays import sparse_format

LEGACY_NOTE = (
    "Reading obs/var directly (old encoding, written by anndata <0.7); "
    "X and layers are still streamed"
)
_GRAPH_KEYS = ("distances", "connectivities")


def is_group(node: Any) -> bool:
    """True for an HDF5 or Zarr group, False for an array."""
    return hasattr(node, "keys")


def is_legacy(root: Any) -> bool:
    """True when obs is stored as a structured array (anndata <0.7)."""
    return "obs" in root and not is_group(root["obs"])


def _text(values: np.ndarray) -> np.ndarray:
    """Fixed-length or variable-length bytes as str; other values unchanged."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    if values.dtype.kind == "O":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values])
    return values


def _field(node: Any, name: str) -> np.ndarray:
    # h5py reads a single field without the others; zarr reads the whole table
    if hasattr(node, "fields"):
        return np.asarray(node.fields(name)[()])
    return np.asarray(node[...][name])


def read_frame(node: Any) -> pd.DataFrame:
    """A structured obs/var dataset as a DataFrame indexed by its first field.

    Parameters
    ----------
    node
        An h5py dataset or Zarr array with a compound dtype.

    Returns
    -------
    pandas.DataFrame
        One column per further field, byte strings decoded as UTF-8.
    """
    names = list(node.dtype.names or ())
    if not names:
        raise ValueError(f"{node.name} is an array without named fields, not a table.")
    columns = {name: _text(_field(node, name)) for name in names}
    frame = pd.DataFrame(columns, columns=names)
    return frame.set_index(names[0])


def _categories(node: Any) -> list[Any]:
    values = _text(np.asarray(node[()]))
    return [values.item()] if values.ndim == 0 else list(values)


def apply_uns_categories(root: Any, frames: list[pd.DataFrame]) -> None:
    """Turn code columns into categoricals from ``uns/<column>_categories``.

    As anndata does, a frame takes the categories when it has the column and every code
    is below the number of categories (obs and var may share a column name).
    """
    if "uns" not in root:
        return
    uns = root["uns"]
    for key in sorted(uns.keys()):
        if not key.endswith("_categories") or is_group(uns[key]):
            continue
        column = key[: -len("_categories")]
        categories = _categories(uns[key])
        for frame in frames:
            if column not in frame:
                continue
            codes = np.asarray(frame[column].to_numpy())
            if codes.dtype.kind not in "iu" or not np.all(codes < len(categories)):
                continue
            frame[column] = pd.Categorical.from_codes(codes, categories)


def read_structured_members(node: Any) -> dict[str, np.ndarray]:
    """obsm stored as one structured dataset: one array per field (per-cell values)."""
    return {name: _field(node, name) for name in node.dtype.names or ()}


def graph_paths(root: Any) -> dict[str, str]:
    """Store paths of the KNN matrices that old files keep in ``uns/neighbors``.

    anndata moves them to obsp when it reads such a file; so does the exporter.
    """
    if "uns" not in root or "neighbors" not in root["uns"]:
        return {}
    neighbors = root["uns"]["neighbors"]
    if not is_group(neighbors):
        return {}
    found = {}
    for key in _GRAPH_KEYS:
        if key not in neighbors:
            continue
        node = neighbors[key]
        if sparse_format(node) is not None if is_group(node) else len(node.shape) == 2:
            found[key] = f"uns/neighbors/{key}"
    return found
