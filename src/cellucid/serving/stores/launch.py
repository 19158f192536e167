"""Launch choices given when a store is served, checked against it and turned into the
``defaults`` the server publishes in ``/_cellucid/datasets``.

These are upstream 0.9.5's ``serve_anndata`` keywords. They say how the web app opens the
store, not what the store holds: the store is never rewritten for them, and a choice left
at None is not published (the app then follows the store's own
``uns['cellucid']['defaults']``, else its default rule). Only metadata is read: the names
and widths of obsm arrays, the columns of obs and var (and raw.var), the obsp and layer
names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cellucid.serving.stores.discover import _child, _open_root, container_of
from cellucid.sinks.anndata.defaults import DEFAULTS_ORDER, Stored, launch_defaults

#: upstream 0.9.5's launch keywords, in the order of its signature
LAUNCH_CHOICES = (
    "latent_key",
    "gene_id_column",
    "normalize_embeddings",
    "centroid_min_points",
    "obs_keys",
    "embedding_keys",
    "knn_key",
    "expression_source",
    "vector_field_default",
    "modality",
)
#: the order upstream 0.9.5's server lists the published defaults in: the writer's order with
#: the modality first, and the graph and the expression matrix after the embeddings
_LEADING = ("modality", "embedding1d", "embedding2d", "embedding3d", "knn", "expression")
PUBLISHED_ORDER = _LEADING + tuple(key for key in DEFAULTS_ORDER if key not in _LEADING)


@dataclass(frozen=True)
class StoreMetadata:
    """What the launch choices are checked against."""

    stored: Stored  #: obsm widths, obs and var columns
    obsp: frozenset[str]
    layers: frozenset[str]
    has_x: bool
    raw_var_columns: frozenset[str] | None  #: None when the store has no raw


def _columns(frame: Any) -> frozenset[str]:
    if frame is None:
        return frozenset()
    order = frame.attrs.get("column-order", [])
    return frozenset(str(name.decode() if isinstance(name, bytes) else name) for name in order)


def _names(group: Any) -> frozenset[str]:
    return frozenset() if group is None or not hasattr(group, "keys") else frozenset(group.keys())


def _width(node: Any) -> int | None:
    """Columns of an obsm entry: a dense array's second axis or a sparse matrix's shape."""
    shape = getattr(node, "shape", None)
    if shape is None:
        shape = node.attrs.get("shape") if hasattr(node, "attrs") else None
    return int(shape[1]) if shape is not None and len(shape) == 2 else None


def read_metadata(path: str | Path) -> StoreMetadata:
    """The metadata of the Cellucid-ready store at ``path`` that launch choices name."""
    path = Path(path)
    with _open_root(path, container_of(path) or "zarr") as root:
        obsm = _child(root, "obsm")
        widths = {}
        for key in _names(obsm):
            width = _width(obsm[key])
            if width is not None:
                widths[key] = width
        raw = _child(root, "raw")
        return StoreMetadata(
            stored=Stored(widths, _columns(_child(root, "obs")), _columns(_child(root, "var"))),
            obsp=_names(_child(root, "obsp")),
            layers=_names(_child(root, "layers")),
            has_x=_child(root, "X") is not None,
            raw_var_columns=None if raw is None else _columns(_child(raw, "var")),
        )


def _expression(source: Any, metadata: StoreMetadata) -> str:
    """``expression_source`` as the app names the matrix: ``X``, ``raw/X`` or ``layers/<n>``."""
    if not isinstance(source, str) or not (
        source in ("X", "raw") or (source.startswith("layer:") and len(source) > len("layer:"))
    ):
        raise ValueError(f"expression_source must be 'X', 'raw' or 'layer:<name>', got {source!r}.")
    if source == "X" and not metadata.has_x:
        raise ValueError("expression_source 'X' names X, which this store does not have.")
    if source == "raw":
        if metadata.raw_var_columns is None:
            raise ValueError("expression_source 'raw' names raw.X, which this store does not have.")
        return "raw/X"
    if source.startswith("layer:"):
        layer = source[len("layer:") :]
        if layer not in metadata.layers:
            raise ValueError(
                f"expression_source {source!r} names a layer this store does not have; "
                f"layers holds {sorted(metadata.layers)}."
            )
        return f"layers/{layer}"
    return "X"


def _knn(knn_key: Any, metadata: StoreMetadata) -> str:
    if not isinstance(knn_key, str) or not knn_key:
        raise ValueError(f"knn_key must be None or an obsp key, got {knn_key!r}.")
    if knn_key not in metadata.obsp:
        raise ValueError(
            f"knn_key names obsp[{knn_key!r}], which this store does not have; obsp holds "
            f"{sorted(metadata.obsp)}. Leave knn_key unset, or compute the graph first "
            "(sc.pp.neighbors)."
        )
    return knn_key


def _gene_id_column(column: Any, raw: bool, metadata: StoreMetadata) -> str:
    columns = metadata.raw_var_columns if raw else metadata.stored.var_columns
    axis = "raw.var" if raw else "var"
    if not isinstance(column, str) or not column:
        raise ValueError(f"gene_id_column must be None or a {axis} column, got {column!r}.")
    if column not in (columns or ()):
        raise ValueError(
            f"gene_id_column names {axis}[{column!r}], which this store does not have; "
            f"{axis} holds {sorted(columns or ())}."
        )
    return column


def _shared_defaults(choices: Mapping[str, Any], metadata: StoreMetadata) -> dict[str, Any]:
    """The choices the store writer's defaults also take, checked by the same rules."""
    arguments = {
        "embedding_defaults": choices.get("embedding_keys"),
        "latent_key": choices.get("latent_key"),
        "vector_field_default": choices.get("vector_field_default"),
        "obs_keys": choices.get("obs_keys"),
        "normalize_embeddings": choices.get("normalize_embeddings"),
        "centroid_min_points": choices.get("centroid_min_points"),
        "modality": choices.get("modality"),
    }
    try:
        found = launch_defaults(arguments, metadata.stored)
    except (TypeError, ValueError) as error:
        # the writer's rules speak of its keyword; the caller passed embedding_keys
        text = str(error).replace("embedding_defaults", "embedding_keys")
        raise type(error)(text) from None
    for slot in ("embedding1d", "embedding2d", "embedding3d"):
        if isinstance(found.get(slot), str):
            # a served store publishes each chosen slot with its columns spelled out
            found[slot] = {"key": found[slot], "columns": list(range(int(slot[-2])))}
    return found


