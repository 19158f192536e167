"""The checks of an export folder, one function per part of the format."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cellucid.sinks.folder.format.codecs import (
    VALUE_CODECS,
    Codes,
    Float32,
    Gzip,
    value_codec_of,
)
from cellucid.sinks.folder.format.manifests import (
    MAX_CONNECTIVITY_WORKING_BYTES,
    connectivity_working_bytes,
)
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.layouts import Layout
from cellucid.sinks.folder.plan.build import edge_index_dtype
from cellucid.verify.payload import PayloadError, read_values

IDENTITY_KEYS = [
    "version",
    "id",
    "name",
    "description",
    "created_at",
    "cellucid_data_version",
    "stats",
    "embeddings",
    "obs_fields",
    "export_settings",
]
OBS_KEYS = [
    "_format",
    "n_points",
    "centroid_outlier_quantile",
    "latent_key",
    "compression",
    "_obsSchemas",
    "_continuousFields",
    "_categoricalFields",
]
VAR_KEYS = [
    "_format",
    "n_points",
    "var_gene_id_column",
    "compression",
    "quantization",
    "_varSchema",
    "fields",
]
EDGE_KEYS = [
    "format",
    "n_cells",
    "n_edges",
    "max_neighbors",
    "index_bytes",
    "index_dtype",
    "sourcesPath",
    "destinationsPath",
    "weightsPath",
    "weight_dtype",
    "weight_bytes",
    "compression",
]


@dataclass
class Findings:
    """Problems found so far, and the files that were checked."""

    root: Path
    layout: Layout
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    referenced: set[Path] = field(default_factory=set)
    # what the layout's own rules look at, gathered by the shared checks
    obs_keys: list[Any] = field(default_factory=list)
    obs_indices: list[Any] = field(default_factory=list)
    gene_keys: list[Any] = field(default_factory=list)
    gene_indices: list[Any] = field(default_factory=list)
    decoded_sizes: dict[str, int] = field(default_factory=dict)

    def error(self, message: str) -> None:
        self.errors.append(message)

    def outside(self, relative: str) -> str | None:
        """Why ``relative`` is not a file inside the export folder, or None when it is.

        The rule the server applies to every request: no absolute path, no ``..``, no
        backslash or NUL, and nothing that resolves (through symlinks) outside the folder.
        """
        parts = relative.split("/")
        if relative.startswith("/") or "\\" in relative or "\x00" in relative or ".." in parts:
            return "names a path outside the export folder"
        path = self.root / relative
        base = self.root.resolve()
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as problem:
            return f"cannot be resolved ({problem})"
        if resolved == base or resolved.is_relative_to(base):
            return None
        for link in [path, *path.parents]:
            if link == self.root:
                break
            if link.is_symlink():
                name = link.relative_to(self.root).as_posix()
                return f"{name} is a symlink to {resolved}, outside the export folder"
        return f"resolves to {resolved}, outside the export folder"

    def binary(self, relative: str, dtype: str, count: int, compression: Any) -> np.ndarray | None:
        """Read a referenced binary, checking place, existence, suffix and size."""
        if not isinstance(relative, str):
            self.error(f"{relative!r}: a file path must be a string")
            return None
        outside = self.outside(relative)
        if outside is not None:
            self.error(f"{relative}: {outside} (the server refuses it)")
            return None
        path = self.root / relative
        self.referenced.add(path)
        if bool(compression) != relative.endswith(Gzip.SUFFIX):
            self.error(
                f"{relative}: compression is {compression} but the name "
                f"{'lacks' if compression else 'has'} {Gzip.SUFFIX}"
            )
        if not path.is_file():
            self.error(f"{relative}: missing (referenced by a manifest)")
            return None
        try:
            values = read_values(path, dtype, count)
            self.decoded_sizes[relative] = values.nbytes
            return values
        except PayloadError as problem:
            detail = str(problem).removeprefix(f"{path.name}: ")
            self.error(f"{relative}: {detail}")
            return None


def load_json(findings: Findings, name: str) -> dict | None:
    """A JSON document of the export, strict (no NaN or Infinity tokens)."""
    path = findings.root / name
    if not path.is_file():
        return None
    findings.referenced.add(path)

    def refuse(token: str) -> None:
        raise ValueError(f"non-strict JSON token {token}")

    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    except ValueError as problem:
        findings.error(f"{name}: invalid JSON ({problem})")
        return None


def check_key_order(
    findings: Findings, name: str, document: dict, expected: list[str], exact: bool = True
) -> None:
    """The format's keys, all of them and in its order; with ``exact`` no other key."""
    if exact:
        unknown = [k for k in document if k not in expected]
        if unknown:
            findings.error(f"{name}: keys the format does not define {unknown}")
    keys = [k for k in document if k in expected]
    missing = [k for k in expected if k not in document]
    if missing:
        findings.error(f"{name}: missing keys {missing}")
    elif keys != expected:
        findings.error(f"{name}: keys out of order: {keys}, expected {expected}")


