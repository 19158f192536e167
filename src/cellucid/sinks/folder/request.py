"""One ``prepare()`` call that writes an export folder, as a frozen, typed request.

``prepare()`` hands its arguments over once, by name (:meth:`FolderRequest.from_arguments`);
from there on the checks, the planner, the export record and the run read attributes.
Every option of :mod:`cellucid.options` is a field of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cellucid.checks.request import InputRequest
from cellucid.sinks.folder.plan.types import Settings

#: rows per dask chunk for reductions and per-cell work when none is given
DEFAULT_CHUNK_SIZE = 65536


@dataclass(frozen=True, eq=False)  # holds matrices: compared by identity
class FolderRequest:
    """The data of an export folder and every option, as ``prepare()`` was given them."""

    inputs: InputRequest
    out_dir: str | Path | None
    # what to export and how (the options table, in prepare()'s order)
    var_gene_id_column: str
    centroid_outlier_quantile: float | None
    centroid_min_points: int
    obs_manifest_filename: str
    obs_binary_dirname: str
    var_manifest_filename: str
    var_binary_dirname: str
    connectivity_manifest_filename: str
    connectivity_binary_dirname: str
    force: bool
    var_quantization: int | None
    obs_continuous_quantization: int | None
    obs_categorical_dtype: str
    compression: int | None
    dataset_name: str | None
    dataset_description: str | None
    dataset_id: str | None
    source_name: str | None
    source_url: str | None
    source_citation: str | None
    # how to run (they never change the bytes)
    chunk_size: int | None
    progress: bool | None
    quiet: bool
    scheduler: str | None
    layout: str

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> FolderRequest:
        """The request of ``prepare()``'s arguments by name (the one place names are read)."""
        given = {f.name: arguments[f.name] for f in fields(InputRequest)}
        options = {f.name: arguments[f.name] for f in fields(cls) if f.name != "inputs"}
        return cls(inputs=InputRequest(**given), **options)

    @property
    def target(self) -> Path:
        """The export folder: ``out_dir``, or ``exports`` under the current directory."""
        return Path(self.out_dir) if self.out_dir is not None else Path.cwd() / "exports"

    @property
    def chunk_rows(self) -> int:
        """Rows per dask chunk of the inputs (the bytes written do not depend on it)."""
        return int(self.chunk_size or DEFAULT_CHUNK_SIZE)

    @property
    def source(self) -> dict[str, str]:
        """The data's source as the identity file holds it: only the parts given."""
        parts = {"name": self.source_name, "url": self.source_url, "citation": self.source_citation}
        return {k: v for k, v in parts.items() if v is not None}

    def settings(self, target: Path) -> Settings:
        """The settings that shape the bytes, for an export into ``target``."""
        quantile = self.centroid_outlier_quantile
        return Settings(
            out_dir=target,
            layout=self.layout,
            compression=int(self.compression) if self.compression else None,
            var_quantization=self.var_quantization,
            obs_continuous_quantization=self.obs_continuous_quantization,
            obs_categorical_dtype=self.obs_categorical_dtype,
            centroid_outlier_quantile=None if quantile is None else float(quantile),
            centroid_min_points=int(self.centroid_min_points),
            obs_manifest_filename=self.obs_manifest_filename,
            obs_binary_dirname=self.obs_binary_dirname,
            var_manifest_filename=self.var_manifest_filename,
            var_binary_dirname=self.var_binary_dirname,
            connectivity_manifest_filename=self.connectivity_manifest_filename,
            connectivity_binary_dirname=self.connectivity_binary_dirname,
            var_gene_id_column=self.var_gene_id_column,
            dataset_name=self.dataset_name,
            dataset_description=self.dataset_description,
            dataset_id=self.dataset_id,
            source=self.source,
        )
