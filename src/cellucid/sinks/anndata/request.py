"""From one ``prepare()`` call to a :class:`~.arguments.StoreRequest`.

``prepare()`` carries two APIs in one signature: cellucid 0.0.9's export folder
(``prepare(latent_space, obs, ..., out_dir=...)``) and upstream 0.9.5's store
(``prepare(out_path, *, format, data=..., ...)``). ``format`` chooses; the store's
``out_path`` arrives as the first positional argument (``latent_space``'s place) or by name.
"""

from __future__ import annotations

from typing import Any

from cellucid.sinks.anndata.arguments import StoreRequest

#: Keywords only a store uses.
STORE_ONLY = (
    "out_path",
    "data",
    "embeddings",
    "modalities",
    "citation_text",
    "citation_url",
    "embedding_defaults",
    "latent_key",
    "vector_field_default",
    "normalize_embeddings",
    "modality",
    "zarr_format",
)

#: Keywords only an export folder uses, with the default that means "not given".
FOLDER_ONLY = {
    "out_dir": None,
    "centroid_outlier_quantile": 0.95,
    "obs_manifest_filename": "obs_manifest.json",
    "obs_binary_dirname": "obs",
    "var_manifest_filename": "var_manifest.json",
    "var_binary_dirname": "var",
    "connectivity_manifest_filename": "connectivity_manifest.json",
    "connectivity_binary_dirname": "connectivity",
    "var_quantization": None,
    "obs_continuous_quantization": None,
    "obs_categorical_dtype": "auto",
    "compression": None,
    "source_citation": None,
    "X_umap_1d": None,
    "X_umap_2d": None,
    "X_umap_3d": None,
    "X_umap_4d": None,
    "chunk_size": None,
    "scheduler": None,
    "layout": "key",
}

#: Shared keywords whose folder default stands for upstream's ``None`` (not given).
_FOLDER_DEFAULTS = {"var_gene_id_column": "index", "centroid_min_points": 10}

#: Keywords passed to the store as they are.
_SHARED = (
    "obs",
    "var",
    "gene_expression",
    "gene_identifiers",
    "connectivities",
    "obs_keys",
    "force",
    "dataset_name",
    "dataset_description",
    "dataset_id",
    "source_name",
    "source_url",
    "vector_fields",
)


def _is_default(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return value is default
    return type(value) is type(default) and value == default


def _out_path(values: dict[str, Any]) -> Any:
    positional, named = values["latent_space"], values["out_path"]
    if positional is not None and named is not None:
        raise TypeError(
            "prepare() got out_path twice: as the first argument and as out_path=. Pass it once."
        )
    out_path = named if named is not None else positional
    if out_path is None:
        raise TypeError(
            "prepare(format=...) needs out_path, where the store goes: "
            'prepare("atlas.zarr", format="zarr", data=adata).'
        )
    return out_path


def store_request(values: dict[str, Any]) -> StoreRequest:
    """The store request of ``prepare()``'s arguments given by name (``format`` is set).

    Raises
    ------
    TypeError
        An export-folder keyword was given with ``format``, or ``out_path`` is missing.
    """
    for name, default in FOLDER_ONLY.items():
        if not _is_default(values[name], default):
            raise TypeError(
                f"{name} applies to export folders only, and format={values['format']!r} "
                f"writes a Cellucid-ready AnnData store: drop {name}, or drop format to "
                "write an export folder."
            )
    shared = {name: values[name] for name in _SHARED}
    for name, folder_default in _FOLDER_DEFAULTS.items():
        value = values[name]
        shared[name] = None if _is_default(value, folder_default) else value
    store_only = {name: values[name] for name in STORE_ONLY if name != "out_path"}
    return StoreRequest(_out_path(values), format=values["format"], **shared, **store_only)