def check_identity(findings: Findings, identity: dict) -> int | None:
    """Keys, order and embeddings; returns n_cells."""
    check_key_order(findings, IDENTITY_NAME, identity, IDENTITY_KEYS, exact=False)
    extra = set(identity) - set(IDENTITY_KEYS) - {"source", "vector_fields"}
    if extra:
        findings.error(f"{IDENTITY_NAME}: unknown keys {sorted(extra)}")
    stats = identity.get("stats", {})
    n = stats.get("n_cells")
    if not isinstance(n, int) or n < 0:
        findings.error(f"{IDENTITY_NAME}: stats.n_cells is not a count")
        return None
    embeddings = identity.get("embeddings", {})
    compression = identity.get("export_settings", {}).get("compression")
    dims = embeddings.get("available_dimensions", [])
    if not dims:
        findings.error(f"{IDENTITY_NAME}: no embedding")
    for d in dims:
        relative = embeddings.get("files", {}).get(f"{d}d")
        if relative is None:
            findings.error(f"{IDENTITY_NAME}: no file for the {d}D embedding")
            continue
        points = findings.binary(relative, Float32.dtype.name, n * d, compression)
        if points is not None and not np.isfinite(points).all():
            findings.error(f"{relative}: non-finite coordinates")
    return n


def _check_values(
    findings: Findings, relative: str, values: np.ndarray | None, dtype: str, outliers: bool = False
) -> None:
    if values is None or dtype != Float32.dtype.name:
        return
    if np.isinf(values).any():
        findings.error(f"{relative}: holds ±Inf (must be finite or NaN)")
    if outliers:
        valid = values[~np.isnan(values)]
        if ((valid <= 0) | (valid > 1)).any():
            findings.error(f"{relative}: outlier quantiles outside (0, 1]")


def check_obs(findings: Findings, manifest: dict, n: int) -> None:
    check_key_order(findings, "obs_manifest.json", manifest, OBS_KEYS)
    if manifest.get("_format") != "compact_v1":
        findings.error("obs_manifest.json: _format is not compact_v1")
    if manifest.get("n_points") != n:
        findings.error(f"obs_manifest.json: n_points {manifest.get('n_points')} != n_cells {n}")
    layout, compression = findings.layout, manifest.get("compression")
    schemas = manifest.get("_obsSchemas", {})
    if "continuous" in schemas:
        check_quantization(findings, "obs_manifest.json continuous", schemas["continuous"])
    if "categorical" in schemas:
        check_quantization(findings, "obs_manifest.json outliers", schemas["categorical"], "o")
    for kind in ("continuous", "categorical"):
        listed = bool(manifest.get(f"_{kind}Fields"))
        if listed != (kind in schemas):
            findings.error(f"obs_manifest.json: _obsSchemas.{kind} must exist iff it has fields")
    for raw in manifest.get("_continuousFields", []):
        entry = layout.read_continuous(raw)
        findings.obs_keys.append(entry.key)
        findings.obs_indices.append(entry.index)
        schema = schemas["continuous"]
        relative = layout.fill(schema["pathPattern"], entry.key, entry.index)
        values = findings.binary(relative, schema["dtype"], n, compression)
        _check_values(findings, relative, values, schema["dtype"])
    for raw in manifest.get("_categoricalFields", []):
        entry = layout.read_categorical(raw)
        check_categories(findings, entry)
        check_centroids(findings, entry, n)
        findings.obs_keys.append(entry.key)
        findings.obs_indices.append(entry.index)
        _check_categorical(findings, schemas["categorical"], entry, n, compression)


