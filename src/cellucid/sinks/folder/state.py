"""What an export was made from, recorded in the export so a rerun can resume safely.

The record names the export's inputs (a cheap fingerprint: shapes, dtypes, keys and a
sample of table rows; checksums of every block of the arrays) and settings, and every
file the export owns. A rerun with the same fingerprint and checksums keeps complete
files and writes the rest; a different fingerprint is an error unless ``force=True``,
which also removes the files only the old export owned."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from cellucid.engine.files import TEMP_MARKER, write_text
from cellucid.errors import DamagedRecordError, ExportMismatchError
from cellucid.sinks.folder.format.codecs import Gzip
from cellucid.sinks.folder.format.manifests import to_json
from cellucid.sinks.folder.format.naming import IDENTITY_NAME

if TYPE_CHECKING:  # reading a record (``cellucid serve``) imports neither
    import dask.array as da
    import pandas as pd

RECORD_NAME = ".cellucid-export.json"
SAMPLE_COUNT = 16


@dataclass(frozen=True)
class ExportRecord:
    """The content of the record file."""

    fingerprint: str
    settings: dict[str, Any]
    files: tuple[str, ...]
    complete: bool
    #: checksums of the input blocks, by input name (see :mod:`cellucid.engine.checksums`)
    checksums: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what the fingerprint sees of each input, by parameter name (see
    #: :func:`fingerprint_parts`): says which input differs when the fingerprint does
    inputs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return to_json(
            {
                "fingerprint": self.fingerprint,
                "settings": self.settings,
                "files": list(self.files),
                "complete": self.complete,
                # in key order: a resumed run fills in entries in another order than a
                # plain run (the matrix's after pass one), and the bytes must not differ
                "checksums": dict(sorted(self.checksums.items())),
                "inputs": dict(sorted(self.inputs.items())),
            },
            indent=1,
        )


def sample_rows(n: int) -> np.ndarray:
    """Up to SAMPLE_COUNT evenly spaced row indices, always including the first and last."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, min(n, SAMPLE_COUNT)).astype(np.int64))


def fingerprint(
    arrays: dict[str, da.Array], frames: dict[str, pd.DataFrame], settings: dict[str, Any]
) -> str:
    """A SHA-256 over the settings, the arrays' shapes and dtypes, and sampled frame rows.

    The arrays' values are left to the record's block checksums
    (:mod:`cellucid.engine.checksums`), which see every value, not a sample.
    """
    digest = hashlib.sha256(to_json(settings).encode())
    for name in sorted(arrays):
        digest.update(name.encode() + _array_bytes(arrays[name]))
    for name in sorted(frames):
        digest.update(name.encode() + _frame_bytes(frames[name]))
    return digest.hexdigest()


def _array_bytes(x: da.Array) -> bytes:
    return f"|{x.shape}|{x.dtype}".encode()


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    rows = frame.iloc[sample_rows(len(frame))]
    return b"".join(
        [
            f"|{frame.shape}|{list(map(str, frame.columns))}".encode(),
            str(list(map(str, frame.dtypes))).encode(),
            str(list(map(str, frame.index[:SAMPLE_COUNT]))).encode(),
            rows.astype(str).to_csv().encode(),
        ]
    )


def fingerprint_parts(
    arrays: dict[str, da.Array], frames: dict[str, pd.DataFrame], other: dict[str, Any]
) -> dict[str, str]:
    """A short digest of what the fingerprint sees of each input, by parameter name.

    Kept in the record, they name the inputs that differ when a rerun's fingerprint is
    not the record's (shapes and dtypes of arrays, columns and sampled rows of tables,
    ``other``'s values such as the exported genes).
    """
    parts = {name: _array_bytes(x) for name, x in arrays.items()}
    parts |= {name: _frame_bytes(frame) for name, frame in frames.items()}
    parts |= {name: to_json(value).encode() for name, value in other.items()}
    return {name: hashlib.sha256(data).hexdigest()[:16] for name, data in parts.items()}


def _damaged(path: Path, what: str) -> DamagedRecordError:
    return DamagedRecordError(
        f"The export record {path} {what}, so it cannot be trusted and nothing was changed. "
        "Rerun with --force (CLI) / force=True (Python) to rewrite the export (files the "
        "record lists are then not removed), or choose another output folder."
    )


