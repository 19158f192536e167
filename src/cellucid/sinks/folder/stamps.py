"""Stamps: how a rerun knows, without reading the inputs, that it has exported them before.

A stamp says "the export in FOLDER was made (or started) from the inputs and settings of
KEY" (see :func:`request_key`: the settings, and each input's identity from
:mod:`cellucid.engine.identity`: file size and times for file inputs, a CRC-32 for
in-memory ones). A rerun with the same key then

- finds a **finished** export unchanged in well under a second: the record's bytes and
  the stat of every file it lists are those the stamp saw when the run finished, so
  there is nothing to check and nothing to write;
- **resumes** an unfinished one without reading every input again for its checksums:
  the record's checksums were taken of these very inputs.

Stamps live outside the export folder, in ``$CELLUCID_STAMP_DIR`` (empty: no stamps) or
``$XDG_CACHE_HOME/cellucid/export-stamps`` (``~/.cache`` by default), one small JSON
file per folder named by a hash of its resolved path. They hold file times and inode
numbers, which belong to one host and one moment: inside the folder they would make two
runs of the same export differ byte for byte (a finished folder holds nothing host- or
time-specific). A missing, stale or unreadable stamp only costs the full check; a stamp
is never trusted beyond its key: another key, another record or a changed file and the
rerun checks the inputs as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from cellucid import __version__
from cellucid.checks.request import InputRequest
from cellucid.engine.checksums import MATRIX
from cellucid.engine.files import RUN_TOKEN
from cellucid.engine.identity import file_stat, input_identity
from cellucid.errors import DamagedRecordError
from cellucid.sinks.folder.request import FolderRequest
from cellucid.sinks.folder.state import RECORD_NAME, ExportRecord, read_record

#: request fields that never change the bytes written (or, for force, whether to write)
_RUNTIME = {"inputs", "out_dir", "force", "chunk_size", "progress", "quiet", "scheduler"}
#: more stamps than this and the older half goes (each is a few hundred bytes)
_MAX_STAMPS = 2000


def stamp_folder() -> Path | None:
    """Where stamps live, or None when ``$CELLUCID_STAMP_DIR`` is set empty (no stamps)."""
    configured = os.environ.get("CELLUCID_STAMP_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "cellucid" / "export-stamps"


def request_key(request: FolderRequest, target: Path) -> str | None:
    """A digest of everything that shapes the export of ``request`` into ``target``.

    None when an input has no cheap identity (a dask array, xarray, a file open for
    writing): such a request never takes a shortcut.
    """
    parts: dict[str, Any] = {}
    for field in fields(InputRequest):
        try:
            identity = input_identity(getattr(request.inputs, field.name))
        except (OSError, TypeError, ValueError, AttributeError):
            identity = None  # a vanished file, an odd object: the checks will say what
        if identity is None:
            return None
        parts[field.name] = identity
    parts["settings"] = {
        f.name: repr(getattr(request, f.name)) for f in fields(request) if f.name not in _RUNTIME
    }
    parts["folder"] = str(target.resolve())
    parts["cellucid"] = __version__
    # dataset_identity.json's created_at follows it
    parts["SOURCE_DATE_EPOCH"] = os.environ.get("SOURCE_DATE_EPOCH")
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _stamp_path(target: Path) -> Path | None:
    folder = stamp_folder()
    if folder is None:
        return None
    name = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:32]
    return folder / f"{name}.json"


def _read_stamp(target: Path) -> dict[str, Any] | None:
    path = _stamp_path(target)
    if path is None:
        return None
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _write_stamp(target: Path, stamp: dict[str, Any]) -> None:
    """Write atomically; a stamp folder that cannot be written just means no shortcut."""
    path = _stamp_path(target)
    if path is None:
        return
    temp = path.with_name(f".{path.name}.{os.getpid()}-{RUN_TOKEN}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")
        os.replace(temp, path)
        _prune(path.parent)
    except OSError:
        try:
            temp.unlink(missing_ok=True)
        except OSError:
            pass


def _prune(folder: Path) -> None:
    stamps = list(folder.glob("*.json"))
    if len(stamps) <= _MAX_STAMPS:
        return
    by_age = sorted(stamps, key=lambda p: p.stat().st_mtime_ns)
    for old in by_age[: len(stamps) // 2]:
        old.unlink(missing_ok=True)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _checksums_digest(record: ExportRecord) -> str:
    # the matrix's entry is filled in during the run (pass one), after the stamp
    return _digest({k: v for k, v in record.checksums.items() if k != MATRIX})


def _outputs(target: Path, files: tuple[str, ...]) -> str | None:
    """A digest of the stat of every file an export owns; None if one is missing."""
    try:
        return _digest([[f, *file_stat(target / f)] for f in files])
    except OSError:
        return None


def stamp_started(target: Path, key: str | None, record: ExportRecord) -> None:
    """Note that the run about to write ``record`` into ``target`` exports ``key``."""
    if key is None:
        return
    _write_stamp(
        target,
        {
            "folder": str(target.resolve()),
            "key": key,
            "fingerprint": record.fingerprint,
            "checksums": _checksums_digest(record),
            "complete": False,
        },
    )


def stamp_finished(target: Path, key: str | None) -> None:
    """Note that the export of ``key`` in ``target`` is finished, as the files are now."""
    if key is None:
        return
    try:
        data = (target / RECORD_NAME).read_bytes()
        record = read_record(target)
    except (OSError, DamagedRecordError):
        return
    if record is None or not record.complete:
        return
    _write_stamp(
        target,
        {
            "folder": str(target.resolve()),
            "key": key,
            "fingerprint": record.fingerprint,
            "checksums": _checksums_digest(record),
            "complete": True,
            "record": hashlib.sha256(data).hexdigest(),
            "outputs": _outputs(target, record.files),
        },
    )


def may_be_finished(target: Path, key: str | None) -> bool:
    """A first look, without the lock: a stamp of ``key`` says the export was finished."""
    if key is None or not (target / RECORD_NAME).is_file():
        return False
    stamp = _read_stamp(target)
    return stamp is not None and stamp.get("key") == key and stamp.get("complete") is True


def finished_unchanged(target: Path, key: str) -> bool:
    """Whether ``target`` holds the finished export of ``key``, untouched since it finished.

    The caller holds the folder's lock. The record must be the very bytes the stamp saw
    and every file it lists must have the same size, times and inode.
    """
    stamp = _read_stamp(target)
    if stamp is None or stamp.get("key") != key or stamp.get("complete") is not True:
        return False
    try:
        data = (target / RECORD_NAME).read_bytes()
        record = read_record(target)
    except (OSError, DamagedRecordError):
        return False
    if record is None or not record.complete:
        return False
    if hashlib.sha256(data).hexdigest() != stamp.get("record"):
        return False
    outputs = _outputs(target, record.files)
    return outputs is not None and outputs == stamp.get("outputs")


def checksums_to_reuse(target: Path, key: str | None, fingerprint: str) -> dict[str, Any] | None:
    """The checksums of the record in ``target`` when they were taken of these inputs.

    That is when the stamp has this ``key`` and was made for this record (same fingerprint
    and checksums): the inputs are the files, or the in-memory values, that the
    checksums were taken of, so reading them again would find the same. None otherwise.
    """
    if key is None:
        return None
    stamp = _read_stamp(target)
    if stamp is None or stamp.get("key") != key:
        return None
    try:
        record = read_record(target)
    except DamagedRecordError:
        return None
    if record is None or fingerprint not in (record.fingerprint, stamp.get("fingerprint")):
        return None
    if record.fingerprint != stamp.get("fingerprint"):
        return None
    if _checksums_digest(record) != stamp.get("checksums"):
        return None
    return dict(record.checksums)