def _check_categorical(findings: Findings, schema: dict, entry: Any, n: int, compression) -> None:
    layout, dtype, marker = findings.layout, entry.codes_dtype, entry.missing
    expected = Codes("uint8" if dtype == "uint8" else "uint16")
    relative = layout.fill(schema["codesPathPattern"], entry.key, entry.index, expected.ext)
    codes = findings.binary(relative, dtype, n, compression)
    if marker != expected.missing:
        findings.error(f"obs_manifest.json: field '{entry.key}' has missing marker {marker}")
    if codes is not None:
        bad = (codes >= len(entry.categories)) & (codes != marker)
        if bad.any():
            cell = int(np.flatnonzero(bad)[0])
            findings.error(
                f"{relative}: code {int(codes[cell])} at cell {cell} is neither a "
                f"category (< {len(entry.categories)}) nor the missing marker"
            )
    relative = layout.fill(schema["outlierPathPattern"], entry.key, entry.index)
    values = findings.binary(relative, schema["outlierDtype"], n, compression)
    _check_values(findings, relative, values, schema["outlierDtype"], outliers=True)


def check_var(findings: Findings, manifest: dict, n: int) -> None:
    check_key_order(findings, "var_manifest.json", manifest, VAR_KEYS)
    if manifest.get("n_points") != n:
        findings.error(f"var_manifest.json: n_points {manifest.get('n_points')} != n_cells {n}")
    schema = manifest.get("_varSchema", {})
    check_quantization(findings, "var_manifest.json", schema)
    entries = [findings.layout.read_gene(raw) for raw in manifest.get("fields", [])]
    for entry in entries:
        if entry.lo is not None and not entry.lo < entry.hi:
            findings.error(f"var_manifest.json: gene '{entry.key}' has min >= max")
    genes = [str(e.key) for e in entries]
    findings.gene_keys += genes
    findings.gene_indices += [e.index for e in entries]
    if len(set(genes)) != len(genes):
        findings.error("var_manifest.json: duplicate gene ids")
    for entry in entries:
        relative = findings.layout.fill(schema["pathPattern"], entry.key, entry.index)
        values = findings.binary(relative, schema["dtype"], n, manifest.get("compression"))
        _check_values(findings, relative, values, schema["dtype"])