def read_record(out_dir: Path) -> ExportRecord | None:
    """The record of the export in ``out_dir``, or None.

    Raises
    ------
    DamagedRecordError
        If the record exists but is not a well-formed record.
    """
    path = out_dir / RECORD_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = ExportRecord(
            str(data["fingerprint"]),
            dict(data["settings"]),
            tuple(data["files"]),
            bool(data["complete"]),
            {str(k): dict(v) for k, v in data.get("checksums", {}).items()},
            {str(k): str(v) for k, v in data.get("inputs", {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise _damaged(path, f"is damaged or unreadable ({type(error).__name__})") from None
    if not all(isinstance(f, str) for f in record.files):
        raise _damaged(path, "lists files that are not names")
    return record


_POINTS_FILE = re.compile(r"points_[1-3]d\.bin" + f"({re.escape(Gzip.SUFFIX)})?")
_NAME_SETTINGS = ("obs", "var", "connectivity")


def _could_own(relative: str, old: ExportRecord, planned: set[str]) -> bool:
    """Whether an export could have written ``relative``: a plain path in a known place."""
    if relative in planned:
        return True
    path = PurePosixPath(relative)
    parts = path.parts
    if path.is_absolute() or "\\" in relative or not 1 <= len(parts) <= 2:
        return False
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return False
    names = old.settings
    if len(parts) == 1:
        manifests = {names.get(f"{n}_manifest_filename") for n in _NAME_SETTINGS}
        return bool(_POINTS_FILE.fullmatch(relative)) or relative in manifests | {IDENTITY_NAME}
    folders = {names.get(f"{n}_binary_dirname") for n in _NAME_SETTINGS} | {"vectors"}
    return parts[0] in folders


def check_record_files(out_dir: Path, old: ExportRecord, planned: set[str]) -> None:
    """Refuse a record listing a file outside ``out_dir`` or one no export writes.

    Raises
    ------
    DamagedRecordError
        Naming the first such file; nothing has been removed.
    """
    root = out_dir.resolve()
    for relative in old.files:
        inside = _could_own(relative, old, planned)
        # a folder replaced by a symlink would lead a removal elsewhere
        if inside and not (out_dir / relative).parent.resolve().is_relative_to(root):
            inside = False
        if not inside:
            raise DamagedRecordError(
                f"The export record {out_dir / RECORD_NAME} lists {relative!r}, which is not a "
                f"file an export writes inside {out_dir}; the record was edited or damaged, so "
                "nothing was removed. Delete the record file by hand if the folder is yours, "
                "then rerun with force=True (--force), or choose another output folder."
            )


def write_record(out_dir: Path, record: ExportRecord) -> None:
    """Write the record atomically."""
    write_text(out_dir / RECORD_NAME, record.to_json())


def leftover_temp_files(out_dir: Path) -> list[Path]:
    """Temporary files of interrupted writes (never complete, always safe to remove)."""
    if not out_dir.exists():
        return []
    return [p for p in out_dir.rglob(f".*{TEMP_MARKER}*") if p.is_file()]


def _what_differs(old: ExportRecord, new: ExportRecord) -> str:
    """The settings and inputs that differ between two records, in words."""
    names = set(old.settings) | set(new.settings)
    settings = sorted(k for k in names if old.settings.get(k) != new.settings.get(k))
    said = [f"settings differ: {', '.join(settings)}"] if settings else []
    if old.inputs:  # records of earlier versions have no parts to compare
        inputs = []
        for name in sorted(set(old.inputs) | set(new.inputs)):
            before, after = old.inputs.get(name), new.inputs.get(name)
            if before != after:
                how = "added" if before is None else "not given now" if after is None else ""
                inputs.append(f"{name} ({how})" if how else name)
        if inputs:
            said.append(f"inputs differ: {', '.join(inputs)}")
    return "; ".join(said) or "the inputs differ"


def prepare_folder(
    out_dir: Path, new: ExportRecord, planned: set[str], force: bool
) -> tuple[bool, list[str]]:
    """Decide what to do with what ``out_dir`` holds before anything is written.

    Returns ``(resume, stale)``: whether complete files may be kept, and the files of an
    earlier export to remove (only with ``force=True``).

    Raises
    ------
    ExportMismatchError
        If the folder holds another export (or files in the way) and ``force`` is False.
    """
    try:
        old = read_record(out_dir)
    except DamagedRecordError:
        if not force:
            raise
        old = None  # force: overwrite what this export writes, remove nothing else
    if old is not None:
        check_record_files(out_dir, old, planned)
    if old is None:
        # plain strings: pathlib would cost more than the stat calls on 10^4 gene files
        root = str(out_dir)
        in_the_way = sorted(p for p in planned if os.path.exists(os.path.join(root, p)))
        if in_the_way and not force:
            raise ExportMismatchError(
                f"{out_dir} already holds files this export would write (e.g. {in_the_way[0]}) "
                "but no record of how they were made, so they cannot be trusted. Use "
                "force=True to overwrite them, or choose another output folder."
            )
        return False, []
    if old.fingerprint != new.fingerprint and not force:
        raise ExportMismatchError(
            f"{out_dir} holds an export made from other inputs or settings "
            f"({_what_differs(old, new)}). Use force=True to replace it, or choose another "
            "output folder."
        )
    if force:
        return False, sorted(set(old.files) - planned)
    from cellucid.engine.checksums import describe_changes  # numba: not to read a record

    changed = describe_changes(old.checksums, new.checksums)
    if changed:
        raise ExportMismatchError(
            f"{out_dir} holds an unfinished or earlier export of inputs that have changed "
            f"since ({changed}); its files cannot be mixed with the new ones. Use force=True "
            "(--force) to rewrite the export, or choose another output folder."
        )
    return True, []
