"""Checks of the input and output paths of prepare_anndata(), with one-line messages.

A wrong path should end in a sentence naming the path and what to do, not in an HDF5 or
Zarr traceback; the checks run before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cellucid.checks.zarr_listing import refuse_stale_listing
from cellucid.errors import InputFileError, InputNotFoundError, OutputPathError

ZARR_MARKERS = (".zgroup", "zarr.json")


def check_out_dir(out_dir: str | Path | None) -> None:
    """Refuse an output folder that is an existing regular file.

    Parameters
    ----------
    out_dir
        The requested export folder (None means the default, which is not checked).

    Raises
    ------
    OutputPathError
        If ``out_dir`` exists and is not a folder.
    """
    if out_dir is None:
        return
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise OutputPathError(
            f"Output folder {path} is an existing file, not a folder: "
            "choose another output folder or remove the file."
        )


def _check_zarr_folder(path: Path) -> None:
    if not any((path / marker).exists() for marker in ZARR_MARKERS):
        raise InputFileError(
            f"{path} is a folder but not a Zarr store (no .zgroup or zarr.json in it): "
            "pass a .h5ad file or a Zarr store written by anndata (adata.write_zarr)."
        )


def _check_hdf5_file(path: Path) -> None:
    import h5py

    if path.suffix not in (".h5ad", ".h5"):
        raise InputFileError(f"{path} is neither a .h5ad file nor a Zarr store (a folder).")
    if not h5py.is_hdf5(path):
        raise InputFileError(
            f"{path} is not an HDF5 file, so not a .h5ad written by anndata: "
            "check that it is the right file and that its download finished."
        )
    try:
        with h5py.File(path, "r"):
            pass
    except OSError as error:
        refuse_locked(path, error)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputFileError(
            f"{path} cannot be opened as HDF5, it is truncated or damaged ({reason}): "
            "download or save it again."
        ) from None


def refuse_locked(path: Path, error: OSError) -> None:
    """Say "locked" when HDF5 could not open ``path`` because another process writes it.

    HDF5 locks a file a program has open for writing; opening it meanwhile fails with
    EAGAIN ("unable to lock file"), which says nothing of damage.

    Raises
    ------
    InputFileError
        When ``error`` is such a lock failure (else nothing happens).
    """
    if not (isinstance(error, BlockingIOError) or "unable to lock file" in str(error)):
        return
    raise InputFileError(
        f"{path} is locked: another program has it open for writing (a Python session with "
        "h5py or anndata, or a write still running). Close it there (file.close(), "
        "adata.file.close()) or wait for the write to finish, then run again. If nothing "
        "writes it (stale locks on a network file system), set HDF5_USE_FILE_LOCKING=FALSE."
    ) from None


def check_input_path(path: Path) -> str:
    """Check that ``path`` can be opened as a store and say which kind it is.

    Parameters
    ----------
    path
        A ``.h5ad`` file or a Zarr store folder.

    Returns
    -------
    str
        ``"h5"`` for an HDF5 file, ``"zarr"`` for a Zarr store.

    Raises
    ------
    InputNotFoundError
        If nothing is at ``path``.
    InputFileError
        If ``path`` is a folder that is not a Zarr store, or a file that is not HDF5 or
        cannot be opened.
    """
    if not path.exists():
        raise InputNotFoundError(
            f"Input not found: {path}. Give the path of a .h5ad file or an AnnData Zarr store."
        )
    if path.is_dir():
        _check_zarr_folder(path)
        return "zarr"
    _check_hdf5_file(path)
    return "h5"


def check_anndata_root(root: Any, path: Path, kind: str) -> None:
    """Refuse a store without the obs and var tables every AnnData has.

    Raises
    ------
    InputFileError
        If ``obs`` or ``var`` is missing at the root of the store.
    """
    missing = [name for name in ("obs", "var") if name not in root]
    if missing:
        what = "an HDF5 file" if kind == "h5" else "a Zarr store"
        raise InputFileError(
            f"{path} is {what} but not an AnnData (no {' or '.join(missing)} at its root): "
            "pass a file written by anndata (adata.write_h5ad / adata.write_zarr)."
        )


_OUTSIDE_FIX = (
    "an export reads only its input, so any file the process can read could otherwise be "
    "copied into a published export. Make the data part of the input (read it and write it "
    "again with anndata) and pass that."
)


def _hdf5_outside(file: Any) -> tuple[str, str] | None:
    """The first element of an open HDF5 file whose data lives in another file, and where."""
    import h5py

    found: list[tuple[str, str]] = []

    def link(name: str, info: Any) -> Any:
        if isinstance(info, h5py.ExternalLink):
            found.append((f"/{name}", f"an external link to {info.filename}:{info.path}"))
            return True
        return None

    def node(name: str, obj: Any) -> Any:
        if isinstance(obj, h5py.Dataset):
            if obj.external:
                where = ", ".join(sorted({str(entry[0]) for entry in obj.external}))
                found.append((obj.name, f"HDF5 external storage in {where}"))
                return True
            if obj.is_virtual:
                where = ", ".join(sorted({source.file_name for source in obj.virtual_sources()}))
                found.append((obj.name, f"a virtual dataset mapping {where}"))
                return True
        return None

    file.visititems_links(link)
    if not found:
        file.visititems(node)
    return found[0] if found else None


def _zarr_outside(root: Path) -> tuple[str, str] | None:
    """The first entry of a Zarr folder that is a symlink leading out of it, and where.

    One ``scandir`` per folder (its entries' types come with it): a store of a million
    chunks costs no extra system call per chunk.
    """
    base = root.resolve()
    folders = [str(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if target != base and base not in target.parents:
                        return str(Path(entry.path).relative_to(root)), f"a symlink to {target}"
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
    return None


def check_inside_input(path: Path, kind: str, opened: Any = None) -> None:
    """Refuse a store that reads data outside itself: HDF5 external storage, a virtual
    dataset or an external link in a ``.h5ad``, or a symlink out of a Zarr store; and a
    Zarr store that lists elements no longer in it (:mod:`cellucid.checks.zarr_listing`).

    ``opened``: the HDF5 file when the caller has it open already.

    Raises
    ------
    InputFileError
        Naming the element and where its data lives.
    """
    if kind == "h5" and opened is not None:
        outside = _hdf5_outside(opened)
    elif kind == "h5":
        import h5py

        try:
            file = h5py.File(path, "r")
        except OSError:
            return  # not readable as HDF5: the caller's own checks say so
        with file:
            outside = _hdf5_outside(file)
    else:
        refuse_stale_listing(path)
        outside = _zarr_outside(path)
    if outside is not None:
        element, where = outside
        raise InputFileError(
            f"{path}: element {element} reads data outside the input ({where}); refused: "
            + _OUTSIDE_FIX
        )


# what a temporary name adds to a file name: "." + ".part-" + pid + "-" + 8 hex digits
TEMP_NAME_EXTRA = 1 + 6 + 10 + 1 + 8


def name_limit(out_dir: Path) -> int:
    """The longest file name the file system of ``out_dir`` (or its nearest parent) takes."""
    probe = out_dir.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return int(os.pathconf(probe, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def check_name_lengths(out_dir: Path, relatives: Iterable[str]) -> None:
    """Refuse export files whose names the file system cannot hold.

    Raises
    ------
    ValueError
        Naming the first such file and the limit.
    """
    limit = name_limit(out_dir) - TEMP_NAME_EXTRA
    for relative in relatives:
        name = relative.rsplit("/", 1)[-1]
        if len(name.encode("utf-8")) > limit:
            raise ValueError(
                f"The export file name {name[:60]!r}... is {len(name.encode('utf-8'))} bytes "
                f"long; the file system of {out_dir} takes names up to {limit} bytes here. "
                "Shorten that obs key, gene id or vector field name, or use layout='index'."
            )


def input_location(data: Any) -> Path | None:
    """Where an input lives on disk: a path, or a backed AnnData's file; else None."""
    if isinstance(data, str | os.PathLike):
        return Path(data).expanduser()
    filename = getattr(data, "filename", None)
    if filename and getattr(data, "isbacked", False):
        return Path(filename)
    return None


def refuse_output_in_input(out: Path, data: Any, parameter: str) -> None:
    """Refuse an output that is the input, or lies inside it (a folder in a Zarr store).

    Writing there would change the input: the next read of the store would find the export
    among its elements, and replacing the output would delete part of the input.

    Raises
    ------
    OutputPathError
        Naming the parameter, both paths and the fix.
    """
    source = input_location(data)
    if source is None or not source.exists():
        return
    source, target = source.resolve(), Path(out).expanduser().resolve()
    if target == source or source in target.parents:
        where = "is the input itself" if target == source else "is inside the input"
        raise OutputPathError(
            f"{parameter} {out} {where} ({source}): the export would be written into its own "
            "input (changing it). Choose an output outside the input, e.g. next to it: "
            f"{source.parent / (source.name.split('.')[0] + '-cellucid')}."
        )