def check_connectivity(findings: Findings, manifest: dict, n: int) -> None:
    check_key_order(findings, "connectivity_manifest.json", manifest, EDGE_KEYS)
    dtype = manifest.get("index_dtype")
    expected = edge_index_dtype(n)
    if manifest.get("index_bytes") != {"uint16": 2, "uint32": 4, "uint64": 8}.get(dtype):
        findings.error(f"connectivity_manifest.json: index_bytes does not match {dtype}")
    if (manifest.get("weight_dtype"), manifest.get("weight_bytes")) != ("float64", 8):
        findings.error("connectivity_manifest.json: weights must be float64 (8 bytes)")
    if dtype != expected:
        findings.error(f"connectivity_manifest.json: index_dtype {dtype}, expected {expected}")
        return
    count = manifest.get("n_edges", 0)
    compression = manifest.get("compression")
    src = findings.binary(manifest["sourcesPath"], dtype, count, compression)
    dst = findings.binary(manifest["destinationsPath"], dtype, count, compression)
    weights = findings.binary(manifest["weightsPath"], "float64", count, compression)
    if weights is not None and not (np.isfinite(weights) & (weights > 0)).all():
        findings.error("connectivity: every edge weight must be finite and > 0")
    if src is None or dst is None:
        return
    src, dst = src.astype(np.int64), dst.astype(np.int64)
    if count and (src.max() >= n or dst.max() >= n):
        findings.error("connectivity: an edge index is not below n_cells")
    if (src >= dst).any():
        findings.error("connectivity: an edge does not have src < dst")
    keys = src * (n + 1) + dst
    if (np.diff(keys) <= 0).any():
        findings.error("connectivity: edges are not sorted by (src, dst) and unique")
    index_bytes = manifest.get("index_bytes", 4)
    if connectivity_working_bytes(n, count, index_bytes) > MAX_CONNECTIVITY_WORKING_BYTES:
        findings.error(
            f"connectivity: {count:,} edges need more than the viewer's "
            f"{MAX_CONNECTIVITY_WORKING_BYTES >> 20} MiB working set; the viewer refuses them"
        )
    degree = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    if count and manifest.get("max_neighbors") != int(degree.max()):
        findings.error(
            f"connectivity_manifest.json: max_neighbors {manifest.get('max_neighbors')}, "
            f"the edges give {int(degree.max())}"
        )


def check_vectors(findings: Findings, identity: dict, n: int) -> None:
    block = identity.get("vector_fields")
    if not block:
        return
    compression = identity.get("export_settings", {}).get("compression")
    for field_id, entry in block.get("fields", {}).items():
        for dim_key, relative in entry.get("files", {}).items():
            d = int(dim_key.rstrip("d"))
            vectors = findings.binary(relative, Float32.dtype.name, n * d, compression)
            if vectors is not None and not np.isfinite(vectors).all():
                findings.error(f"{relative}: non-finite vectors in field '{field_id}'")


def unreferenced(findings: Findings, folders: set[str]) -> None:
    for folder in sorted(folders):
        base = findings.root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and path not in findings.referenced:
                findings.warnings.append(f"{path.relative_to(findings.root)}: not referenced")


def check_obs_fields_order(findings: Findings, identity: dict, manifest: dict) -> None:
    """The identity's obs_fields follow the manifest: continuous, then categorical."""
    layout = findings.layout
    expected = [
        {"key": layout.read_continuous(e).key, "kind": "continuous"}
        for e in manifest.get("_continuousFields", [])
    ] + [
        {
            "key": (entry := layout.read_categorical(e)).key,
            "kind": "category",
            "n_categories": len(entry.categories),
        }
        for e in manifest.get("_categoricalFields", [])
    ]
    if identity.get("obs_fields") != expected:
        findings.error(
            f"{IDENTITY_NAME}: obs_fields must list the obs manifest's fields in its "
            "order (continuous, then categorical) with matching kind and n_categories"
        )


def check_quantization(findings: Findings, name: str, schema: dict, prefix: str = "") -> None:
    """dtype, ext and bits agree; quantized fields have min < max (checked per tuple)."""
    pairs = {(c.dtype.name, c.ext, c.bits) for c in VALUE_CODECS}
    dtype, ext = schema.get(f"{prefix}dtype" if prefix else "dtype"), schema.get("ext")
    if prefix:
        dtype, ext = schema.get("outlierDtype"), schema.get("outlierExt")
    quantized = schema.get("outlierQuantized" if prefix else "quantized")
    codec = value_codec_of(dtype)
    bits = (
        schema.get("quantizationBits")
        if not prefix
        else (codec.bits if codec is not None and quantized else None)
    )
    if (dtype, ext, bits if quantized else None) not in pairs or bool(quantized) != (
        dtype != Float32.dtype.name
    ):
        findings.error(f"{name}: dtype {dtype}, ext {ext} and quantization do not agree")


