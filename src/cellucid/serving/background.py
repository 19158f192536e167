"""An export written in a background thread into the export cache, viewable before it ends.

The export runs with :func:`cellucid.sinks.folder.sections.early_view`: points, vectors, obs,
connectivity, the genes' ranges, the manifests and the identity come first, the gene files
last. The server starts once the identity exists; a request for a file the export record
lists but that is not written yet waits (bounded) for it (see :meth:`BackgroundExport.wait_for`).

Ending the process while an export runs. An ordinary interpreter exit first joins the
worker pools (``concurrent.futures``, dask's threads), each finishing the block it is on:
seconds on a loaded machine. It then freezes the daemon export thread wherever it is; when
that is inside h5py, h5py's global lock stays held and the interpreter, freeing an h5py
object while it shuts down, waits for that lock forever (the main thread was seen stuck
there). So ``cellucid serve`` ends the process at once after Ctrl+C (:func:`end_process`),
and a script that ends while an export runs exits once the main thread holds h5py's lock,
or at once when it does not come free (:func:`_at_exit`). Either way the export folder is
left as a killed run leaves it (its lock is a ``flock``, which the kernel releases) and the
next run resumes it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from cellucid.serving.exportcache import is_complete
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.state import read_record

POLL_SECONDS = 0.05

# how many exports this process has started (tests check that a cached export is reused)
EXPORT_RUNS = {"count": 0}

#: the exports of this process whose thread is still running
_RUNNING: set[BackgroundExport] = set()
_RUNNING_LOCK = threading.Lock()


def exporting() -> bool:
    """Whether an export thread of this process is still running."""
    with _RUNNING_LOCK:
        return bool(_RUNNING)


def end_process(code: int) -> NoReturn:
    """End the process now with exit status ``code``, once stdout and stderr are flushed.

    For ``cellucid serve`` after Ctrl+C, when nothing is left to do: besides an export
    still running (module docstring), the interpreter's teardown of a process that held
    an atlas (garbage collection of every object, module by module) takes seconds on a
    loaded machine.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass  # closed or replaced stream: nothing more can be said on it
    os._exit(code)


#: how long an exiting interpreter waits for the export thread to leave h5py
H5PY_WAIT_SECONDS = 1.0


def _exit_status() -> int:
    """The status an interpreter exit is heading for, as far as it can be known here
    (an uncaught exception; ``sys.exit(n)`` cannot be seen)."""
    last = getattr(sys, "last_type", None)
    if last is None:
        return 0
    return 130 if issubclass(last, KeyboardInterrupt) else 1


def _hold_h5py(timeout: float) -> bool:
    """Take h5py's global lock for the rest of the process; True once held (or unused).

    Held by the main thread, no other thread is inside h5py when the interpreter freezes
    the daemon export thread, and the main thread's own h5py calls while it shuts down
    take the lock again (it is re-entrant). The export thread waits for it from then on.
    """
    objects = sys.modules.get("h5py._objects")
    if objects is None:
        return True
    deadline = time.monotonic() + timeout
    while not objects.phil.acquire(False):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _at_exit() -> None:
    """A script (or notebook kernel) exits while an export runs: exit normally once the
    export thread is out of h5py (the status the script meant is kept), else at once."""
    if exporting() and not _hold_h5py(H5PY_WAIT_SECONDS):
        end_process(_exit_status())


# Run after the worker pools are joined (threading's exit callbacks), before the daemon
# export thread is frozen (that happens after every atexit handler).
atexit.register(_at_exit)


class BackgroundExport:
    """One export into ``folder``; finished at once when the folder is already complete.

    Parameters
    ----------
    folder
        The cache folder of this data and these settings.
    export
        Writes the export into ``folder`` (``prepare_anndata`` with the options bound);
        called in a background thread under ``early_view()``.
    """

    def __init__(self, folder: Path, export: Callable[[Path], Any]) -> None:
        self.folder = folder
        self.error: BaseException | None = None
        self.reused = is_complete(folder)
        self._done = threading.Event()
        self._listed: frozenset[str] | None = None
        if self.reused:
            self._done.set()
            self._thread = None
        else:
            EXPORT_RUNS["count"] += 1
            with _RUNNING_LOCK:
                _RUNNING.add(self)
            self._thread = threading.Thread(
                target=self._run, args=(export,), name="cellucid-export", daemon=True
            )
            self._thread.start()

    def _run(self, export: Callable[[Path], Any]) -> None:
        from cellucid.sinks.folder.sections import early_view

        try:
            with early_view():
                export(self.folder)
        except BaseException as error:  # reported to the caller, never lost in the thread
            self.error = error
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(self)
            self._done.set()

    @property
    def done(self) -> bool:
        """Whether the export has ended (finished or failed)."""
        return self._done.is_set()

    def wait_viewable(self, timeout: float | None = None) -> None:
        """Block until the identity exists (the viewer can open) or the export fails.

        Raises
        ------
        BaseException
            The export's own error, when it failed before the folder was viewable.
        TimeoutError
            When ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (self.folder / IDENTITY_NAME).is_file():
            if self.error is not None:
                raise self.error
            if self.done:
                raise RuntimeError(f"the export into {self.folder} ended without an identity")
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the export into {self.folder} is not viewable yet")
            self._done.wait(POLL_SECONDS)

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until the export ends; re-raises its error. True when it has ended."""
        ended = self._done.wait(timeout)
        if self.error is not None:
            raise self.error
        return ended

    def listed(self, relative: str) -> bool:
        """Whether the export record lists ``relative`` (a file this export will write)."""
        if self._listed is None:
            record = read_record(self.folder)
            if record is None:
                return False
            self._listed = frozenset(record.files)
        return relative in self._listed

    def wait_for(self, relative: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a listed file still being written; True if it exists.

        Files the record does not list, and any file once the export has ended, are
        answered at once: waiting could only delay a 404.
        """
        target = self.folder / relative
        deadline = time.monotonic() + timeout
        while not target.is_file():
            if self.done or not self.listed(relative) or time.monotonic() > deadline:
                return target.is_file()
            self._done.wait(POLL_SECONDS)
        return True
