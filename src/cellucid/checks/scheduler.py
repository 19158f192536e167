"""``scheduler="processes"`` needs inputs that can travel to other processes.

The process scheduler pickles every task with the data it reads; an open HDF5 handle (an
h5py dataset, the X of a backed AnnData) cannot be pickled, and the run would stop at the
first such task, after some files were written. Found in the checked inputs' task graphs
and refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dask.array as da

from cellucid.checks.checked import CheckedInputs
from cellucid.report import on_cli


def _arrays(inputs: CheckedInputs) -> Iterator[tuple[str, da.Array]]:
    yield from ((f"X_umap_{d}d", x) for d, x in inputs.embeddings.items())
    if inputs.latent is not None:
        yield "latent_space", inputs.latent
    if inputs.matrix is not None:
        yield "gene_expression", inputs.matrix
    if inputs.connectivities is not None:
        yield "connectivities", inputs.connectivities
    for field_id, dims in inputs.vectors.items():
        yield from ((f"vector_fields[{field_id!r}]", x) for x in dims.values())


def _holds_file_handle(value: Any) -> bool:
    """An h5py object, or anndata's backed dataset on one (possibly wrapped by dask)."""
    value = getattr(value, "value", value)  # dask's DataNode wraps the array it holds
    module = type(value).__module__
    if module.startswith("h5py"):
        return True
    return module.startswith("anndata") and type(
        getattr(value, "group", None)
    ).__module__.startswith("h5py")


def refuse_handles_for_processes(scheduler: str | None, inputs: CheckedInputs) -> None:
    """Refuse ``scheduler="processes"`` with an input read through an open HDF5 file.

    Raises
    ------
    ValueError
        Naming the input and the fixes.
    """
    if scheduler != "processes":
        return
    for label, array in _arrays(inputs):
        if any(_holds_file_handle(v) for v in dict(array.__dask_graph__()).values()):
            spelled = "--scheduler processes" if on_cli() else "scheduler='processes'"
            raise ValueError(
                f"{spelled} sends every task to another process, and {label} is read "
                "through an open HDF5 file (an h5py dataset, or the X of a backed AnnData), "
                "which cannot be sent there. Use the threads scheduler (the default), or "
                "export the file by its path, prepare_anndata('atlas.h5ad', ...), which "
                "opens it in each process."
            )
