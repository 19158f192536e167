"""obs and var tables of an ``.h5ad`` file read with h5py alone, without importing anndata.

anndata's reader imports anndata, and with it zarr and xarray (about half a second of
every export's start-up). The tables of files written by anndata 0.8 and later use a few
encodings only; :func:`read_h5_frame` reads those into the same DataFrame as
``anndata.io.read_elem``, and returns None for anything else (older dataframe versions,
nullable strings, unknown encodings), which the caller then reads with anndata.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: the encodings (with their versions) read here
_ARRAY = ("array", "0.2.0")
_STRINGS = ("string-array", "0.2.0")
_CATEGORICAL = ("categorical", "0.2.0")
_NULLABLE = {
    ("nullable-integer", "0.1.0"): pd.arrays.IntegerArray,
    ("nullable-boolean", "0.1.0"): pd.arrays.BooleanArray,
}


class _NotOurs(Exception):
    """An element encoded in a way this module does not read."""


def _attr(node: Any, name: str) -> Any:
    value = node.attrs.get(name)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _encoding(node: Any) -> tuple[Any, Any]:
    return _attr(node, "encoding-type"), _attr(node, "encoding-version")


def _is_dataset(node: Any) -> bool:
    return not hasattr(node, "keys")


def _values(node: Any) -> np.ndarray:
    """An ``array`` or ``string-array`` dataset, as anndata reads it."""
    if not _is_dataset(node):
        raise _NotOurs
    encoding = _encoding(node)
    if encoding == _STRINGS:
        return node.asstr()[()]
    if encoding == _ARRAY and node.dtype.kind in "biuf":
        return node[()]
    raise _NotOurs


def _column(node: Any) -> Any:
    if _is_dataset(node):
        return _values(node)
    encoding = _encoding(node)
    if encoding == _CATEGORICAL:
        return pd.Categorical.from_codes(
            codes=_values(node["codes"]),
            categories=_values(node["categories"]),
            ordered=bool(_attr(node, "ordered")),
        )
    if encoding in _NULLABLE:
        return _NULLABLE[encoding](_values(node["values"]), mask=_values(node["mask"]))
    raise _NotOurs


def read_h5_frame(node: Any) -> pd.DataFrame | None:
    """The table stored in an h5py group (``obs``, ``var``, an ``obsm`` table), or None.

    Parameters
    ----------
    node
        An h5py group with ``encoding-type`` ``dataframe`` (version 0.2.0).

    Returns
    -------
    pandas.DataFrame or None
        As ``anndata.io.read_elem`` reads it; None when an element is encoded in a way
        not read here (read it with anndata then).
    """
    if _is_dataset(node) or _encoding(node) != ("dataframe", "0.2.0"):
        return None
    order = _attr(node, "column-order")
    columns = [str(c) for c in np.atleast_1d(order)] if order is not None else []
    index_key = _attr(node, "_index")
    if not isinstance(index_key, str) or index_key not in node:
        return None
    try:
        frame = pd.DataFrame(
            {name: _column(node[name]) for name in columns},
            index=_values(node[index_key]),
            columns=columns or None,
        )
    except (_NotOurs, KeyError):
        return None
    if index_key != "_index":
        frame.index.name = index_key
    return frame
