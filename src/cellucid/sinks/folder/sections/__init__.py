"""The section writers of an export folder, as one ordered list of stages.

Each module of this package writes one section: a function of the
:class:`~cellucid.sinks.folder.context.RunContext` that writes its files and leaves what
later sections need in ``context.results`` (see :mod:`cellucid.sinks.folder.results`).
:func:`folder_pipeline` lists them in running order; manifests and the identity are
sections too, last. A new section is one module and one line in that list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.pipeline import Pipeline, Stage
from cellucid.sinks.folder.sections import (
    connectivity,
    genes,
    identity,
    manifests,
    obs,
    points,
    vectors,
)

_EARLY_VIEW: ContextVar[bool] = ContextVar("cellucid_early_view", default=False)


def folder_pipeline() -> Pipeline:
    """The stages of an export folder, in order.

    The connectivity is written in a second thread from the start, beside the points,
    the obs and both passes of the genes: they read different inputs, and the sections
    before the gene blocks leave a core mostly idle. The manifests wait for it (they need
    the edges). The genes run in two stages: pass one (each gene's range, the var
    manifest's entries), then the gene files, which an early-view run writes last.
    """
    return Pipeline(
        (
            Stage("connectivity", connectivity.write_connectivity, beside=True),
            Stage("points", points.write_points),
            Stage("vectors", vectors.write_vectors),
            Stage("obs", obs.write_obs),
            Stage("genes", genes.plan_gene_fields),
            Stage("genes", genes.write_gene_files, after_view=True),
            Stage("manifests", manifests.write_manifests, waits_beside=True),
            Stage("identity", identity.write_identity),
        )
    )


@contextmanager
def early_view() -> Iterator[None]:
    """Within this block (same thread), exports publish a viewable folder before genes.

    The order becomes: every other section, the genes' ranges, the manifests, the identity,
    then the gene files. The export record still says complete only at the very end, so an
    interrupted run resumes as usual; a folder made this way has its identity before its
    gene files, which the serving of cached exports (``cellucid.anndata_serve``) waits for.
    """
    token = _EARLY_VIEW.set(True)
    try:
        yield
    finally:
        _EARLY_VIEW.reset(token)


def run_sections(context: RunContext) -> None:
    """Run every section of :func:`folder_pipeline` in order (see :func:`early_view`).

    Each section's wall time goes to ``context.timings`` and to the ``cellucid.engine``
    logger (the benchmarks read it to report time per phase).
    """
    folder_pipeline().run(context, early_view=_EARLY_VIEW.get())


__all__ = ["early_view", "folder_pipeline", "run_sections"]
