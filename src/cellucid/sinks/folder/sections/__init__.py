"""The section writers of an export, chosen from one registry and run in order.

Each module of this package registers one writer (see :mod:`.registry`); a writer takes
the :class:`~cellucid.sinks.folder.context.RunContext`, writes its files and leaves what later
sections need in ``context.results``. Manifests and the identity are sections too, last.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cellucid.engine.heap import release_free_memory
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.sections import (  # noqa: F401  (each module registers its writer)
    connectivity,
    genes,
    identity,
    manifests,
    obs,
    points,
    vectors,
)
from cellucid.sinks.folder.sections.registry import section, writers

# the sections run after the others: genes (both passes), then manifests and identity
_LATE = ("genes", "manifests", "identity")
# run in a second thread from the start, beside the other sections: other inputs
_BESIDE = ("connectivity",)
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
    release_free_memory()


def _start_beside(context: RunContext, steps: list[tuple[str, Callable]]) -> Callable[[], None]:
    """Run ``steps`` in a daemon thread; returns the call that waits for them.

    A daemon thread, as the task runner's workers: after Ctrl+C the process does not wait
    for it (a concurrent.futures worker would be joined at exit).
    """
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for name, step in steps:
                _timed(context, name, step)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=work, daemon=True, name="cellucid-beside")
    thread.start()

    def wait() -> None:
        while thread.is_alive():
            thread.join(0.1)  # short waits: Ctrl+C reaches the main thread at once
        if errors:
            raise errors[0]

    return wait


def run_sections(context: RunContext) -> None:
    """Run every registered section writer in order (see :func:`early_view`).

    The connectivity is written in a second thread from the start, beside the points,
    the obs and both passes of the genes: they read different inputs, and the sections
    before the gene blocks leave a core mostly idle. An early-view run waits for it
    before its manifests (they need the edges), which come before the gene files; any
    other run waits only before the manifests and the identity, last. Each section's wall
    time goes to ``context.timings`` and to the ``cellucid.engine`` logger
    (the benchmarks read it to report time per phase).
    """
    held = dict((name, w) for name, w in writers() if name in _LATE + _BESIDE)
    wait = _start_beside(context, [(n, held[n]) for n in _BESIDE if n in held])
    for name, writer in writers():
        if name not in held:
            _timed(context, name, writer)
    _timed(context, "genes", genes.plan_gene_fields)
    last = [(name, held[name]) for name in ("manifests", "identity")]
    if _EARLY_VIEW.get():
        wait()
        for name, writer in last:
            _timed(context, name, writer)
        last = []
    _timed(context, "genes", genes.write_gene_files)
    wait()
    for name, writer in last:
        _timed(context, name, writer)


__all__ = ["early_view", "run_sections", "section", "writers"]
