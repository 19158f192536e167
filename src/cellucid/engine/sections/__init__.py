"""The section writers of an export, chosen from one registry and run in order.

Each module of this package registers one writer (see :mod:`.registry`); a writer takes
the :class:`~cellucid.engine.context.RunContext`, writes its files and leaves what later
sections need in ``context.results``. Manifests and the identity are sections too, last.
"""

from __future__ import annotations

import logging
import time

from cellucid.engine.context import RunContext
from cellucid.engine.sections import (  # noqa: F401  (each module registers its writer)
    connectivity,
    genes,
    identity,
    manifests,
    obs,
    points,
    vectors,
)
from cellucid.engine.sections.registry import section, writers

LOG = logging.getLogger("cellucid.engine")


def run_sections(context: RunContext) -> None:
    """Run every registered section writer in order.

    Each section's wall time goes to ``context.results["timings"]`` and to the
    ``cellucid.engine`` logger (the benchmarks read it to report time per phase).
    """
    timings = context.results.setdefault("timings", {})
    for name, writer in writers():
        start = time.perf_counter()
        writer(context)
        timings[name] = time.perf_counter() - start
        LOG.info("section %s: %.2f s", name, timings[name])


__all__ = ["run_sections", "section", "writers"]