def check_categories(findings: Findings, entry: Any) -> None:
    """Categories unique and finite, within the codes dtype."""
    categories = entry.categories
    # codes below the missing marker name the categories
    limit = Codes("uint8" if entry.codes_dtype == "uint8" else "uint16").missing
    if len(categories) > limit:
        findings.error(f"obs field '{entry.key}': {len(categories)} categories exceed {limit}")
    texts = [json.dumps(c) for c in categories]
    if len(set(texts)) != len(texts):
        findings.error(f"obs field '{entry.key}': categories are not unique")
    if any(isinstance(c, float) and not np.isfinite(c) for c in categories):
        findings.error(f"obs field '{entry.key}': a category is not finite")


def check_stats(findings: Findings, identity: dict, documents: dict[str, Any]) -> None:
    """The identity's counts agree with each other and with the manifests (strict viewer)."""
    stats = identity.get("stats", {})
    name = IDENTITY_NAME
    if stats.get("n_obs_fields") != stats.get("n_categorical_fields", 0) + stats.get(
        "n_continuous_fields", 0
    ):
        findings.error(f"{name}: stats.n_obs_fields is not categorical plus continuous fields")
    if len(identity.get("obs_fields", [])) != stats.get("n_obs_fields"):
        findings.error(f"{name}: obs_fields has not stats.n_obs_fields entries")
    var = documents.get("var_manifest.json")
    n_genes = len(var.get("fields", [])) if var is not None else 0
    if stats.get("n_genes") != n_genes:
        findings.error(
            f"{name}: stats.n_genes is {stats.get('n_genes')} but the var manifest lists "
            f"{n_genes} genes (the viewer requires them equal)"
        )
    edges = documents.get("connectivity_manifest.json")
    if bool(stats.get("has_connectivity")) != (edges is not None):
        findings.error(f"{name}: stats.has_connectivity disagrees with the connectivity manifest")
    expected_edges = None if edges is None else edges.get("n_edges")
    if stats.get("n_edges") != expected_edges:
        findings.error(f"{name}: stats.n_edges must be {expected_edges}")


def check_identity_blocks(findings: Findings, identity: dict) -> None:
    """source and vector_fields as the strict viewer reads them."""
    name = IDENTITY_NAME
    source = identity.get("source")
    if source is not None:
        if not source.get("name"):
            findings.error(f"{name}: source needs a non-empty name")
        if any(not (isinstance(v, str) and v.strip()) for v in source.values()):
            findings.error(f"{name}: source values must be non-empty strings")
    block = identity.get("vector_fields")
    if block is None:
        return
    fields = block.get("fields") or {}
    if not fields:
        findings.error(f"{name}: vector_fields.fields is empty")
    default = block.get("default_field")
    if default is not None and default not in fields:
        findings.error(f"{name}: vector_fields.default_field names no declared field")
    keys = {"label", "basis", "available_dimensions", "default_dimension", "files"}
    for field_id, entry in fields.items():
        if set(entry) != keys:
            findings.error(f"{name}: vector field '{field_id}' must have exactly {sorted(keys)}")
        elif not (entry["label"] and entry["basis"]):
            findings.error(f"{name}: vector field '{field_id}' needs a label and a basis")


def check_centroids(findings: Findings, entry: Any, n: int) -> None:
    """Each centroid names one declared category once, with d finite coordinates."""
    declared = [json.dumps(c) for c in entry.categories]
    for dim_key, centroids in (entry.centroids or {}).items():
        seen: set[str] = set()
        for centroid in centroids:
            category = json.dumps(centroid.get("category"))
            position = centroid.get("position", [])
            if category not in declared or category in seen:
                findings.error(
                    f"obs field '{entry.key}': centroid category {category} is not one "
                    "declared category, once"
                )
            seen.add(category)
            if str(len(position)) != dim_key or not np.isfinite(position).all():
                findings.error(f"obs field '{entry.key}': a {dim_key}D centroid is malformed")
            if not 0 <= centroid.get("n_points", -1) <= n:
                findings.error(f"obs field '{entry.key}': a centroid's n_points is out of range")
