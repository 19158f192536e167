"""Carrying out an export plan: the folder, the record, then every section in order."""

from __future__ import annotations

import dataclasses
import errno
import shutil
from pathlib import Path

from cellucid.checked import CheckedInputs
from cellucid.engine.context import SPILL_DIRNAME, RunContext
from cellucid.engine.files import ExportWriteError, describe_os_error
from cellucid.engine.sections import run_sections
from cellucid.engine.state import ExportRecord, write_record
from cellucid.plan.types import ExportPlan
from cellucid.report import Reporter

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
        # pieces of an interrupted run: never reused, their grid may not even match
        shutil.rmtree(out / SPILL_DIRNAME, ignore_errors=True)
        context = RunContext(
            plan, inputs, reporter, resume=resume, progress=progress, record=record
        )
        run_sections(context)
        record = context.record
        shutil.rmtree(out / SPILL_DIRNAME, ignore_errors=True)
    except OSError as error:
        # spill files and folders are opened outside atomic_file; a full disk there must
        # read like one anywhere else (read errors of the inputs pass through unchanged)
        if isinstance(error, ExportWriteError) or error.errno not in _WRITE_ERRNOS:
            raise
        raise ExportWriteError(error.errno, describe_os_error(error, out)) from error
    write_record(out, dataclasses.replace(record, complete=True))
    return out
