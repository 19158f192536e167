"""``prepare()``: the documented Cellucid exporter API, on the streaming engine."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cellucid import options as option_table
from cellucid.checks.arguments import check_inputs, refuse_unreadable_inputs
from cellucid.checks.checked import CheckedInputs
from cellucid.checks.out_path import output_path
from cellucid.checks.paths import check_name_lengths, check_out_dir
from cellucid.checks.scheduler import refuse_handles_for_processes
from cellucid.engine.checksums import MATRIX, input_checksums, is_pending
from cellucid.engine.files import describe_os_error, files_bytes
from cellucid.engine.lock import export_lock
from cellucid.engine.schedulers import local_scheduler
from cellucid.errors import (
    DamagedRecordError,
    ExportMismatchError,
    ExportWriteError,
    OutputPathError,
)
from cellucid.inputs.obs_fields import CategoricalColumn, in_memory_table
from cellucid.report import (
    Reporter,
    count,
    default_progress,
    in_callers_terms,
    interrupted_line,
    on_cli,
    size,
)
from cellucid.sinks.anndata.request import STORE_ONLY, store_request
from cellucid.sinks.folder.context import SPILL_DIRNAME
from cellucid.sinks.folder.plan import ExportPlan, make_plan
from cellucid.sinks.folder.request import FolderRequest
from cellucid.sinks.folder.run import run_export
from cellucid.sinks.folder.stamps import (
    checksums_to_reuse,
    finished_unchanged,
    may_be_finished,
    request_key,
    stamp_finished,
    stamp_started,
)
from cellucid.sinks.folder.state import (
    ExportRecord,
    check_record_files,
    fingerprint,
    fingerprint_parts,
    leftover_temp_files,
    prepare_folder,
    read_record,
)

#: the moments of a run a benchmark's phase table starts and ends phases at (with the
#: time of each line: ``logging``'s ``created``); silent unless logging is configured
PHASES = logging.getLogger("cellucid.engine")


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
    layout: str = "key",
    out_path: str | Path | None = None,
    format: str | None = None,  # noqa: A002 - upstream 0.9.5's keyword
    data: Any = None,
    embeddings: Mapping[str, Any] | None = None,
    modalities: Sequence[str] | None = None,
    citation_text: str | None = None,
    citation_url: str | None = None,
    embedding_defaults: Mapping[str, Any] | None = None,
    latent_key: str | None = None,
    vector_field_default: str | None = None,
    normalize_embeddings: bool | None = None,
    modality: str | None = None,
    zarr_format: int | None = None,
) -> Path:
    # the docstring is assembled below from the options table, so help texts live once
    values = dict(locals())
    # every dask computation of the call, checks included, on a scheduler dask need not
    # look up (no import of distributed without a Client)
    with local_scheduler(option_table.plain_value(scheduler)):
        if format is not None:
            return store_export(values)
        refuse_store_only(values)
        values["var"] = in_memory_table(values["var"])  # read_lazy's var counts its columns
        if values["out_dir"] is not None:
            values["out_dir"] = output_path(values["out_dir"], "OUT" if on_cli() else "out_dir")
        return export(FolderRequest.from_arguments(option_table.plain_values(values)))


def store_export(values: dict[str, Any]) -> Path:
    """Run ``prepare(out_path, format=...)``: a Cellucid-ready AnnData store."""
    from cellucid.sinks.anndata.run import write_anndata_store

    values = option_table.plain_values(values)
    values["zarr_format"] = option_table.plain_value(values["zarr_format"])
    request = store_request(values)
    progress = values["progress"]
    if progress is None:
        progress = default_progress(values["quiet"])
    return write_anndata_store(request, progress=progress, quiet=values["quiet"])


def export(request: FolderRequest) -> Path:
    """Write the export folder of one request: checks, plan, then the engine."""
    PHASES.info("mark checks")
    option_table.check_values(request)
    check_out_dir(request.out_dir)
    refuse_unreadable_inputs(request.inputs)
    reporter = Reporter(request.quiet)
    # a damaged record is said before the lock file or the folder is made (read again
    # under the lock, which decides; a file of the planned export is in a known place too)
    old_record = None if request.force else read_record(request.target)
    if old_record is not None:
        check_record_files(request.target, old_record, set())
    key = request_key(request, request.target)
    if not request.force and _already_exported(request.target, key, reporter):
        return request.target
    inputs = check_inputs(
        request.inputs,
        request.chunk_rows,
        var_gene_id_column=request.var_gene_id_column,
        codes_request=request.obs_categorical_dtype,
    )
    refuse_handles_for_processes(request.scheduler, inputs)
    _check_requested_genes(inputs, request, reporter)
    target = request.target
    plan = make_plan(inputs.summary(), request.settings(target))
    check_name_lengths(target, plan.files())
    fingerprint, parts = _fingerprint(inputs, plan, request)
    _make_folder(target)
    with export_lock(target):
        # a rerun of the same inputs (by their stamp) takes the checksums of the record
        checksums = None if request.force else checksums_to_reuse(target, key, fingerprint)
        if checksums is None:
            with_matrix = not _matrix_checksums_can_wait(target, plan, request.force)
            checksums = input_checksums(inputs, with_matrix=with_matrix)
        record = ExportRecord(
            fingerprint, plan.settings.record_dict(), plan.files(), False, checksums, parts
        )
        try:
            resume = _prepare_target(target, record, set(plan.files()), request.force)
        except ExportMismatchError as error:
            raise ExportMismatchError(in_callers_terms(str(error))) from None
        stamp_started(target, key, record)
        PHASES.info("mark sections")
        out = _run(plan, inputs, reporter, request, resume=resume, record=record)
        stamp_finished(target, key)
        PHASES.info("mark written")
        return out


def _already_exported(target: Path, key: str | None, reporter: Reporter) -> bool:
    """Whether ``target`` holds this very export, finished and untouched (then says so).

    Decided from the stamp of the run that finished it (see
    :mod:`cellucid.sinks.folder.stamps`) without reading any input file: well under a
    second where the checks and checksums read every input again.
    """
    if not may_be_finished(target, key):
        return False
    assert key is not None
    with export_lock(target):
        if not finished_unchanged(target, key):
            return False
    reporter.say(
        in_callers_terms(
            f"✓ {target} already holds this export, finished, from the same inputs and "
            "settings (unchanged since): nothing to write. Use force=True to write it again."
        )
    )
    return True


def _run(
    plan: ExportPlan,
    inputs: CheckedInputs,
    reporter: Reporter,
    request: FolderRequest,
    *,
    resume: bool,
    record: ExportRecord,
) -> Path:
    target = plan.settings.out_dir
    progress = default_progress(request.quiet) if request.progress is None else request.progress
    scheduler = request.scheduler
    started = time.perf_counter()
    try:
        # a named scheduler applies to every dask computation of the run
        with local_scheduler(scheduler):
            out = run_export(
                plan, inputs, reporter, resume=resume, progress=progress, record=record
            )
    except KeyboardInterrupt:
        print(interrupted_line(target), file=sys.stderr, flush=True)
        raise
    reporter.say(summary_line(plan, inputs, time.perf_counter() - started, reporter.n_kept))
    return out


def _matrix_checksums_can_wait(target: Path, plan: ExportPlan, force: bool) -> bool:
    """Whether the genes' pass one may checksum the matrix as it reads it (one read less).

    Only when no earlier record needs the matrix's checksums to decide on a resume: none,
    a forced rewrite, or one whose run stopped before it checksummed the matrix (and so
    before it wrote anything made from it). Pass one runs only for quantized genes.
    """
    if plan.genes is None or not plan.genes.ids or plan.settings.var_quantization is None:
        return False
    if force:
        return True
    try:
        old = read_record(target)
    except DamagedRecordError:
        return False  # the folder checks say what is wrong; nothing to gain here
    return old is None or is_pending(old.checksums.get(MATRIX))


def _check_requested_genes(
    inputs: CheckedInputs, request: FolderRequest, reporter: Reporter
) -> None:
    """No requested gene in var is an error; some missing is a warning naming a few."""
    unknown = list(inputs.unknown_genes)
    if not unknown:
        return
    requested = len(unknown) + len(inputs.gene_ids)
    examples = ", ".join(repr(g) for g in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
    if not len(inputs.gene_ids):
        var = request.inputs.var
        hint = ""
        if var is not None and len(var):
            column = request.var_gene_id_column
            ids = var.index if column == "index" else var[column]
            hint = "; var ids look like " + ", ".join(repr(str(g)) for g in list(ids[:3]))
        raise ValueError(
            f"none of the {count(requested, 'requested gene')} are in var (e.g. {examples}){hint}."
        )
    reporter.say(
        f"⚠ Warning: {len(unknown):,} of the {count(requested, 'requested gene')} "
        f"are not in var and are skipped: {examples}"
    )


def summary_line(plan: ExportPlan, inputs: CheckedInputs, seconds: float, kept: int = 0) -> str:
    """The last line of an export: what was written (``kept`` files of an earlier run were
    kept), how big, how long, where."""
    files = plan.files()
    n_bytes = files_bytes(plan.settings.out_dir, files)
    n_genes = len(plan.genes.ids) if plan.genes is not None else 0
    return (
        f"✓ Exported {count(inputs.n_cells, 'cell')} × {count(n_genes, 'gene')} "
        f"({count(len(files), 'file')}, {size(n_bytes)}"
        + (f"; {len(files) - kept:,} written, {kept:,} kept" if kept else "")
        + f") in {seconds:.1f} s "
        f"to {plan.settings.out_dir}"
    )


def _fingerprint(
    inputs: CheckedInputs, plan: ExportPlan, request: FolderRequest
) -> tuple[str, dict[str, str]]:
    """The record's fingerprint, and its parts by parameter name (to say what differs)."""
    arrays = {f"embedding_{d}d": x for d, x in inputs.embeddings.items()}
    named = {f"X_umap_{d}d": x for d, x in inputs.embeddings.items()}
    if inputs.latent is not None:
        arrays["latent"] = named["latent_space"] = inputs.latent
    if inputs.matrix is not None:
        arrays["gene_expression"] = named["gene_expression"] = inputs.matrix
    if inputs.connectivities is not None:
        arrays["connectivities"] = named["connectivities"] = inputs.connectivities
    for field_id, dims in inputs.vectors.items():
        arrays |= {f"vector_{field_id}_{d}d": x for d, x in dims.items()}
        named |= {f"vector_fields[{field_id!r}] ({d}D)": x for d, x in dims.items()}
    frames = {"obs": inputs.obs}
    if request.inputs.var is not None and inputs.matrix is not None:
        frames["var"] = request.inputs.var
    categories = {
        c.key: c.categories for c in inputs.obs_columns if isinstance(c, CategoricalColumn)
    }
    extra = {"genes": list(inputs.gene_ids), "categories": categories}
    other = {"exported genes": extra["genes"], "obs categories": categories}
    return (
        fingerprint(arrays, frames, plan.settings.record_dict() | extra),
        fingerprint_parts(named, frames, other),
    )


