"""A Cellucid-ready AnnData as one ``.zarr.zip``: a finished Zarr folder, packed.

The archive suits hosts that serve single files (GitHub, object stores): a reader opens it
with range requests. Its entries are stored, not deflated (every chunk is compressed
already, and a stored entry is one range at its offset), with the store at the top level
(no folder prefix), zip64 when needed, in this order:

1. every chunk, by array path, then in numeric grid order (``X/data/10`` after ``X/data/9``);
2. the metadata documents, by path;
3. the root's documents, the consolidated one among them, last: a reader starts from the
   archive's end (its central directory), so one read of the end opens the store.

The bytes depend on the entries alone: every entry is dated 1980-01-01 00:00 (the earliest
a ZIP can hold) and is a 0644 regular file made on Unix, whatever the folder's times and
permissions were.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from .zarr_store import ZarrStore

#: Date of every entry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: The buffer one entry is copied through: memory stays bounded whatever a chunk's size.
COPY_BYTES = 1 << 20

#: Names of Zarr metadata documents (every other file of a store is a chunk).
METADATA_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})

_UNIX = 3
_REGULAR_0644 = 0o100644


def _chunk_order(parts: tuple[str, ...], zarr_format: int) -> tuple[Any, ...]:
    """A chunk's array path and grid position, from its path in the store."""
    if zarr_format == 2:
        # "<array>/<i>.<j>": the last part is the key
        return parts[:-1], tuple(int(index) for index in parts[-1].split("."))
    # "<array>/c/<i>/<j>" ("<array>/c" for a 0-d array): the last "c" followed by numbers only
    for at in range(len(parts) - 1, -1, -1):
        if parts[at] == "c" and all(part.isdigit() for part in parts[at + 1 :]):
            return parts[:at], tuple(int(index) for index in parts[at + 1 :])
    raise ValueError(f"{'/'.join(parts)} is neither a chunk nor a metadata document")


def zip_entries(folder: Path) -> list[Path]:
    """The files of a Zarr folder store, in the order its ``.zarr.zip`` holds them."""
    zarr_format = 3 if (folder / "zarr.json").is_file() else 2

    def order(path: Path) -> tuple[Any, ...]:
        parts = path.relative_to(folder).parts
        if parts[-1] in METADATA_NAMES:
            return (1, len(parts) == 1, parts)
        return (0, *_chunk_order(parts, zarr_format))

    return sorted((path for path in folder.rglob("*") if path.is_file()), key=order)


def pack_folder(folder: Path, archive: Path) -> None:
    """Pack the Zarr folder store ``folder`` into the stored ZIP ``archive``.

    Each file is streamed through a :data:`COPY_BYTES` buffer (bounded memory).
    """
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as file:
        for source in zip_entries(folder):
            entry = zipfile.ZipInfo(source.relative_to(folder).as_posix(), ZIP_EPOCH)
            entry.create_system = _UNIX
            entry.external_attr = _REGULAR_0644 << 16
            # the size known up front lets zipfile choose zip64 for a large entry
            entry.file_size = source.stat().st_size
            with source.open("rb") as reader, file.open(entry, "w") as writer:
                shutil.copyfileobj(reader, writer, COPY_BYTES)


def work_folder(archive: Path) -> Path:
    """The folder an archive's store is written in before it is packed (beside it)."""
    return archive.with_name(f"{archive.name}.zarr")


class ZarrZipArchive(ZarrStore):
    """A Zarr store written in a folder beside ``path``, packed into ``path`` at the end.

    Parameters
    ----------
    path
        The archive to write.
    zarr_format, workers
        As for :class:`~.zarr_store.ZarrStore`.
    """

    def __init__(self, path: Path, zarr_format: int, workers: int) -> None:
        self.archive = path
        folder = work_folder(path)
        if folder.exists():
            # a leftover of an interrupted run with the same temporary name
            shutil.rmtree(folder)
        super().__init__(folder, zarr_format, workers)

    def close(self) -> None:
        """Finish the store, pack it, and remove the folder."""
        try:
            super().close()
            pack_folder(self.root, self.archive)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def abort(self) -> None:
        """Stop and remove the folder (the caller removes the archive)."""
        super().abort()
        shutil.rmtree(self.root, ignore_errors=True)
