"""Which paths are Cellucid-ready AnnData stores, and what a server says about each.

A store is Cellucid-ready when it holds ``uns['cellucid']`` with an ``id`` and a ``name``
(what :func:`cellucid.prepare` with ``format="zarr"``, ``"zarr.zip"`` or ``"h5ad"`` writes).
Only metadata and a few scalars are read here (the identity, the launch defaults, the row
counts of ``obs`` and ``var``): never ``X`` or any other large array, so a server starts in
the same time whatever the store's size.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cellucid.serving.stores.consolidate import missing_consolidated
from cellucid.sinks.anndata.record import require_dataset_id

#: name ending -> container; longest first so ``.zarr.zip`` wins over ``.zarr``.
ENDINGS = ((".zarr.zip", "zarr.zip"), (".zarr", "zarr"), (".h5ad", "h5ad"))
ROUTE_PREFIX = "_cellucid/anndata/"
ZARR_ROOTS = (".zgroup", "zarr.json")


class StoreNotReady(ValueError):
    """The path is not a Cellucid-ready store; the message says why and what to do."""


@dataclass(frozen=True)
class ServedStore:
    """One Cellucid-ready store as the server publishes it.

    Attributes
    ----------
    path
        The store on disk (resolved): a ``.zarr`` folder, a ``.zarr.zip`` or an ``.h5ad``.
    container
        ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``.
    id, name
        The dataset's id and name (``uns['cellucid']``; the id made unique among the
        stores of one folder).
    n_cells, n_genes
        The rows of ``obs`` and ``var``.
    zarr_format
        2 or 3 for a Zarr store, None for an ``.h5ad``.
    store_defaults
        The store's own ``uns['cellucid']['defaults']`` (the viewer reads them from the store
        itself; they are not repeated in ``/_cellucid/datasets``).
    defaults
        The launch defaults published in ``/_cellucid/datasets`` (the caller's choices, in
        the web app's keys; empty for a store served as it is).
    """

    path: Path
    container: str
    id: str
    name: str
    n_cells: int
    n_genes: int
    zarr_format: int | None = None
    store_defaults: dict[str, Any] = field(default_factory=dict, compare=False)
    defaults: dict[str, Any] = field(default_factory=dict, compare=False)
    #: (store key, bytes) answered for a ``.zarr`` folder's missing consolidated metadata.
    generated: tuple[str, bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """The input format id the web app reads it as: ``"h5ad"`` or ``"zarr"``."""
        return "h5ad" if self.container == "h5ad" else "zarr"

    @property
    def layout(self) -> str:
        """``"file"`` (an .h5ad), ``"zip"`` (a .zarr.zip) or ``"folder"`` (a .zarr)."""
        return {"h5ad": "file", "zarr.zip": "zip", "zarr": "folder"}[self.container]

    @property
    def route(self) -> str:
        """The route's last segment: the id with the container's ending (never the file's
        own name, which stays private)."""
        return f"{self.id}.{self.container}"

    @property
    def url(self) -> str:
        """The store's route relative to the server's origin (a folder's ends in ``/``)."""
        return f"{ROUTE_PREFIX}{self.route}{'/' if self.layout == 'folder' else ''}"

    def file_entry(self) -> dict[str, Any]:
        """The ``anndata.file`` entry of ``/_cellucid/datasets``."""
        entry: dict[str, Any] = {"url": self.url, "kind": self.kind, "layout": self.layout}
        if self.layout != "folder":
            entry["size"] = self.path.stat().st_size
        return entry

    def as_json(self) -> dict[str, Any]:
        """The dataset's entry in ``/_cellucid/datasets``."""
        return {
            "id": self.id,
            "name": self.name,
            "anndata": {"file": self.file_entry(), "defaults": dict(self.defaults)},
        }


def container_of(path: Path) -> str | None:
    """The container a path's name ends with (case-insensitive), or a folder holding a Zarr
    root document; None otherwise."""
    lowered = path.name.lower()
    for ending, container in ENDINGS:
        if lowered.endswith(ending):
            return container
    if path.is_dir() and any((path / name).is_file() for name in ZARR_ROOTS):
        return "zarr"
    return None


def zip_store_root(archive: zipfile.ZipFile) -> str | None:
    """The folder inside a ZIP holding the Zarr root (``""`` at the top), or None."""
    roots = [
        PurePosixPath(name).parent
        for name in archive.namelist()
        if PurePosixPath(name).name in (*ZARR_ROOTS, ".zmetadata")
    ]
    if not roots:
        return None
    shallowest = min(roots, key=lambda parent: (len(parent.parts), str(parent)))
    return "" if str(shallowest) == "." else str(shallowest)


@contextmanager
def _open_root(path: Path, container: str) -> Iterator[Any]:
    """The store's root group (h5py or zarr), open for reading."""
    if container == "h5ad":
        import h5py

        with h5py.File(path, "r") as file:
            yield file
        return
    import zarr

    if container == "zarr":
        yield zarr.open_group(str(path), mode="r")
        return
    with zipfile.ZipFile(path) as archive:
        root = zip_store_root(archive)
    if root is None:
        raise StoreNotReady(f"{path}: the ZIP holds no Zarr store (no .zgroup or zarr.json)")
    store = zarr.storage.ZipStore(path, mode="r")
    try:
        yield zarr.open_group(store, path=root, mode="r")
    finally:
        store.close()


def _child(group: Any, key: str) -> Any:
    try:
        return group[key]
    except (KeyError, ValueError, TypeError):
        return None


def _rows(root: Any, frame: str) -> int:
    node = _child(root, frame)
    index = None if node is None else _child(node, str(node.attrs.get("_index", "_index")))
    if index is None or not getattr(index, "shape", None):
        raise StoreNotReady(f"no {frame} table with an index")
    return int(index.shape[0])


def _read_identity(root: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``uns['cellucid']``'s id, name and defaults (scalars and a small dict)."""
    from anndata.io import read_elem

    record = _child(root, "uns/cellucid")
    if record is None or not hasattr(record, "keys"):
        raise StoreNotReady("no uns['cellucid'] record")
    values = {}
    for key in ("id", "name", "defaults"):
        node = _child(record, key)
        values[key] = None if node is None else read_elem(node)
    defaults = values["defaults"] if isinstance(values["defaults"], dict) else {}
    return values["id"], values["name"], defaults


def _text(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value


def read_store(path: str | Path) -> ServedStore:
    """Read what a server publishes about one Cellucid-ready store (metadata only).

    Parameters
    ----------
    path
        A ``.zarr`` folder, a ``.zarr.zip`` or an ``.h5ad``.

    Raises
    ------
    StoreNotReady
        Naming the path and why it cannot be served as it is: not a store, unreadable, no
        ``uns['cellucid']`` or no valid ``id``/``name`` in it.
    """
    target = Path(path).expanduser()
    container = container_of(target)
    if container is None or not target.exists():
        raise StoreNotReady(
            f"{target}: not a Cellucid-ready store (a .zarr folder, .zarr.zip or .h5ad file)"
            + ("" if target.exists() else " - it does not exist")
        )
    if (container == "zarr") != target.is_dir():
        raise StoreNotReady(f"{target}: a {container} store must be a {_form(container)}")
    resolved = target.resolve()
    try:
        with _open_root(resolved, container) as root:
            identity, name, store_defaults = _read_identity(root)
            n_cells, n_genes = _rows(root, "obs"), _rows(root, "var")
            zarr_format = getattr(getattr(root, "metadata", None), "zarr_format", None)
    except StoreNotReady as error:
        raise StoreNotReady(f"{target}: {error}. {_HOW_TO_MAKE}") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise StoreNotReady(f"{target}: cannot be read as a {container} store ({error})") from error
    identity, name = _text(identity), _text(name)
    try:
        require_dataset_id(identity)
    except (TypeError, ValueError) as error:
        raise StoreNotReady(f"{target}: uns['cellucid']['id'] is not usable: {error}") from None
    if not isinstance(name, str) or not name.strip():
        raise StoreNotReady(f"{target}: uns['cellucid']['name'] is missing or empty")
    generated = None
    if container == "zarr":
        try:
            generated = missing_consolidated(resolved, zarr_format)
        except (OSError, ValueError) as error:
            raise StoreNotReady(f"{target}: {error}") from None
    return ServedStore(
        resolved,
        container,
        identity,
        name,
        n_cells,
        n_genes,
        zarr_format,
        store_defaults,
        generated=generated,
    )


def _form(container: str) -> str:
    return "folder" if container == "zarr" else "file"


_HOW_TO_MAKE = (
    "Write a Cellucid-ready store with cellucid.prepare(OUT, format='zarr', data=adata, "
    "dataset_id=..., dataset_name=...) or cellucid.prepare_anndata(adata, OUT), and check it "
    "with cellucid validate"
)