def launch_defaults_for(path: str | Path, choices: Mapping[str, Any]) -> dict[str, Any]:
    """The ``defaults`` to publish for the store at ``path``, from the caller's choices.

    Parameters
    ----------
    path
        A Cellucid-ready ``.zarr``, ``.zarr.zip`` or ``.h5ad``.
    choices
        Keywords of :data:`LAUNCH_CHOICES` (None or absent: not chosen).

    Returns
    -------
    dict
        The web app's keys (``latentKey``, ``embedding2d``, ``knn``, ``expression``, ...)
        in upstream 0.9.5's order; empty when nothing was chosen.

    Raises
    ------
    TypeError, ValueError
        A choice of the wrong type or naming something the store does not hold (the
        message names the keyword and what the store holds).
    """
    unknown = sorted(set(choices) - set(LAUNCH_CHOICES))
    if unknown:
        raise TypeError(f"not a launch choice: {', '.join(unknown)}; choose from {LAUNCH_CHOICES}")
    if all(value is None for value in choices.values()):
        return {}
    metadata = read_metadata(path)
    found = _shared_defaults(choices, metadata)
    source = choices.get("expression_source")
    if choices.get("knn_key") is not None:
        found["knn"] = _knn(choices["knn_key"], metadata)
    if source is not None:
        found["expression"] = _expression(source, metadata)
    if choices.get("gene_id_column") is not None:
        found["geneIdColumn"] = _gene_id_column(
            choices["gene_id_column"], source == "raw", metadata
        )
    return {key: found[key] for key in PUBLISHED_ORDER if key in found}
