"""The export run: pass one (reductions), pass two (writers), manifests last."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cellucid import __version__
from cellucid.checks import CheckedInputs
from cellucid.engine import centroids as centroid_math
from cellucid.engine.connectivity import summarize_edge_files, write_edges
from cellucid.engine.embeddings import fit_normalizations, normalize, scale_vectors
from cellucid.engine.files import write_binary, write_text
from cellucid.engine.genes import (
    GeneJob,
    assembly_tasks,
    block_tasks,
    choose_piece_cells,
    gene_ranges,
    slab_genes_for,
)
from cellucid.engine.inputs import is_sparse_array
from cellucid.engine.obs_fields import CategoricalColumn, encode_codes
from cellucid.engine.runner import run_tasks
from cellucid.engine.state import ExportRecord, write_record
from cellucid.format import manifests
from cellucid.format.naming import gz_suffix, safe_name, value_ext
from cellucid.format.quantize import Range, encode_values, valid_extrema
from cellucid.report import Reporter

SPILL_DIRNAME = ".cellucid-spill"


@dataclass(frozen=True)
class Settings:
    """Every setting that shapes the bytes of the export."""

    out_dir: Path
    compression: int | None
    var_quantization: int | None
    obs_bits: int | None
    obs_categorical_dtype: str
    centroid_outlier_quantile: float | None
    centroid_min_points: int
    obs_manifest_filename: str
    obs_dirname: str
    var_manifest_filename: str
    var_dirname: str
    connectivity_manifest_filename: str
    connectivity_dirname: str
    var_gene_id_column: str
    dataset_name: str | None
    dataset_description: str | None
    dataset_id: str | None
    source: dict[str, str]

    def fingerprint_dict(self) -> dict[str, Any]:
        """The settings as JSON values (without the output folder)."""
        return {k: v for k, v in self.__dict__.items() if k != "out_dir"}


def planned_files(inputs: CheckedInputs, s: Settings) -> list[str]:
    """Every file the export will write, relative to out_dir, in writing order."""
    gz = gz_suffix(s.compression)
    ext = value_ext(s.obs_bits)
    files = [f"points_{d}d.bin{gz}" for d in sorted(inputs.embeddings)]
    for field_id, dims in sorted(inputs.vectors.items()):
        files += [
            f"vectors/{field_id}_{d}d.bin{gz}" for d in sorted(dims) if d in inputs.embeddings
        ]
    for column in inputs.obs_columns:
        safe = safe_name(column.key)
        if isinstance(column, CategoricalColumn):
            code_ext = "u8" if inputs.codes_dtypes[column.key] == "uint8" else "u16"
            files.append(f"{s.obs_dirname}/{safe}.codes.{code_ext}{gz}")
            files.append(f"{s.obs_dirname}/{safe}.outliers.{ext}{gz}")
        else:
            files.append(f"{s.obs_dirname}/{safe}.values.{ext}{gz}")
    gene_ext = value_ext(s.var_quantization)
    files += [f"{s.var_dirname}/{safe_name(g)}.values.{gene_ext}{gz}" for g in inputs.gene_ids]
    if inputs.connectivities is not None:
        files += [
            f"{s.connectivity_dirname}/edges.src.bin{gz}",
            f"{s.connectivity_dirname}/edges.dst.bin{gz}",
        ]
    files.append(s.obs_manifest_filename)
    if inputs.matrix is not None:
        files.append(s.var_manifest_filename)
    if inputs.connectivities is not None:
        files.append(s.connectivity_manifest_filename)
    files.append("dataset_identity.json")
    return files


def created_at() -> str:
    """UTC creation time; ``SOURCE_DATE_EPOCH`` makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class ExportRun:
    """Writes one export. Files that exist already are kept when ``resume`` is set."""

    def __init__(
        self,
        inputs: CheckedInputs,
        s: Settings,
        reporter: Reporter,
        *,
        resume: bool,
        progress: bool,
        record: ExportRecord,
    ) -> None:
        self.inputs = inputs
        self.s = s
        self.out = s.out_dir
        self.say = reporter.say
        self.reporter = reporter
        self.resume = resume
        self.progress = progress
        self.record = record
        self.gz = gz_suffix(s.compression)
        self._piece_cells: int | None = None

    # -- helpers ---------------------------------------------------------------
    def piece_cells(self) -> int:
        """Cells per block of the gene grid (computed once from a sample of the matrix)."""
        if self._piece_cells is None:
            self._piece_cells = choose_piece_cells(self.inputs.matrix)
        return self._piece_cells

    def _keep(self, relative: str, section: str) -> bool:
        """Whether a complete file from an earlier run of this export can stay."""
        if self.resume and (self.out / relative).exists():
            self.reporter.skip(section)
            return True
        return False

    def _write(self, relative: str, array: np.ndarray) -> None:
        write_binary(self.out / relative, array, self.s.compression)

    # -- the run -----------------------------------------------------------------
    def run(self) -> Path:
        for folder in (
            {self.s.obs_dirname}
            | ({self.s.var_dirname} if self.inputs.matrix is not None else set())
            | ({self.s.connectivity_dirname} if self.inputs.connectivities is not None else set())
            | ({"vectors"} if self.inputs.vectors else set())
        ):
            (self.out / folder).mkdir(parents=True, exist_ok=True)
        write_record(self.out, self.record)
        # pieces of an interrupted run: never reused, their grid may not even match
        shutil.rmtree(self.out / SPILL_DIRNAME, ignore_errors=True)
        norms = fit_normalizations(self.inputs.embeddings)
        self._summary(norms)
        points = {
            d: normalize(np.asarray(x.compute()), norms[d])
            for d, x in self.inputs.embeddings.items()
        }
        self._write_points(points)
        vector_block = self._write_vectors(norms)
        obs_manifest, obs_identity = self._write_obs(points)
        gene_fields = self._write_genes()
        edges_meta = self._write_connectivity()
        write_text(self.out / self.s.obs_manifest_filename, manifests.to_json(obs_manifest))
        if gene_fields is not None:
            write_text(
                self.out / self.s.var_manifest_filename,
                manifests.to_json(
                    manifests.var_manifest(
                        n_points=self.inputs.n_cells,
                        var_gene_id_column=self.s.var_gene_id_column,
                        compression=self.s.compression,
                        bits=self.s.var_quantization,
                        var_dirname=self.s.var_dirname,
                        fields=gene_fields,
                    )
                ),
            )
            quant = f", {self.s.var_quantization}-bit quantized" if self.s.var_quantization else ""
            self.say(
                f"✓ Wrote var manifest ({len(gene_fields)} genes{quant}) to "
                f"{self.out / self.s.var_manifest_filename}"
            )
        if edges_meta is not None:
            write_text(
                self.out / self.s.connectivity_manifest_filename, manifests.to_json(edges_meta)
            )
        self._write_identity(obs_identity, vector_block, edges_meta)
        write_record(
            self.out,
            ExportRecord(self.record.fingerprint, self.record.settings, self.record.files, True),
        )
        return self.out

    def _summary(self, norms: dict) -> None:
        s = self.s
        self.say("=" * 60)
        self.say("Export Settings:")
        self.say(f"  Output directory: {self.out}")
        self.say(
            f"  Compression: {'gzip level ' + str(s.compression) if s.compression else 'disabled'}"
        )
        self.say(
            "  Var (gene) quantization: "
            + (f"{s.var_quantization}-bit" if s.var_quantization else "disabled (float32)")
        )
        self.say(
            "  Obs continuous quantization: "
            + (f"{s.obs_bits}-bit" if s.obs_bits else "disabled (float32)")
        )
        self.say(f"  Obs categorical dtype: {s.obs_categorical_dtype}")
        dims = sorted(norms)
        self.say(f"  Available dimensions: {dims}")
        self.say(f"  Default dimension: {3 if 3 in dims else max(dims)}D")
        self.say("  Coordinate normalization (per-dimension, aspect-ratio preserved):")
        for d in dims:
            self.say(f"    {d}D: range {norms[d].original_range:.2f} → [-1, 1]")
        self.say("=" * 60)

    def _write_points(self, points: dict[int, np.ndarray]) -> None:
        for d, array in sorted(points.items()):
            relative = f"points_{d}d.bin{self.gz}"
            if not self._keep(relative, "points"):
                self._write(relative, array)
                self.say(
                    f"✓ Wrote {d}D positions ({array.shape[0]:,} cells × {d} dims) to "
                    f"{self.out / relative}"
                )
        self.reporter.flush_skips("points", "points")

    def _write_vectors(self, norms: dict) -> dict | None:
        files: dict[str, dict[int, str]] = {}
        for field_id, dims in sorted(self.inputs.vectors.items()):
            for d, x in sorted(dims.items()):
                if d not in norms:
                    self.say(
                        f"  ⚠ Skipping vector field '{field_id}' {d}D: embedding "
                        f"points_{d}d not provided"
                    )
                    continue
                relative = f"vectors/{field_id}_{d}d.bin{self.gz}"
                files.setdefault(field_id, {})[d] = relative
                if not self._keep(relative, "vector field"):
                    self._write(relative, scale_vectors(np.asarray(x.compute()), norms[d]))
                    self.say(f"✓ Wrote vector field '{field_id}' {d}D to {self.out / relative}")
        self.reporter.flush_skips("vector field", "vectors/")
        return manifests.vector_fields_block(files)

    def _write_obs(self, points: dict[int, np.ndarray]) -> tuple[dict, list]:
        s, inputs = self.s, self.inputs
        bits = s.obs_bits
        ext = value_ext(bits)
        categorical = [c for c in inputs.obs_columns if isinstance(c, CategoricalColumn)]
        fields = [(c.codes, len(c.categories)) for c in categorical]
        means = centroid_math.latent_means(inputs.latent, fields)
        distances = centroid_math.latent_distances(inputs.latent, fields, means)
        continuous_tuples: list[list[Any]] = []
        categorical_tuples: list[list[Any]] = []
        identity_fields: list[dict[str, Any]] = []
        distance_of = {c.key: d for c, d in zip(categorical, distances, strict=True)}
        for column in inputs.obs_columns:
            safe = safe_name(column.key)
            if isinstance(column, CategoricalColumn):
                dtype = inputs.codes_dtypes[column.key]
                code_ext = "u8" if dtype == "uint8" else "u16"
                relative = f"{s.obs_dirname}/{safe}.codes.{code_ext}{self.gz}"
                if not self._keep(relative, "obs"):
                    self._write(relative, encode_codes(column.codes, dtype))
                quantiles = centroid_math.outlier_quantiles(
                    distance_of[column.key],
                    column.codes,
                    len(column.categories),
                    s.centroid_min_points,
                )
                value_range = Range.from_extrema(*valid_extrema(quantiles)) if bits else None
                relative = f"{s.obs_dirname}/{safe}.outliers.{ext}{self.gz}"
                if not self._keep(relative, "obs"):
                    self._write(relative, encode_values(quantiles, value_range, bits))
                by_dim = {
                    str(d): centroid_math.centroids(
                        points[d],
                        column.codes,
                        column.categories,
                        s.centroid_min_points,
                        s.centroid_outlier_quantile,
                    )
                    for d in sorted(points)
                }
                entry: list[Any] = [
                    column.key,
                    column.categories,
                    dtype,
                    255 if dtype == "uint8" else 65535,
                    by_dim,
                ]
                if value_range is not None:
                    entry += [value_range.lo, value_range.hi]
                categorical_tuples.append(entry)
                identity_fields.append(
                    {"key": column.key, "kind": "category", "n_categories": len(column.categories)}
                )
            else:
                value_range = Range.from_extrema(*valid_extrema(column.values)) if bits else None
                relative = f"{s.obs_dirname}/{safe}.values.{ext}{self.gz}"
                if not self._keep(relative, "obs"):
                    self._write(relative, encode_values(column.values, value_range, bits))
                continuous_tuples.append(
                    [column.key]
                    if value_range is None
                    else [column.key, value_range.lo, value_range.hi]
                )
                identity_fields.append({"key": column.key, "kind": "continuous"})
        self.reporter.flush_skips("obs", f"{s.obs_dirname}/")
        manifest = manifests.obs_manifest(
            n_points=inputs.n_cells,
            centroid_outlier_quantile=s.centroid_outlier_quantile,
            compression=s.compression,
            obs_dirname=s.obs_dirname,
            continuous_bits=bits,
            continuous_fields=continuous_tuples,
            categorical_fields=categorical_tuples,
        )
        self.say(
            f"✓ Wrote obs manifest ({len(inputs.obs_columns)} fields: "
            f"{len(continuous_tuples)} continuous, {len(categorical_tuples)} categorical) "
            f"to {self.out / s.obs_manifest_filename} with binaries in {s.obs_dirname}/"
        )
        return manifest, identity_fields

    def _write_genes(self) -> list[list[Any]] | None:
        inputs, s = self.inputs, self.s
        if inputs.matrix is None:
            self.say("INFO: No gene expression data provided, skipping var export.")
            return None
        bits = s.var_quantization
        ext = value_ext(bits)
        columns = inputs.gene_columns
        assert columns is not None
        lo = hi = None
        if bits is not None:
            lo, hi, bad = gene_ranges(inputs.matrix, columns, self.piece_cells())
            ranges = [Range.from_extrema(a, b) for a, b in zip(lo, hi, strict=True)]
            lo = np.array([r.lo for r in ranges])
            hi = np.array([r.hi for r in ranges])
            if int((bad > 0).sum()):
                self.say(
                    f"  ⚠ {int((bad > 0).sum())} genes contain NaN/Inf values "
                    "(mapped to missing marker)"
                )
        relatives = [
            f"{s.var_dirname}/{safe_name(g)}.values.{ext}{self.gz}" for g in inputs.gene_ids
        ]
        todo = np.array(
            [i for i, r in enumerate(relatives) if not self._keep(r, "gene")], dtype=np.int64
        )
        self.reporter.flush_skips("gene", f"{s.var_dirname}/")
        if len(todo):
            self._run_gene_job(todo, relatives, lo, hi)
        self.say(
            f"✓ Wrote {len(todo):,} gene files ({inputs.n_cells:,} cells each) to "
            f"{self.out / s.var_dirname}/"
        )
        fields: list[list[Any]] = []
        for i, gene in enumerate(inputs.gene_ids):
            fields.append([gene] if bits is None else [gene, float(lo[i]), float(hi[i])])
        return fields

    def _run_gene_job(self, todo: np.ndarray, relatives: list[str], lo, hi) -> None:
        inputs, s = self.inputs, self.s
        spill = self.out / SPILL_DIRNAME
        shutil.rmtree(spill, ignore_errors=True)
        spill.mkdir()
        dense = not is_sparse_array(inputs.matrix)
        try:
            job = GeneJob(
                n_cells=inputs.n_cells,
                piece_cells=self.piece_cells(),
                columns=inputs.gene_columns[todo],
                paths=tuple(str(self.out / relatives[i]) for i in todo),
                lo=None if lo is None else lo[todo],
                hi=None if hi is None else hi[todo],
                bits=s.var_quantization,
                compression=s.compression,
                spill_dir=str(spill),
                slab_genes=slab_genes_for(self.piece_cells(), len(todo), dense),
                dense=dense,
            )
            grid = block_tasks(inputs.matrix, job)
            flat = run_tasks(
                [task for row in grid for task in row],
                desc="genes: read, encode, compress",
                progress=self.progress,
            )
            width = len(grid[0])
            indexes = [flat[k * width : (k + 1) * width] for k in range(len(grid))]
            run_tasks(
                assembly_tasks(indexes, job), desc="genes: write files", progress=self.progress
            )
        finally:
            shutil.rmtree(spill, ignore_errors=True)

    def _write_connectivity(self) -> dict | None:
        inputs, s = self.inputs, self.s
        if inputs.connectivities is None:
            self.say("INFO: No connectivity data provided, skipping connectivity export.")
            return None
        dtype = manifests.edge_index_dtype(inputs.n_cells)
        src_rel = f"{s.connectivity_dirname}/edges.src.bin{self.gz}"
        dst_rel = f"{s.connectivity_dirname}/edges.dst.bin{self.gz}"
        spill = self.out / SPILL_DIRNAME / "edges"
        kept = [self._keep(r, "connectivity") for r in (src_rel, dst_rel)]
        self.reporter.flush_skips("connectivity", f"{s.connectivity_dirname}/")
        try:
            edges = (
                summarize_edge_files(self.out / src_rel, self.out / dst_rel, dtype, inputs.n_cells)
                if all(kept)
                else write_edges(
                    inputs.connectivities,
                    self.out / src_rel,
                    self.out / dst_rel,
                    dtype,
                    s.compression,
                    spill,
                )
            )
        finally:
            shutil.rmtree(self.out / SPILL_DIRNAME, ignore_errors=True)
        self.say(
            f"✓ Wrote connectivity ({edges.n_edges:,} edges, max {edges.max_neighbors} "
            f"neighbors/cell, {dtype}) to {self.out / s.connectivity_dirname}"
        )
        return manifests.connectivity_manifest(
            n_cells=inputs.n_cells,
            n_edges=edges.n_edges,
            max_neighbors=edges.max_neighbors,
            index_dtype=dtype,
            sources_path=src_rel,
            destinations_path=dst_rel,
            compression=s.compression,
        )

    def _write_identity(
        self, obs_fields: list, vector_block: dict | None, edges: dict | None
    ) -> None:
        s, inputs = self.s, self.inputs
        name = s.dataset_name or self.out.resolve().name
        n_categorical = sum(1 for f in obs_fields if f["kind"] == "category")
        identity = manifests.dataset_identity(
            dataset_id=s.dataset_id or safe_name(name),
            name=name,
            description=s.dataset_description or "",
            created_at=created_at(),
            version=__version__,
            stats={
                "n_cells": inputs.n_cells,
                "n_genes": inputs.n_matrix_genes,
                "n_obs_fields": len(obs_fields),
                "n_categorical_fields": n_categorical,
                "n_continuous_fields": len(obs_fields) - n_categorical,
                "has_connectivity": edges is not None,
                "n_edges": None if edges is None else edges["n_edges"],
            },
            dimensions=sorted(inputs.embeddings),
            compression=s.compression,
            obs_fields=obs_fields,
            export_settings={
                "compression": s.compression,
                "var_quantization": s.var_quantization,
                "obs_continuous_quantization": s.obs_bits,
                "obs_categorical_dtype": s.obs_categorical_dtype,
            },
            source=s.source,
            vector_fields=vector_block,
        )
        path = self.out / "dataset_identity.json"
        write_text(path, manifests.to_json(identity, indent=2))
        self.say(f"✓ Wrote dataset identity to {path}")
