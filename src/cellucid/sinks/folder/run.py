"""Carrying out an export plan: the folder, the record, then every section in order."""

from __future__ import annotations

import dataclasses
import errno
import shutil
from pathlib import Path

from cellucid.checks.checked import CheckedInputs
from cellucid.engine.files import describe_os_error
from cellucid.errors import ExportWriteError
from cellucid.report import Reporter
from cellucid.sinks.folder.context import GENE_SPILL_NAME, SPILL_DIRNAME, RunContext
from cellucid.sinks.folder.gene_spill import remove_spill
from cellucid.sinks.folder.plan.types import ExportPlan
from cellucid.sinks.folder.sections import run_sections
from cellucid.sinks.folder.state import ExportRecord, write_record

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def run_export(
    plan: ExportPlan,
    inputs: CheckedInputs,
    reporter: Reporter,
    *,
    resume: bool,
    progress: bool,
    record: ExportRecord,
) -> Path:
    """Write every file of ``plan``; the record says complete only at the very end.

    The caller holds the folder's lock, so the shared spill folder is this run's alone.
    """
    out = plan.settings.out_dir
    try:
        for folder in plan.folders():
            (out / folder).mkdir(parents=True, exist_ok=True)
        write_record(out, record)
        clear_scratch(out / SPILL_DIRNAME, keep_gene_blocks=resume)
        context = RunContext(
            plan, inputs, reporter, resume=resume, progress=progress, record=record
        )
        run_sections(context)
        record = context.record
        reused = reporter.reuse_line()
        if reused:
            reporter.say(reused)
        shutil.rmtree(out / SPILL_DIRNAME, ignore_errors=True)
    except OSError as error:
        # spill files and folders are opened outside atomic_file; a full disk there must
        # read like one anywhere else (read errors of the inputs pass through unchanged)
        if isinstance(error, ExportWriteError) or error.errno not in _WRITE_ERRNOS:
            raise
        raise ExportWriteError(error.errno, describe_os_error(error, out)) from error
    write_record(out, dataclasses.replace(record, complete=True))
    return out


def clear_scratch(spill: Path, keep_gene_blocks: bool) -> None:
    """Remove what earlier runs left in the spill folder.

    Scratch files of a killed run are never complete, so they always go. The gene blocks
    an interrupted run committed stay when this run resumes the export (same fingerprint
    and inputs): the genes section reuses them when they fit its grid and settings.
    """
    if not spill.is_dir():
        return
    for entry in spill.iterdir():
        if entry.name == GENE_SPILL_NAME:
            if not keep_gene_blocks:
                remove_spill(entry)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
