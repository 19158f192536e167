"""An export run as one ordered list of stages (as rechunker's ``Pipeline`` of ``Stage``).

A stage is one named step of the run: a function of the
:class:`~cellucid.sinks.folder.context.RunContext`. The list says the order; three marks say
where a stage runs instead:

- ``beside``: in a second thread from the start, beside the main stages (it reads other
  inputs than they do);
- ``waits_beside``: the main thread waits for every ``beside`` stage before this one (it
  needs what they computed);
- ``after_view``: an early-view run moves it after every other main stage, so the folder
  is viewable before this (slow) stage has written its files.

Each stage's wall time adds up under its name in ``context.timings`` and goes to the
``cellucid.engine`` logger; freed heap memory goes back to the system after each one.

The second thread runs in a copy of the caller's context (messages word options as the
caller spells them, e.g. ``--force`` on the command line) and its progress bars count
without drawing: the screen belongs to the main stages, and the main thread shows what
is left of the ``beside`` stages only when it waits for them.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cellucid.engine.heap import release_free_memory
from cellucid.progress import in_background, wait_showing
from cellucid.sinks.folder.context import RunContext


@dataclass(frozen=True)
class Stage:
    """One step of an export run (several stages may share a name: their times add up)."""

    name: str
    run: Callable[[RunContext], None]
    beside: bool = False
    waits_beside: bool = False
    after_view: bool = False


@dataclass(frozen=True)
class Pipeline:
    """The stages of an export run, in order."""

    stages: tuple[Stage, ...]

    def beside(self) -> list[Stage]:
        """The stages of the second thread, in order."""
        return [s for s in self.stages if s.beside]

    def main(self, early_view: bool = False) -> list[Stage]:
        """The stages of the main thread, in the order they run."""
        main = [s for s in self.stages if not s.beside]
        if early_view:
            main = [s for s in main if not s.after_view] + [s for s in main if s.after_view]
        return main

    def run(self, context: RunContext, *, early_view: bool = False) -> None:
        """Run every stage: the ``beside`` ones in a second thread, the others in order."""
        wait = _start_beside(context, self.beside())
        for stage in self.main(early_view):
            if stage.waits_beside:
                wait()
            _timed(context, stage)
        wait()


def _timed(context: RunContext, stage: Stage) -> None:
    with context.phase(stage.name):
        stage.run(context)
    release_free_memory()


def _start_beside(context: RunContext, stages: list[Stage]) -> Callable[[], None]:
    """Run ``stages`` in a daemon thread; returns the call that waits for them.

    A daemon thread, as the task runner's workers: after Ctrl+C the process does not wait
    for it (a concurrent.futures worker would be joined at exit).
    """
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with in_background():
                for stage in stages:
                    _timed(context, stage)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(error)

    caller = contextvars.copy_context()
    thread = threading.Thread(target=caller.run, args=(work,), daemon=True, name="cellucid-beside")
    thread.start()

    def wait() -> None:
        wait_showing(thread, context.progress)  # short waits: Ctrl+C is handled at once
        if errors:
            raise errors[0]

    return wait
