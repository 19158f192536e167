"""The section writers of an export, chosen from one registry and run in order.

Each module of this package registers one writer (see :mod:`.registry`); a writer takes
the :class:`~cellucid.engine.context.RunContext`, writes its files and leaves what later
sections need in ``context.results``. Manifests and the identity are sections too, last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

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

# the sections an early-view run holds back until the manifests and identity exist
_LATE = ("genes", "manifests", "identity")
# run beside the genes' pass one in an early-view run: they read different inputs
_BESIDE_GENE_RANGES = ("connectivity",)
_EARLY_VIEW: ContextVar[bool] = ContextVar("cellucid_early_view", default=False)


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


def _timed(context: RunContext, name: str, step: Callable[[RunContext], None]) -> None:
    with context.phase(name):
        step(context)


def run_sections(context: RunContext) -> None:
    """Run every registered section writer in order (see :func:`early_view`).

    Each section's wall time goes to ``context.results["timings"]`` and to the
    ``cellucid.engine`` logger (the benchmarks read it to report time per phase).
    """
    if not _EARLY_VIEW.get():
        for name, writer in writers():
            _timed(context, name, writer)
        return
    held = dict((name, w) for name, w in writers() if name in _LATE + _BESIDE_GENE_RANGES)
    for name, writer in writers():
        if name not in held:
            _timed(context, name, writer)
    # The graph and the matrix are read at once: the first view waits for both.
    with ThreadPoolExecutor(max_workers=1) as pool:
        beside = [
            pool.submit(_timed, context, name, held[name])
            for name in _BESIDE_GENE_RANGES
            if name in held
        ]
        _timed(context, "genes", genes.plan_gene_fields)
        for future in beside:
            future.result()
    _timed(context, "manifests", held["manifests"])
    _timed(context, "identity", held["identity"])
    _timed(context, "genes", genes.write_gene_files)


__all__ = ["early_view", "run_sections", "section", "writers"]
