"""The frozen data of an export plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cellucid.checks.checked import InputSummary, ObsFieldSummary
from cellucid.sinks.folder.format.naming import IDENTITY_NAME

__all__ = ["InputSummary", "ObsFieldSummary"]


@dataclass(frozen=True)
class Settings:
    """Every setting that shapes the bytes of the export (see :mod:`cellucid.options`)."""

    out_dir: Path
    layout: str
    compression: int | None
    var_quantization: int | None
    obs_continuous_quantization: int | None
    obs_categorical_dtype: str
    centroid_outlier_quantile: float | None
    centroid_min_points: int
    obs_manifest_filename: str
    obs_binary_dirname: str
    var_manifest_filename: str
    var_binary_dirname: str
    connectivity_manifest_filename: str
    connectivity_binary_dirname: str
    var_gene_id_column: str
    dataset_name: str | None
    dataset_description: str | None
    dataset_id: str | None
    source: dict[str, str]

    def record_dict(self) -> dict[str, Any]:
        """The settings as JSON values, for the export record (without the folder)."""
        values = asdict(self)
        values.pop("out_dir")
        return values


@dataclass(frozen=True)
class ObsFieldPlan:
    """One exported obs field: its index in the obs numbering and its files."""

    index: int
    key: str
    kind: str
    paths: tuple[str, ...]  # continuous: (values,); categorical: (codes, outliers)
    codes_dtype: str | None = None


@dataclass(frozen=True)
class VectorPlan:
    """One vector field: the dimensions written (those with points) and their files."""

    field_id: str
    index: int
    dims: tuple[int, ...]
    paths: tuple[str, ...]
    skipped_dims: tuple[int, ...] = ()


@dataclass(frozen=True)
class GenePlan:
    """The gene files, in export order."""

    ids: tuple[str, ...]
    paths: tuple[str, ...]
    dirname: str
    pattern: str


@dataclass(frozen=True)
class EdgePlan:
    """The connectivity files."""

    sources: str
    destinations: str
    weights: str
    index_dtype: str
    dirname: str


@dataclass(frozen=True)
class ExportPlan:
    """Every file of the export, in writing order, and the patterns of the manifests."""

    layout: str
    settings: Settings
    inputs: InputSummary
    points: tuple[tuple[int, str], ...]
    vectors: tuple[VectorPlan, ...]
    obs: tuple[ObsFieldPlan, ...]
    obs_patterns: dict[str, str]
    genes: GenePlan | None
    edges: EdgePlan | None
    obs_manifest: str
    var_manifest: str | None
    connectivity_manifest: str | None
    identity: str = IDENTITY_NAME

    def folders(self) -> tuple[str, ...]:
        """The folders to create before writing."""
        folders = [self.settings.obs_binary_dirname]
        if self.genes is not None:
            folders.append(self.genes.dirname)
        if self.edges is not None:
            folders.append(self.edges.dirname)
        if self.vectors:
            folders.append("vectors")
        return tuple(dict.fromkeys(folders))

    def payload_files(self) -> tuple[str, ...]:
        """Every binary, in writing order."""
        files = [path for _, path in self.points]
        for vector in self.vectors:
            files += vector.paths
        for field in self.obs:
            files += field.paths
        if self.genes is not None:
            files += self.genes.paths
        if self.edges is not None:
            files += [self.edges.sources, self.edges.destinations, self.edges.weights]
        return tuple(files)

    def files(self) -> tuple[str, ...]:
        """Every file, binaries first, then manifests, the identity last."""
        manifests = [self.obs_manifest, self.var_manifest, self.connectivity_manifest]
        return (*self.payload_files(), *[m for m in manifests if m], self.identity)
