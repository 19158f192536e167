"""One writer per export folder: an exclusive lock held for the whole run.

The lock is ``flock`` on a file inside the folder, so the kernel releases it when the
process dies (a killed run never blocks a rerun). The file also holds a small JSON note
of who holds it, for the message a second run gets.

The holder removes the file when its run ends, so a finished folder holds nothing of the
host or the time of the run that wrote it (a killed run leaves it; the rerun removes it).
Removing a lock file races with a run that opened it before the removal and locks it
after: such a run would hold a lock on a file no longer in the folder while a third run
locks a new one. So a run that gets the lock checks that the file it locked is still the
one at the path, and starts over if not.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cellucid.engine.files import describe_os_error
from cellucid.errors import ExportLockedError, ExportWriteError

LOCK_NAME = ".cellucid-export.lock"


def _holder_note(path: Path) -> str:
    try:
        note = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    started = note.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    return f"process {note.get('pid', '?')} on host {note.get('host', '?')} (started {when})"


@contextmanager
def export_lock(out_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``out_dir`` (created if needed) for the ``with`` block.

    Raises
    ------
    ExportLockedError
        At once, if another process holds the lock; the message names the holder.
    """
    path = out_dir / LOCK_NAME
    fd = _acquire(path, out_dir)
    try:
        note = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode(), 0)
        yield
    finally:
        # removed while still locked: a run waiting on this file finds it gone and starts
        # over on a new one (see _acquire); closing the descriptor releases the lock
        try:
            os.unlink(path)
        except OSError:
            pass  # already gone (the folder was removed under the lock) or not removable
        os.close(fd)


def _acquire(path: Path, out_dir: Path) -> int:
    """Open and lock the lock file at ``path``; the descriptor of the locked file."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ExportWriteError(error.errno, describe_os_error(error, out_dir)) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ExportLockedError(
                f"{out_dir} is being written by {_holder_note(path)}. Wait for that export "
                "to finish (or stop it), or choose another out_dir; two exports into one "
                "folder would mix their files."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed this file as it finished: lock the new one