def _make_folder(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(
            f"Output folder {target} (or one of its parents) is an existing file, not a "
            "folder: choose another output folder or remove the file."
        ) from None
    except OSError as error:
        raise ExportWriteError(error.errno, describe_os_error(error, target)) from error


def _prepare_target(target: Path, record: ExportRecord, planned: set[str], force: bool) -> bool:
    """Check what the folder holds, then clear what must go; returns whether to resume.

    Runs under the folder's lock, so no other run changes it meanwhile.
    """
    resume, stale = prepare_folder(target, record, planned, force)
    try:
        for temp in leftover_temp_files(target):
            temp.unlink()
        for relative in stale:
            path = target / relative
            if path.is_file() or path.is_symlink():
                path.unlink()
        if force:
            shutil.rmtree(target / SPILL_DIRNAME, ignore_errors=True)
    except OSError as error:
        raise ExportWriteError(error.errno, describe_os_error(error, target)) from error
    return resume


def refuse_store_only(values: dict[str, Any]) -> None:
    """An export folder has no use for the store's keywords: name the one given."""
    given = [name for name in STORE_ONLY if values[name] is not None]
    if given:
        raise TypeError(
            f"{given[0]} applies to a Cellucid-ready AnnData store only: pass "
            "format='zarr', 'zarr.zip' or 'h5ad' (with out_path) to write one, or drop "
            f"{given[0]} to write an export folder."
        )


_DATA_PARAMETERS = """\
latent_space
    (n_cells, n_dims) latent space used for the outlier quantiles of categorical fields;
    required only when a categorical obs field is exported.
obs
    Cell metadata, one row per cell: a DataFrame, an xarray Dataset or AnnData's lazy
    obs (read one column at a time); ``None`` exports no obs field.
var
    Gene metadata, one row per column of ``gene_expression``.
gene_expression
    (n_cells, n_genes) expression matrix.
gene_identifiers
    Genes to export, in this order; unknown ids are dropped with a warning (none found
    is an error).
connectivities
    (n_cells, n_cells) KNN graph (``obsp["connectivities"]``).
out_dir
    Output folder; default ``exports`` under the current directory.
obs_keys
    obs columns to export (default all, in order).
X_umap_1d
    Embedding of shape (n_cells, 1); at least one of the three embeddings is required.
X_umap_2d
    Embedding of shape (n_cells, 2).
X_umap_3d
    Embedding of shape (n_cells, 3).
X_umap_4d
    Reserved; raises ``NotImplementedError``.
vector_fields
    Mapping of names to (n_cells, d) arrays, e.g. ``{"velocity_umap_2d": V}``.
"""

_STORE_PARAMETERS = """\
out_path
    With ``format``: where the store goes (``.zarr``, ``.zarr.zip`` or ``.h5ad``); also the
    first positional argument, as upstream cellucid 0.9.5 takes it:
    ``prepare("atlas.zarr", format="zarr", data=adata, dataset_id=..., dataset_name=...)``.
format
    ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``: write a Cellucid-ready AnnData store (upstream
    0.9.5's API, streamed out of core) instead of an export folder. The store takes
    ``data`` (an AnnData, backed or not, or a path to ``.h5ad`` / ``.zarr``) and upstream's
    keywords: ``embeddings``, ``obs``, ``var``, ``gene_expression``, ``connectivities``,
    ``vector_fields`` (``{field: {"X_<basis>": array}}``), ``gene_identifiers``,
    ``dataset_id``, ``dataset_name``, ``dataset_description``, ``citation_text``,
    ``citation_url``, ``source_name``, ``source_url``, ``embedding_defaults``,
    ``latent_key``, ``obs_keys``, ``var_gene_id_column``, ``vector_field_default``,
    ``normalize_embeddings``, ``centroid_min_points``, ``zarr_format`` (2, the default, or
    3) and ``force``; export-folder options are refused with it. See docs/anndata-store.md.
data, embeddings, modalities, citation_text, citation_url, embedding_defaults, latent_key
    Store keywords (see ``format``); ``modalities`` and ``modality`` (MuData) are refused.
vector_field_default, normalize_embeddings, modality, zarr_format
    Store keywords (see ``format``).
"""


def _docstring() -> str:
    options = "".join(
        f"{o.name}\n    {o.help[:1].upper()}{o.help[1:]} (default ``{o.default!r}``).\n"
        for o in option_table.OPTIONS
    )
    body = (_DATA_PARAMETERS + options).replace("\n", "\n    ")
    return (
        "Export arrays and cell metadata to a Cellucid export folder, or (with ``format``) "
        "write a\n    Cellucid-ready AnnData store for today's Cellucid web app.\n\n"
        "    Every input may be a numpy array, a scipy sparse matrix or array, a dask array,\n"
        "    an h5py dataset, a zarr array, an AnnData backed sparse dataset or an xarray\n"
        "    DataArray. The expression matrix is streamed in blocks of cells and never held\n"
        "    whole in memory.\n\n"
        "    Parameters\n    ----------\n    "
        + body.rstrip()
        + "\n\n    " + _STORE_PARAMETERS.replace("\n", "\n    ").rstrip()
        + "\n\n    Returns\n    -------\n    pathlib.Path\n"
        + "        The export folder, or the store.\n"
    )


prepare.__doc__ = _docstring()
