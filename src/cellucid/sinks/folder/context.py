"""What every section writer of one export run shares."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cellucid.checks.checked import CheckedInputs
from cellucid.engine.checksums import is_pending
from cellucid.engine.files import RUN_TOKEN
from cellucid.report import Reporter
from cellucid.sinks.folder.binary_files import write_binary
from cellucid.sinks.folder.layouts import Layout, get_layout
from cellucid.sinks.folder.plan.types import ExportPlan
from cellucid.sinks.folder.results import SectionResults
from cellucid.sinks.folder.state import ExportRecord, write_record

SPILL_DIRNAME = ".cellucid-spill"
#: the part of the spill folder that outlives a run: gene blocks an interrupted run
#: completed (see :mod:`cellucid.sinks.folder.gene_spill`); the rest is per-run scratch
GENE_SPILL_NAME = "genes"
LOG = logging.getLogger("cellucid.engine")


@dataclass
class RunContext:
    """The plan, the inputs and what earlier sections computed (``results``)."""

    plan: ExportPlan
    inputs: CheckedInputs
    reporter: Reporter
    resume: bool
    progress: bool
    #: the export record as written at the start; sections may complete its checksums
    record: ExportRecord | None = None
    results: SectionResults = field(default_factory=SectionResults)
    #: wall seconds per section and phase, added up (see :meth:`phase`)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.plan.settings.out_dir

    @property
    def spill(self) -> Path:
        """This run's scratch folder (inside the shared spill folder, unique per run)."""
        return self.out / SPILL_DIRNAME / f"run-{os.getpid()}-{RUN_TOKEN}"

    @property
    def gene_spill(self) -> Path:
        """The gene blocks kept for a rerun, shared by the runs of this export."""
        return self.out / SPILL_DIRNAME / GENE_SPILL_NAME

    @property
    def layout(self) -> Layout:
        return get_layout(self.plan.layout)

    @property
    def compression(self) -> int | None:
        return self.plan.settings.compression

    def say(self, message: str) -> None:
        self.reporter.say(message)

    def checksum_pending(self, name: str) -> bool:
        """Whether the record waits for this run to checksum input ``name``."""
        return self.record is not None and is_pending(self.record.checksums.get(name))

    def record_checksums(self, name: str, entry: dict[str, Any]) -> None:
        """Put input ``name``'s checksums in the record, on disk before any file made from it."""
        assert self.record is not None
        self.record = replace(self.record, checksums=self.record.checksums | {name: entry})
        write_record(self.out, self.record)

    def keep(self, relative: str, section: str) -> bool:
        """Whether a complete file from an earlier run of this export can stay (counted)."""
        return self.keep_all((relative,), section)

    def keep_all(self, relatives: tuple[str, ...], section: str) -> bool:
        """Whether every one of ``relatives`` can stay; counted only when all do (a section
        that writes its files together rewrites them all when one is missing)."""
        if self.resume and all((self.out / r).exists() for r in relatives):
            self.reporter.keep(section, len(relatives))
            return True
        return False

    def write(self, relative: str, array: np.ndarray) -> None:
        write_binary(self.out / relative, array, self.compression)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase: seconds add up in :attr:`timings` and go to the engine log."""
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + seconds
            LOG.info("section %s: %.2f s", name, seconds)
