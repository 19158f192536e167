"""The JSON documents of an export, built as plain dictionaries in the spec's key order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from cellucid.sinks.folder.format.codecs import Gzip, value_codec

FORMAT = "compact_v1"


def to_json(document: Any, *, indent: int | None = None) -> str:
    """Strict JSON: a NaN or Infinity anywhere is a bug in the caller, never a token."""
    return json.dumps(document, indent=indent, allow_nan=False, ensure_ascii=False)


def obs_manifest(
    *,
    n_points: int,
    centroid_outlier_quantile: float | None,
    compression: int | None,
    patterns: dict[str, str],
    continuous_bits: int | None,
    continuous_fields: list[list[Any]],
    categorical_fields: list[list[Any]],
) -> dict[str, Any]:
    """``obs_manifest.json``: schemas plus one tuple per continuous / categorical field.

    ``patterns`` are the layout's path patterns of the values, codes and outliers files.
    """
    codec = value_codec(continuous_bits)
    ext, dtype = codec.ext, codec.dtype.name
    schemas: dict[str, Any] = {}
    if continuous_fields:
        schema: dict[str, Any] = {
            "pathPattern": patterns["values"],
            "ext": ext,
            "dtype": dtype,
            "quantized": continuous_bits is not None,
        }
        if continuous_bits is not None:
            schema["quantizationBits"] = continuous_bits
        schemas["continuous"] = schema
    if categorical_fields:
        schemas["categorical"] = {
            "codesPathPattern": patterns["codes"],
            "outlierPathPattern": patterns["outliers"],
            "outlierExt": ext,
            "outlierDtype": dtype,
            "outlierQuantized": continuous_bits is not None,
        }
    return {
        "_format": FORMAT,
        "n_points": n_points,
        "centroid_outlier_quantile": centroid_outlier_quantile,
        "latent_key": "latent_space",
        "compression": compression,
        "_obsSchemas": schemas,
        "_continuousFields": continuous_fields,
        "_categoricalFields": categorical_fields,
    }


def var_manifest(
    *,
    n_points: int,
    var_gene_id_column: str | None,
    compression: int | None,
    bits: int | None,
    pattern: str,
    fields: list[list[Any]],
) -> dict[str, Any]:
    """``var_manifest.json``: the gene schema and one tuple per exported gene."""
    codec = value_codec(bits)
    schema: dict[str, Any] = {
        "kind": "continuous",
        "pathPattern": pattern,
        "ext": codec.ext,
        "dtype": codec.dtype.name,
        "quantized": bits is not None,
    }
    if bits is not None:
        schema["quantizationBits"] = bits
    return {
        "_format": FORMAT,
        "n_points": n_points,
        "var_gene_id_column": var_gene_id_column,
        "compression": compression,
        "quantization": bits,
        "_varSchema": schema,
        "fields": fields,
    }


def connectivity_manifest(
    *,
    n_cells: int,
    n_edges: int,
    max_neighbors: int,
    index_dtype: str,
    sources_path: str,
    destinations_path: str,
    weights_path: str,
    compression: int | None,
) -> dict[str, Any]:
    """``connectivity_manifest.json`` for the edge-pair format, with float64 weights."""
    index_bytes = np.dtype(index_dtype).itemsize
    return {
        "format": "edge_pairs",
        "n_cells": n_cells,
        "n_edges": n_edges,
        "max_neighbors": max_neighbors,
        "index_bytes": index_bytes,
        "index_dtype": index_dtype,
        "sourcesPath": sources_path,
        "destinationsPath": destinations_path,
        "weightsPath": weights_path,
        "weight_dtype": "float64",
        "weight_bytes": 8,
        "compression": compression,
    }


#: the BSD viewer builds refuse a graph whose browser working set exceeds this
MAX_CONNECTIVITY_WORKING_BYTES = 512 << 20


def connectivity_working_bytes(n_cells: int, n_edges: int, index_bytes: int) -> int:
    """Bytes the strict viewer holds to load a graph (its own accounting, b343877).

    Per edge: 4-byte indices in four copies of both endpoints, float64 weights twice,
    float32 staging weights, plus the raw file indices when they are not 4 bytes wide;
    per cell: a 4-byte degree.
    """
    per_edge = 4 * 2 * 3 + 8 * 2 + 4 + (2 * index_bytes if index_bytes != 4 else 0)
    return n_edges * per_edge + n_cells * 4


def vector_fields_block(
    files_by_field: dict[str, dict[int, str]],
    label: Callable[[str], str],
    basis: Callable[[str], str | None],
) -> dict[str, Any] | None:
    """The ``vector_fields`` block of the identity file, or None when there is no field.

    ``label`` and ``basis`` give each field's label and basis (the layout decides them).
    """
    if not files_by_field:
        return None
    ids = sorted(files_by_field)
    default = "velocity_umap" if "velocity_umap" in files_by_field else ids[0]
    fields: dict[str, Any] = {}
    for field_id in ids:
        dims = sorted(files_by_field[field_id])
        entry: dict[str, Any] = {
            "label": label(field_id),
            "available_dimensions": dims,
            "default_dimension": max(dims),
            "files": {f"{d}d": files_by_field[field_id][d] for d in dims},
        }
        if basis(field_id) is not None:
            entry["basis"] = basis(field_id)
        fields[field_id] = entry
    return {"default_field": default, "fields": fields}


def dataset_identity(
    *,
    dataset_id: str,
    name: str,
    description: str,
    created_at: str,
    version: str,
    stats: dict[str, Any],
    dimensions: list[int],
    compression: int | None,
    obs_fields: list[dict[str, Any]],
    export_settings: dict[str, Any],
    source: dict[str, str],
    vector_fields: dict[str, Any] | None,
) -> dict[str, Any]:
    """``dataset_identity.json`` in the spec's key order."""
    gz = Gzip(compression).suffix
    default_dimension = 3 if 3 in dimensions else (2 if 2 in dimensions else 1)
    identity: dict[str, Any] = {
        "version": 2,
        "id": dataset_id,
        "name": name,
        "description": description,
        "created_at": created_at,
        "cellucid_data_version": version,
        "stats": stats,
        "embeddings": {
            "available_dimensions": sorted(dimensions),
            "default_dimension": default_dimension,
            "files": {f"{d}d": f"points_{d}d.bin{gz}" for d in sorted(dimensions)},
        },
        "obs_fields": obs_fields,
        "export_settings": export_settings,
    }
    if source:
        identity["source"] = source
    if vector_fields is not None:
        identity["vector_fields"] = vector_fields
    return identity
