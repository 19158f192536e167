"""The index layout of upstream cellucid 0.9.1: payload files named by integer indices.

Read by the BSD viewer build at theislab/cellucid 53676d15 (see
shared/spec/viewer-builds.md). obs fields are numbered by their position in ``obs_keys``
(one numbering shared by both kinds), genes by their position in the exported list and
vector fields by their position among the sorted field ids. Tuples start with the index;
categories are written as JSON scalars, not strings.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cellucid.sinks.folder.format.codecs import VALUE_CODECS, Gzip
from cellucid.sinks.folder.layouts.base import FieldEntry, Layout
from cellucid.sinks.folder.layouts.registry import register_layout

_STANDARD_NAMES = {
    "obs_manifest_filename": "obs_manifest.json",
    "var_manifest_filename": "var_manifest.json",
    "connectivity_manifest_filename": "connectivity_manifest.json",
}
_PORTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{1,180}$")
#: the viewer refuses a decoded payload larger than this
MAX_PAYLOAD_BYTES = 512 << 20
_GZ_END = f"({re.escape(Gzip.SUFFIX)})?$"
_VALUES_END = "(" + "|".join(c.ext for c in VALUE_CODECS) + ")" + _GZ_END
_PATTERN_ENDS = {
    "pathPattern": re.compile(r"^[^{}]+/\{index\}\.values\." + _VALUES_END),
    "codesPathPattern": re.compile(r"^[^{}]+/\{index\}\.codes\.\{ext\}" + _GZ_END),
    "outlierPathPattern": re.compile(r"^[^{}]+/\{index\}\.outliers\." + _VALUES_END),
}


class IndexLayout(Layout):
    """Files ``obs/<index>.values.u8``; tuples start with the index."""

    name = "index"
    token = "{index}"

    def stem(self, key: Any, index: int) -> str:
        return str(index)

    def vector_stem(self, field_id: str, index: int) -> str:
        return str(index)

    def category_value(self, category: Any) -> Any:
        if isinstance(category, (bool, np.bool_)):
            return bool(category)
        if isinstance(category, (int, np.integer)):
            return int(category)
        if isinstance(category, (float, np.floating)):
            return float(category)
        return str(category)

    def continuous_entry(self, index: int, key: str, lo: float | None, hi: float | None) -> list:
        return [index, key] if lo is None else [index, key, lo, hi]

    def categorical_entry(
        self, index, key, categories, codes_dtype, missing, centroids, lo, hi
    ) -> list:
        entry = [index, key, categories, codes_dtype, missing, centroids]
        return entry if lo is None else [*entry, lo, hi]

    def gene_entry(self, index: int, gene: str, lo: float | None, hi: float | None) -> list:
        return [index, gene] if lo is None else [index, gene, lo, hi]

    def read_continuous(self, entry: list) -> FieldEntry:
        lo, hi = (entry[2], entry[3]) if len(entry) == 4 else (None, None)
        return FieldEntry(entry[0], entry[1], lo, hi)

    def read_categorical(self, entry: list) -> FieldEntry:
        lo, hi = (entry[6], entry[7]) if len(entry) == 8 else (None, None)
        return FieldEntry(entry[0], entry[1], lo, hi, list(entry[2]), entry[3], entry[4], entry[5])

    def read_gene(self, entry: list) -> FieldEntry:
        return self.read_continuous(entry)

    def var_gene_id_column(self, column: str) -> str | None:
        return None if column == "index" else column

    def categorical_dtype_setting(self, requested: str, dtypes: list[str]) -> str:
        if requested != "auto":
            return requested
        return "uint16" if "uint16" in dtypes else "uint8"

    def vector_label(self, field_id: str) -> str:
        return field_id

    def check_keys(self, axis: str, keys: list[Any]) -> None:
        words = {"obs": "obs key", "var": "gene id", "vectors": "vector field id"}[axis]
        seen: dict[str, Any] = {}
        for key in keys:
            text = str(key)
            if not text.strip():
                raise ValueError(f"The index layout needs a non-empty {words}, got {key!r}.")
            if text in seen:
                raise ValueError(
                    f"{words.capitalize()}s {seen[text]!r} and {key!r} are the same text "
                    f"'{text}'; the index layout needs unique {words}s. Rename one of them."
                )
            seen[text] = key

    def check_settings(self, settings: dict[str, Any]) -> None:
        for name, standard in _STANDARD_NAMES.items():
            if settings.get(name, standard) != standard:
                raise ValueError(
                    f"The index layout's viewer finds the manifests by their standard names; "
                    f"{name} must be {standard!r} (got {settings[name]!r})."
                )
        super().check_settings(settings)
        dataset_id = settings.get("dataset_id")
        if dataset_id is not None and not _PORTABLE_ID.match(dataset_id):
            raise ValueError(
                f"dataset_id {dataset_id!r} must be 1 to 180 characters of letters, digits, "
                "'.', '_' and '-' for the index layout."
            )

    def validate(self, findings: Any, documents: dict[str, Any]) -> None:
        for name in ("obs_manifest.json", "var_manifest.json"):
            document = documents.get(name) or {}
            schemas = dict(document.get("_obsSchemas", {}))
            if "_varSchema" in document:
                schemas["var"] = document["_varSchema"]
            for schema in schemas.values():
                for key, rule in _PATTERN_ENDS.items():
                    value = schema.get(key) if isinstance(schema, dict) else None
                    if value is not None and not rule.match(value):
                        findings.error(f"{name}: {key} {value!r} is not an index-layout pattern")
        _dense("obs_manifest.json", findings.obs_indices, findings)
        _dense("var_manifest.json", findings.gene_indices, findings)
        var = documents.get("var_manifest.json")
        if var is not None:
            column = var.get("var_gene_id_column")
            if column is not None and not (isinstance(column, str) and column):
                findings.error("var_manifest.json: var_gene_id_column must be null or a name")
        for path, size in findings.decoded_sizes.items():
            if size > MAX_PAYLOAD_BYTES:
                findings.error(f"{path}: {size} decoded bytes, more than the viewer's 512 MiB")


def _dense(name: str, indices: list[Any], findings: Any) -> None:
    if sorted(indices) != list(range(len(indices))):
        findings.error(f"{name}: field indices are not exactly 0..{len(indices) - 1}, once each")


INDEX_LAYOUT = register_layout(IndexLayout())
