"""Inputs that cannot be read as they are, refused by name before anything is read.

Both outputs ask here first, so a dask array of unknown chunk sizes or an h5py dataset
whose file was closed gets a sentence naming the parameter and the fix rather than a
NaN-to-integer or HDF5 identifier message from deep inside.
"""

from __future__ import annotations

import math
from typing import Any

from cellucid.inputs.loaded import is_loaded_instance


def _is_dask_array(x: Any) -> bool:
    return is_loaded_instance(x, "dask.array", "Array")


def _is_h5py_object(x: Any) -> bool:
    return is_loaded_instance(x, "h5py", "HLObject")


def _backed_group(x: Any) -> Any:
    """The HDF5 or Zarr group behind anndata's backed sparse dataset, else None."""
    if not type(x).__module__.startswith("anndata"):
        return None
    return getattr(x, "group", None)


def closed_h5py(x: Any) -> bool:
    """Whether ``x`` is an h5py object (or anndata's backed dataset on one) of a closed file."""
    group = _backed_group(x)
    target = group if group is not None else x
    return _is_h5py_object(target) and not target.id.valid


def refuse_unreadable(x: Any, label: str) -> None:
    """Refuse an input that cannot be read as given, naming ``label`` and the fix.

    Raises
    ------
    ValueError
        A dask array with unknown chunk sizes, or an h5py dataset (or a backed AnnData's
        matrix) whose file is closed.
    """
    if _is_dask_array(x) and any(math.isnan(extent) for extent in x.shape):
        raise ValueError(
            f"{label} is a dask array with unknown chunk sizes (shape {x.shape}), as boolean "
            "indexing or a dask DataFrame leaves them: call .compute_chunk_sizes() on it "
            "first (or ddf.to_dask_array(lengths=True) for a dask DataFrame)."
        )
    refuse_closed_file(x, label)


def refuse_closed_file(x: Any, label: str) -> None:
    """Refuse an h5py dataset (or a backed AnnData's matrix) whose file is closed.

    For inputs read whole into memory, where a dask array of unknown chunk sizes is fine.

    Raises
    ------
    ValueError
        Naming ``label`` and the fix.
    """
    if closed_h5py(x):
        raise ValueError(
            f"{label} is an h5py dataset of a closed file (the end of a `with h5py.File(...)` "
            "block, file.close() or a backed AnnData's file.close()), so it cannot be read: "
            "pass it while its file is open, or read it into memory first (dataset[:])."
        )
