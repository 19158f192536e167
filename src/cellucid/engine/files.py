"""Atomic writes: every file appears under its final name only once it is complete."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cellucid.errors import ExportWriteError

TEMP_MARKER = ".part-"
# Temporary and spill names carry the pid and a random token, so no two runs (even on
# hosts sharing the folder, where pids repeat) ever write under the same name.
RUN_TOKEN = secrets.token_hex(4)


def temp_path_for(path: Path) -> Path:
    """The hidden temporary name a file is written under before its rename."""
    return Path(temp_name(str(path)))


def describe_os_error(error: OSError, folder: Path) -> str:
    """A message that names the folder and says what to do."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"No space left on the device while writing the export in {folder}. Free some "
            "space or choose another out_dir, then run again: complete files are kept."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"The export folder {folder} is not writable ({error.strerror}). Choose an out_dir "
            "you can write to, or fix its permissions."
        )
    return f"Could not write the export in {folder}: {error}"


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; rename it to ``path`` when the block succeeds.

    On any error the temporary file is removed, so ``path`` either holds a complete file
    or does not exist.
    """
    temp = temp_path_for(path)
    try:
        with open(temp, "wb") as handle:
            yield handle
        os.replace(temp, path)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, ExportWriteError):
            raise ExportWriteError(error.errno, describe_os_error(error, path.parent)) from error
        raise


def files_bytes(root: Path, relatives: Iterable[str]) -> int:
    """Total size of the files of ``relatives`` under ``root`` that exist.

    With plain strings: pathlib's overhead is larger than the stat calls themselves for the
    ten thousand files of a gene export.
    """
    base, total = str(root), 0
    for relative in relatives:
        try:
            total += os.stat(os.path.join(base, relative)).st_size
        except FileNotFoundError:
            pass
    return total


# One thread at a time creates or renames a file (the writing itself runs in parallel):
# threads doing so in one folder wait for the folder's lock in the kernel by spinning
# (ext4: 10,000 gene files took 0.35-1.5 s and up to 3 CPU-s on two threads, 0.2-0.4 s
# on one).
_NAMES_LOCK = threading.Lock()


def write_parts(path: str, parts: list[bytes | memoryview]) -> None:
    """Write ``parts`` back to back as the file ``path``, atomically, as :func:`atomic_file`.

    One ``writev`` per 1,024 parts on plain strings: the gene files are ten thousand small
    files, and pathlib and buffered file objects cost more than the writing itself.
    """
    folder = os.path.dirname(path)
    temp = temp_name(path)
    try:
        with _NAMES_LOCK:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            for start in range(0, len(parts), 1024):
                batch = parts[start : start + 1024]
                written = os.writev(fd, batch)
                if written != sum(map(len, batch)):
                    _finish_short_write(fd, batch, written)
        finally:
            os.close(fd)
        with _NAMES_LOCK:
            os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        if isinstance(error, OSError) and not isinstance(error, ExportWriteError):
            message = describe_os_error(error, Path(folder))
            raise ExportWriteError(error.errno, message) from error
        raise


def temp_name(path: str) -> str:
    """:func:`temp_path_for` on plain strings (ten thousand gene files: no pathlib)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{TEMP_MARKER}{os.getpid()}-{RUN_TOKEN}")


class Placeholders:
    """Empty temporary files made ahead of :func:`write_parts`, in a background thread.

    Creating a file costs the kernel an inode allocation, which on ext4 after many
    deletions took 1.5-2.6 s for the 10,000 gene files of a 300k x 10k export, all at
    the end. Made while the gene blocks are encoded, the temporary files are in place
    when the gene files are written, which then only fill and rename them. A
    placeholder is never a file that looks complete: it has a temporary name, and
    :func:`abandon` (or the next run) removes what an interrupted export leaves.
    """

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths
        self._made = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._make, daemon=True, name="cellucid-placeholders"
        )
        self._thread.start()

    def _make(self) -> None:
        for path in self._paths:
            if self._stop.is_set():
                return
            try:
                with _NAMES_LOCK:
                    os.close(os.open(temp_name(path), os.O_WRONLY | os.O_CREAT, 0o666))
            except OSError:
                return  # write_parts creates whatever is missing, and reports errors
            self._made += 1

    def finish(self) -> None:
        """Wait for the last placeholder: no writer may rename its file before."""
        self._thread.join()

    def abandon(self) -> None:
        """Stop making placeholders and remove those made."""
        self._stop.set()
        self._thread.join()
        for path in self._paths[: self._made]:
            with contextlib.suppress(OSError):
                os.unlink(temp_name(path))


def _finish_short_write(fd: int, batch: list[bytes | memoryview], written: int) -> None:
    """Write what ``writev`` left of ``batch`` (rare: signals, some file systems)."""
    for part in batch:
        view = memoryview(part).cast("B")
        if written >= len(view):
            written -= len(view)
            continue
        view, written = view[written:], 0
        while len(view):
            view = view[os.write(fd, view) :]


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))
