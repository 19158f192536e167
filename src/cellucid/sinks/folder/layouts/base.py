"""What a layout decides, and the parts every layout shares.

A layout owns three things: the name of each payload file (through one path pattern
per kind of file and the value that fills it), the shape of the manifest tuples, and the
rules the validator checks that follow from those two. The planner, the writers, the
validator and the server all go through a layout object, so no path is built twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cellucid.sinks.folder.format.codecs import Gzip


@dataclass(frozen=True)
class FieldEntry:
    """A manifest tuple read back, in a form that does not depend on the layout."""

    index: int | None
    key: Any
    lo: float | None = None
    hi: float | None = None
    categories: list[Any] | None = None
    codes_dtype: str | None = None
    missing: int | None = None
    centroids: dict[str, Any] | None = None


class Layout:
    """A file layout of the export folder.

    Subclasses set ``name`` and ``token`` and implement :meth:`stem`,
    :meth:`vector_stem` and the tuple hooks; everything else is shared.
    """

    name: str = ""
    #: the placeholder of path patterns that the viewer fills per field
    token: str = "{key}"

    # -- file names -------------------------------------------------------------------------
    def stem(self, key: Any, index: int) -> str:
        """The part of a payload's file name that names one field or gene."""
        raise NotImplementedError

    def vector_stem(self, field_id: str, index: int) -> str:
        """The part of a vector file's name that names its field."""
        raise NotImplementedError

    def claims(self, pattern: str) -> bool:
        """Whether a manifest path pattern is one of this layout's."""
        return self.token in pattern

    def values_pattern(self, dirname: str, ext: str, compression: int | None) -> str:
        return f"{dirname}/{self.token}.values.{ext}{Gzip(compression).suffix}"

    def codes_pattern(self, dirname: str, compression: int | None) -> str:
        return f"{dirname}/{self.token}.codes.{{ext}}{Gzip(compression).suffix}"

    def outliers_pattern(self, dirname: str, ext: str, compression: int | None) -> str:
        return f"{dirname}/{self.token}.outliers.{ext}{Gzip(compression).suffix}"

    def fill(self, pattern: str, key: Any, index: int, ext: str | None = None) -> str:
        """The path of one field's file from its pattern, as the viewer builds it."""
        path = pattern.replace(self.token, self.stem(key, index))
        return path.replace("{ext}", ext) if ext is not None else path

    def vector_path(self, field_id: str, index: int, dim: int, compression: int | None) -> str:
        gz = Gzip(compression).suffix
        return f"vectors/{self.vector_stem(field_id, index)}_{dim}d.bin{gz}"

    # -- manifest tuples --------------------------------------------------------------------
    def category_value(self, category: Any) -> Any:
        """A category as written into the manifest and the centroid entries."""
        return str(category)

    def continuous_entry(self, index: int, key: str, lo: float | None, hi: float | None) -> list:
        raise NotImplementedError

    def categorical_entry(
        self,
        index: int,
        key: str,
        categories: list[Any],
        codes_dtype: str,
        missing: int,
        centroids: dict[str, Any],
        lo: float | None,
        hi: float | None,
    ) -> list:
        raise NotImplementedError

    def gene_entry(self, index: int, gene: str, lo: float | None, hi: float | None) -> list:
        raise NotImplementedError

    def read_continuous(self, entry: list) -> FieldEntry:
        raise NotImplementedError

    def read_categorical(self, entry: list) -> FieldEntry:
        raise NotImplementedError

    def read_gene(self, entry: list) -> FieldEntry:
        raise NotImplementedError

    # -- identity and manifest values --------------------------------------------------------
    def var_gene_id_column(self, column: str) -> str | None:
        return column

    def n_genes_stat(self, n_matrix_genes: int, n_exported: int) -> int:
        # the BSD viewers check stats.n_genes against the var manifest's field count
        return n_exported

    def categorical_dtype_setting(self, requested: str, dtypes: list[str]) -> str:
        return requested

    def vector_label(self, field_id: str) -> str:
        raise NotImplementedError

    def vector_basis(self, field_id: str) -> str | None:
        # prepare() takes its embeddings as X_umap_<d>d, so every field is on the UMAP
        # basis; the BSD viewers require a non-empty basis on every field
        return "umap"

    # -- checks --------------------------------------------------------------------------
    def check_keys(self, axis: str, keys: list[Any]) -> None:
        """Refuse keys this layout cannot write (raise ValueError naming them)."""

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Refuse settings this layout cannot write (raise ValueError naming them)."""
        source = settings.get("source") or {}
        if source and not source.get("name"):
            raise ValueError(
                "The viewer needs source_name whenever source_url or source_citation is "
                "given; pass source_name too."
            )
        empty = [f"source_{k}" for k, v in source.items() if not str(v).strip()]
        if empty:
            raise ValueError(f"{empty[0]} must not be empty; leave it out (None) instead.")

    def validate(self, findings: Any, documents: dict[str, Any]) -> None:
        """Rules of this layout beyond the shared ones (findings.error for each problem)."""
