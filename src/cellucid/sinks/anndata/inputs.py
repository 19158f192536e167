"""What ``data=`` lends ``prepare()``: an AnnData (in memory or backed), or a store path.

An AnnData fills the components an explicit argument does not: ``obs``; ``X`` as
``gene_expression`` with ``var`` (neither when X is absent); its numeric obsm arrays as
embeddings and vector fields (:func:`~.embeddings.split_obsm`);
``obsp['connectivities']``; and the identity and launch defaults of ``uns['cellucid']``.
Layers, ``raw``, varm and the other obsp matrices are not written.

A path to an ``.h5ad``, a ``.zarr`` folder or a ``.zarr.zip`` is opened lazily: obs,
var, obsm, ``obsp['connectivities']`` and ``uns['cellucid']`` are read, X stays on disk
(an HDF5 dataset or Zarr array, or anndata's backed sparse dataset), and layers and raw
are never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cellucid.checks.paths import check_anndata_root, check_inside_input, refuse_locked
from cellucid.inputs.obs_fields import in_memory_table

from .embeddings import split_obsm
from .record import record_arguments

_SPARSE_ENCODINGS = ("csr_matrix", "csc_matrix")


@dataclass(frozen=True)
class Lent:
    """The components ``data`` lends, and the files opened to read them."""

    components: dict[str, Any]
    handles: tuple[Any, ...] = field(default=())
    #: the layers of data (never written; named when data has no X)
    layers: tuple[str, ...] = ()

    def close(self) -> None:
        """Close the files opened here."""
        for handle in self.handles:
            handle.close()


def is_anndata(value: object) -> bool:
    """Whether ``value`` is an ``anndata.AnnData`` (recognised by class)."""
    return any(
        cls.__name__ == "AnnData" and cls.__module__.split(".")[0] == "anndata"
        for cls in type(value).__mro__
    )


def _components(obs: Any, var: Any, obsm: Any, graph: Any, uns: Any, x: Any) -> dict[str, Any]:
    embeddings, fields = split_obsm(obsm)
    lent: dict[str, Any] = {"embeddings": embeddings, "obs": obs}
    if fields:
        lent["vector_fields"] = fields
    if x is not None:
        lent["gene_expression"] = x
        lent["var"] = var
    if graph is not None:
        lent["connectivities"] = graph
    lent.update(record_arguments(uns))
    return lent


def anndata_components(adata: Any) -> dict[str, Any]:
    """The components an AnnData lends (module docstring). A backed X stays on disk."""
    graph = adata.obsp["connectivities"] if "connectivities" in adata.obsp else None
    # a lazy AnnData (read_lazy) holds its tables as Dataset2D: the store writes them whole
    obs, var = in_memory_table(adata.obs), in_memory_table(adata.var)
    return _components(obs, var, adata.obsm, graph, adata.uns, adata.X)


def _stored_x(root: Any) -> Any:
    """X of an open store, unread: a backed sparse dataset, or the dense array itself."""
    if "X" not in root:
        return None
    from anndata.io import sparse_dataset

    node = root["X"]
    encoding = node.attrs.get("encoding-type")
    if encoding in _SPARSE_ENCODINGS:
        return sparse_dataset(node)
    if hasattr(node, "shape") and hasattr(node, "dtype"):
        return node
    raise ValueError(
        f"data's X is stored as {encoding!r}, which is not a matrix this writer reads."
    )


def _store_components(root: Any) -> dict[str, Any]:
    """The components an open AnnData store lends (module docstring)."""
    from anndata.io import read_elem

    def element(*path: str) -> Any:
        node = root
        for key in path:
            if key not in node:
                return None
            node = node[key]
        return read_elem(node)

    uns = element("uns", "cellucid")
    return _components(
        element("obs"),
        element("var"),
        element("obsm") or {},
        element("obsp", "connectivities"),
        {} if uns is None else {"cellucid": uns},
        _stored_x(root),
    )


def _open_store(path: Path) -> tuple[Any, tuple[Any, ...]]:
    """The root group of the store at ``path`` and the handles to close."""
    name = path.name.lower()
    if name.endswith(".h5ad"):
        import h5py

        try:
            file = h5py.File(path, "r")
        except OSError as error:
            refuse_locked(path, error)
            raise
        return file, (file,)
    import zarr

    if name.endswith(".zarr.zip"):
        store = zarr.storage.ZipStore(path, mode="r")
        return zarr.open_group(store, mode="r"), (store,)
    if name.endswith(".zarr"):
        return zarr.open_group(str(path), mode="r"), ()
    raise ValueError(
        f"data {str(path)!r} is no AnnData store path: it must end in .h5ad, .zarr or .zarr.zip."
    )


def _lend_legacy(path: Path) -> Lent:
    """A store older than anndata 0.8's encoding (no ``encoding-type`` on its root: obs
    and obsm as compound arrays, categories in uns, ...), read by anndata itself: backed
    for an ``.h5ad`` (X stays on disk), whole for a Zarr folder."""
    import anndata

    if path.name.lower().endswith(".h5ad"):
        adata = anndata.read_h5ad(path, backed="r")
        return Lent(anndata_components(adata), (adata.file,))
    return Lent(anndata_components(anndata.read_zarr(path)))


def lend(data: object) -> Lent:
    """The components ``data`` lends.

    Raises
    ------
    TypeError
        ``data`` is neither an AnnData nor a path.
    FileNotFoundError
        The path does not exist.
    ValueError
        An unknown store suffix, or an X this writer cannot read.
    """
    if data is None:
        return Lent({})
    if is_anndata(data):
        if getattr(data, "isbacked", False):
            check_inside_input(Path(data.filename), "h5")
        return Lent(anndata_components(data), layers=tuple(map(str, data.layers)))
    if not isinstance(data, str | os.PathLike):
        raise TypeError(
            f"data must be an anndata.AnnData or the path of an .h5ad, .zarr or .zarr.zip, "
            f"got {type(data).__name__}. Pass arrays and data frames as embeddings=, obs=, "
            "gene_expression= and the rest."
        )
    path = Path(data).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data {str(data)!r} does not exist.")
    root, handles = _open_store(path)
    try:
        kind = "zarr" if path.is_dir() or path.name.lower().endswith(".zip") else "h5"
        if path.name.lower().endswith((".h5ad", ".zarr")):
            check_inside_input(path, kind, root)
        check_anndata_root(root, path, kind)  # no obs or var: not an AnnData
    except BaseException:
        for handle in handles:
            handle.close()
        raise
    if "encoding-type" not in root.attrs and not path.name.lower().endswith(".zip"):
        for handle in handles:
            handle.close()
        return _lend_legacy(path)
    try:
        layers = tuple(map(str, root["layers"].keys())) if "layers" in root else ()
        return Lent(_store_components(root), handles, layers)
    except BaseException:
        for handle in handles:
            handle.close()
        raise
