"""Writing one Cellucid-ready AnnData store: checks, the scan of X, then the writers.

Reductions first: every argument is checked and converted (:func:`~.build.build_content`)
and X is scanned once (counts, value checks, a gene-major spill) before the store exists,
so a refused input leaves nothing behind. The store is then written under a hidden
temporary sibling name while the X chunks are assembled group by group, and renamed into
place only once complete: an interrupted or failed run never leaves a store at the final
name.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from functools import partial
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from cellucid.engine.files import RUN_TOKEN, TEMP_MARKER
from cellucid.engine.heap import release_free_memory
from cellucid.sinks.anndata.arguments import StoreRequest, StoreTarget, check_request
from cellucid.sinks.anndata.build import build_content
from cellucid.sinks.anndata.content import DenseX, SparseX
from cellucid.sinks.anndata.csc import Chunk, assembly_tasks, plan_assembly, scan_sparse
from cellucid.sinks.anndata.dense import dense_tasks, scan_dense
from cellucid.sinks.anndata.expression import ExpressionSource
from cellucid.sinks.anndata.readers import block_reader, strip_reader
from cellucid.sinks.anndata.tasks import in_order, run_all
from cellucid.sinks.anndata.writers import write_store


def container_of(target: StoreTarget) -> str:
    """``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``."""
    if target.kind == "h5ad":
        return "h5ad"
    return "zarr.zip" if target.zipped else "zarr"


def _whole_matrix_rows(source: ExpressionSource) -> int | None:
    """Rows per scan block when X must be read whole, else None (measured on the data).

    anndata reads any rows of a CSC matrix on disk by loading every column whole, so a
    grid of blocks would load the whole matrix once per block, in every thread at once:
    one block loads it once (as upstream 0.9.5 does). Streaming such an input needs a
    gene-major scan of its own.
    """
    if source.kind == "backed-sparse" and source.format == "csc":
        return max(1, source.shape[0])
    return None


def scan_x(
    source: ExpressionSource, spill_dir: Path, progress: bool
) -> tuple[SparseX | DenseX, Iterable[Chunk]]:
    """Scan X (checks, stored type, for sparse X the gene-major spill) and plan its chunks.

    Raises
    ------
    ExpressionValuesError
        When X holds values the store refuses; nothing of the store exists yet.
    """
    n_cells, n_input = source.shape
    if source.sparse:
        scan = scan_sparse(
            n_cells,
            n_input,
            source.columns,
            block_reader(source),
            spill_dir,
            partial(run_all, desc="X: scan", progress=progress),
            block_rows=_whole_matrix_rows(source),
        )
        x = SparseX((n_cells, source.n_genes), scan.indptr, scan.dtype)
        return x, in_order(assembly_tasks(plan_assembly(scan)))
    read = strip_reader(source)
    checks = partial(run_all, desc="X: checks", progress=progress)
    plan = scan_dense(n_cells, n_input, source.columns, read, checks)
    x = DenseX((n_cells, source.n_genes), plan.dtype)
    return x, in_order(dense_tasks(plan, read))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(FileNotFoundError):
            path.unlink()


def _sibling(target: Path, role: str) -> Path:
    """A hidden sibling that never looks like a finished store (pid and run token inside)."""
    return target.with_name(f".{target.name}{TEMP_MARKER}{role}-{os.getpid()}-{RUN_TOKEN}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(target: Path) -> list[Path]:
    """Remove the hidden siblings of runs whose process is gone (a run killed with SIGKILL).

    Each sibling's name carries its writer's pid: a sibling of a live process (another run
    writing the same target) stays.
    """
    removed = []
    prefix = f".{target.name}{TEMP_MARKER}"
    for path in target.parent.glob(f"{glob_escape(prefix)}*"):
        fields = path.name[len(prefix) :].split("-")
        if len(fields) == 3 and fields[1].isdigit() and not _pid_alive(int(fields[1])):
            _remove(path)
            removed.append(path)
    return removed


def _place(staging: Path, target: Path) -> None:
    """Move the finished store into place, replacing an old one only once the new is whole."""
    if not (target.exists() or target.is_symlink()):
        os.replace(staging, target)
        return
    old = _sibling(target, "replaced")
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` with its missing parents; returns those created, deepest first."""
    missing = []
    at = folder
    while not (at.exists() or at.is_symlink()) and at.parent != at:
        missing.append(at)
        at = at.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _close(chunks: Iterable[Chunk] | None) -> None:
    """Stop a chunk stream the writer left unfinished (its tasks cancelled, see tasks.in_order)."""
    close = getattr(chunks, "close", None)
    if callable(close):
        close()


def write_anndata_store(
    request: StoreRequest, *, progress: bool = False, quiet: bool = False
) -> Path:
    """Write the Cellucid-ready AnnData store ``request`` describes, and return its path.

    Parameters
    ----------
    request
        The ``prepare(out_path, format=..., ...)`` call.
    progress
        Show progress bars of the scan of X.
    quiet
        Print nothing.

    Raises
    ------
    TypeError, ValueError, FileExistsError, FileNotFoundError
        A refused argument or input value, before anything is written.
    """
    target = check_request(request)
    started = time.perf_counter()
    content, source = build_content(request, note=None if quiet else print)
    release_free_memory()  # the conversions' copies, before the X passes allocate theirs
    created = _make_folder(target.path.parent)
    remove_abandoned(target.path)
    staging, spill = _sibling(target.path, "store"), _sibling(target.path, "spill")
    chunks: Iterable[Chunk] | None = None
    placed = False
    try:
        if source is not None:
            spill.mkdir()
            x, chunks = scan_x(source, spill, progress)
            content = replace(content, x=x)
        write_store(
            staging, container_of(target), content, chunks, zarr_format=target.zarr_format or 2
        )
        _place(staging, target.path)
        placed = True
    finally:
        _close(chunks)  # before the spill goes: no assembly task may still read it
        for leftover in (staging, spill, staging.with_name(staging.name + ".zarr")):
            _remove(leftover)
        if source is not None:
            source.close()
        for folder in created if not placed else ():  # a failed run leaves no new folder
            with suppress(OSError):
                folder.rmdir()
    if not quiet:
        print(_summary(target, content, time.perf_counter() - started))
    return target.path


def _summary(target: StoreTarget, content: Any, seconds: float) -> str:
    kind = container_of(target)
    if target.zarr_format:
        kind += f", Zarr v{target.zarr_format}"
    genes = content.x.shape[1] if content.x is not None else 0
    return (
        f"✓ Wrote {target.path} ({kind}): {len(content.obs_index):,} cells, {genes:,} genes, "
        f"in {seconds:.1f} s. Open it in the Cellucid web app (www.cellucid.com) from the file "
        "or a link to it."
    )
