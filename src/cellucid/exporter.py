"""``prepare()``: the documented Cellucid exporter API, on the streaming engine."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import dask
import pandas as pd

from cellucid.checks import (
    CheckedInputs,
    check_connectivities,
    check_embeddings,
    check_genes,
    check_latent,
    check_obs,
    check_options,
    check_vector_fields,
)
from cellucid.engine.export import ExportRun, Settings, planned_files
from cellucid.engine.files import ExportWriteError, describe_os_error
from cellucid.engine.obs_fields import CategoricalColumn
from cellucid.engine.state import (
    ExportRecord,
    fingerprint,
    leftover_temp_files,
    prepare_folder,
)
from cellucid.report import Reporter


def default_progress(quiet: bool) -> bool:
    """Progress bars on a terminal or in a notebook, unless quiet (logs stay clean)."""
    return not quiet and (sys.stderr.isatty() or "ipykernel" in sys.modules)


#: rows per dask chunk for reductions and per-cell work when none is given
DEFAULT_CHUNK_SIZE = 65536


def prepare(
    latent_space: Any = None,
    obs: pd.DataFrame | Any | None = None,
    var: pd.DataFrame | None = None,
    gene_expression: Any = None,
    var_gene_id_column: str = "index",
    gene_identifiers: Sequence[str] | None = None,
    connectivities: Any = None,
    out_dir: str | Path | None = None,
    obs_keys: Sequence[str] | None = None,
    centroid_outlier_quantile: float | None = 0.95,
    centroid_min_points: int = 10,
    obs_manifest_filename: str = "obs_manifest.json",
    obs_binary_dirname: str = "obs",
    var_manifest_filename: str = "var_manifest.json",
    var_binary_dirname: str = "var",
    connectivity_manifest_filename: str = "connectivity_manifest.json",
    connectivity_binary_dirname: str = "connectivity",
    force: bool = False,
    var_quantization: int | None = None,
    obs_continuous_quantization: int | None = None,
    obs_categorical_dtype: str = "auto",
    compression: int | None = None,
    dataset_name: str | None = None,
    dataset_description: str | None = None,
    dataset_id: str | None = None,
    source_name: str | None = None,
    source_url: str | None = None,
    source_citation: str | None = None,
    X_umap_1d: Any = None,  # noqa: N803 - documented API name
    X_umap_2d: Any = None,  # noqa: N803
    X_umap_3d: Any = None,  # noqa: N803
    X_umap_4d: Any = None,  # noqa: N803
    vector_fields: Mapping[str, Any] | None = None,
    *,
    chunk_size: int | None = None,
    progress: bool | None = None,
    quiet: bool = False,
    scheduler: str | None = None,
) -> Path:
    """Export arrays and cell metadata to a Cellucid export folder.

    Every input may be a numpy array, a scipy sparse matrix or array (CSR, CSC, COO), a
    dask array (dense or sparse chunks), an h5py dataset, a zarr array, an AnnData
    backed sparse dataset or an xarray DataArray. The expression matrix is streamed in
    blocks of cells and never held whole in memory.

    Parameters
    ----------
    latent_space
        (n_cells, n_dims) latent space used for the outlier quantiles of categorical fields.
    obs
        Cell metadata, one row per cell: a DataFrame, an xarray Dataset or AnnData's lazy
        obs (read one column at a time); ``None`` exports no obs field.
    var
        Gene metadata, one row per column of ``gene_expression``.
    gene_expression
        (n_cells, n_genes) expression matrix.
    var_gene_id_column
        Column of ``var`` holding the gene ids, or ``"index"`` for ``var.index``.
    gene_identifiers
        Genes to export, in this order; unknown ids are dropped with a warning.
    connectivities
        (n_cells, n_cells) KNN graph (``obsp["connectivities"]``).
    out_dir
        Output folder; default ``exports`` under the current directory.
    obs_keys
        obs columns to export (default all, in order).
    centroid_outlier_quantile
        Distance quantile of the inliers kept for centroids; ``None`` for no centroids.
    centroid_min_points
        Smallest category that gets a centroid and outlier quantiles.
    obs_manifest_filename, obs_binary_dirname, var_manifest_filename, var_binary_dirname
        Names of the obs and var manifests and binary folders.
    connectivity_manifest_filename, connectivity_binary_dirname
        Name of the connectivity manifest and binary folder.
    force
        Overwrite an earlier export in ``out_dir`` (and remove its files that this export
        does not produce). Without it, an interrupted export with the same inputs and
        settings is resumed, and a different export is an error.
    var_quantization, obs_continuous_quantization
        ``None`` (float32), 8 or 16 bits.
    obs_categorical_dtype
        ``"auto"``, ``"uint8"`` or ``"uint16"`` codes.
    compression
        gzip level 1-9; ``None`` or 0 writes uncompressed binaries.
    dataset_name, dataset_description, dataset_id, source_name, source_url, source_citation
        Metadata for ``dataset_identity.json``.
    X_umap_1d, X_umap_2d, X_umap_3d
        Embeddings of shape (n_cells, d); at least one is required.
    X_umap_4d
        Reserved; raises ``NotImplementedError``.
    vector_fields
        Mapping of names to (n_cells, d) arrays, e.g. ``{"velocity_umap_2d": V}``.
    chunk_size
        Cells per chunk for reductions and per-cell work (default 65536). The gene files
        use their own fixed grid, so the output bytes do not depend on it.
    progress
        Show progress bars for the gene phase (default: on a terminal or in a notebook,
        unless ``quiet``).
    quiet
        Print nothing.
    scheduler
        A dask scheduler name (``"threads"``, ``"sync"``, ``"processes"``); default the
        active ``dask.distributed`` Client if any, else threads.

    Returns
    -------
    pathlib.Path
        The export folder.
    """
    reporter = Reporter(quiet)
    chunk_rows = int(chunk_size or DEFAULT_CHUNK_SIZE)
    if chunk_rows < 1:
        raise ValueError(f"chunk_size must be a positive number of cells, got {chunk_size!r}.")
    level = check_options(
        var_quantization=var_quantization,
        obs_continuous_quantization=obs_continuous_quantization,
        compression=compression,
        obs_categorical_dtype=obs_categorical_dtype,
        centroid_outlier_quantile=centroid_outlier_quantile,
        centroid_min_points=centroid_min_points,
    )
    n_cells, embeddings = check_embeddings(
        {1: X_umap_1d, 2: X_umap_2d, 3: X_umap_3d}, X_umap_4d, chunk_rows
    )
    latent = check_latent(latent_space, n_cells, chunk_rows)
    obs_frame, obs_columns, codes_dtypes = check_obs(obs, obs_keys, n_cells, obs_categorical_dtype)
    inputs = CheckedInputs(n_cells, embeddings, latent, obs_frame, obs_columns, codes_dtypes)
    unknown_genes: list[str] = []
    if gene_expression is not None:
        matrix, ids, columns, unknown_genes = check_genes(
            gene_expression, var, var_gene_id_column, gene_identifiers, n_cells, chunk_rows
        )
        inputs.matrix, inputs.gene_ids, inputs.gene_columns = matrix, ids, columns
        inputs.n_matrix_genes = matrix.shape[1]
    if connectivities is not None:
        inputs.connectivities = check_connectivities(connectivities, n_cells, chunk_rows)
    inputs.vectors = check_vector_fields(vector_fields, n_cells, chunk_rows)

    target = Path(out_dir) if out_dir is not None else Path.cwd() / "exports"
    source = {
        k: v
        for k, v in (("name", source_name), ("url", source_url), ("citation", source_citation))
        if v is not None
    }
    settings = Settings(
        out_dir=target,
        compression=level,
        var_quantization=var_quantization,
        obs_bits=obs_continuous_quantization,
        obs_categorical_dtype=obs_categorical_dtype,
        centroid_outlier_quantile=(
            None if centroid_outlier_quantile is None else float(centroid_outlier_quantile)
        ),
        centroid_min_points=int(centroid_min_points),
        obs_manifest_filename=obs_manifest_filename,
        obs_dirname=obs_binary_dirname,
        var_manifest_filename=var_manifest_filename,
        var_dirname=var_binary_dirname,
        connectivity_manifest_filename=connectivity_manifest_filename,
        connectivity_dirname=connectivity_binary_dirname,
        var_gene_id_column=var_gene_id_column,
        dataset_name=dataset_name,
        dataset_description=dataset_description,
        dataset_id=dataset_id,
        source=source,
    )
    files = planned_files(inputs, settings)
    arrays = {f"embedding_{d}d": x for d, x in embeddings.items()} | {"latent": latent}
    if inputs.matrix is not None:
        arrays["gene_expression"] = inputs.matrix
    if inputs.connectivities is not None:
        arrays["connectivities"] = inputs.connectivities
    for field_id, dims in inputs.vectors.items():
        arrays |= {f"vector_{field_id}_{d}d": x for d, x in dims.items()}
    frames = {"obs": obs_frame}
    if var is not None and gene_expression is not None:
        frames["var"] = var
    record = ExportRecord(
        fingerprint(
            arrays,
            frames,
            settings.fingerprint_dict()
            | {
                "genes": inputs.gene_ids,
                "categories": {
                    c.key: c.categories for c in obs_columns if isinstance(c, CategoricalColumn)
                },
            },
        ),
        settings.fingerprint_dict(),
        tuple(files),
        complete=False,
    )
    resume, stale = prepare_folder(target, record, set(files), force)

    try:
        target.mkdir(parents=True, exist_ok=True)
        for temp in leftover_temp_files(target):
            temp.unlink()
        for relative in stale:
            (target / relative).unlink(missing_ok=True)
        if force:
            shutil.rmtree(target / ".cellucid-spill", ignore_errors=True)
    except OSError as error:
        raise ExportWriteError(error.errno, describe_os_error(error, target)) from error
    if unknown_genes:
        reporter.say(
            f"⚠ Warning: {len(unknown_genes)} gene identifiers not found in var: "
            f"{unknown_genes[:5]}..."
        )
    run = ExportRun(
        inputs,
        settings,
        reporter,
        resume=resume,
        progress=(not quiet) if progress is None else progress,
        record=record,
    )
    # a named scheduler applies to every dask computation of the run
    with dask.config.set(scheduler=scheduler) if scheduler else nullcontext():
        return run.run()
