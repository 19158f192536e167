"""The output path as the user meant it: ``~`` expanded, absolute, and refused early when
it cannot be made.

``~`` and ``~user`` are expanded (``os.path.expanduser``), as pandas and anndata do with
the paths they write. Environment variables are not: pandas and anndata take ``$HOME``
literally too, and a folder named ``$HOME`` is never what was meant, so a path whose
first component looks like a variable (``$HOME``, ``${SCRATCH}``, ``%USERPROFILE%``) is
refused with the fix. Every refusal names the parameter and happens before anything is
written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cellucid.errors import OutputPathError

#: A first path component that reads as an environment variable nobody expanded.
_VARIABLE = re.compile(r"^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%)$")


def _name_max(existing: Path) -> int:
    try:
        return int(os.pathconf(existing, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _refuse_variable(given: str, parameter: str) -> None:
    first = Path(given).parts[0] if Path(given).parts else ""
    if _VARIABLE.match(first):
        raise OutputPathError(
            f"{parameter} {given!r} starts with {first!r}, which reads as an environment "
            "variable: paths are taken as written (environment variables are not expanded, "
            "as in pandas and anndata), so this would make a folder named "
            f"{first!r}. Write the path out, or expand it first: os.path.expandvars(path) "
            "in Python; in a shell, do not put the path in single quotes."
        )


def _refuse_long_components(path: Path, parameter: str) -> None:
    """Each component within the name limit of the file system it would be made on."""
    at = Path(path.anchor)
    limit = _name_max(at)
    for part in path.parts[1:]:
        if len(os.fsencode(part)) > limit:
            raise OutputPathError(
                f"{parameter}: the path component {part[:40]!r}... is "
                f"{len(os.fsencode(part))} bytes long, and the file system takes names up to "
                f"{limit} bytes. Choose a shorter name."
            )
        at = at / part
        if os.path.isdir(at):  # os.path's checks never raise (Path.exists may)
            limit = _name_max(at)


def _refuse_dangling_links(path: Path, parameter: str) -> None:
    """A symlink on the way whose target does not exist: mkdir would say "file exists"."""
    probe = path
    while probe != probe.parent:
        if os.path.islink(probe) and not os.path.exists(probe):
            raise OutputPathError(
                f"{parameter}: {probe} is a symbolic link to {os.readlink(probe)}, which does "
                "not exist. Create the folder it points to, remove the link, or choose "
                "another output path."
            )
        if os.path.exists(probe):
            return
        probe = probe.parent


def output_path(value: object, parameter: str) -> Path:
    """``value`` as an absolute output path, with ``~`` expanded (module docstring).

    Parameters
    ----------
    value
        The path as given (str or ``os.PathLike``).
    parameter
        How the caller named it in messages (``out_dir``, ``out_path``, ``OUT``).

    Returns
    -------
    pathlib.Path
        The absolute path (symlinks left as they are).

    Raises
    ------
    TypeError
        ``value`` is bytes or no path.
    OutputPathError
        A first component that reads as an environment variable, a component longer than
        the file system takes, or a dangling symbolic link on the way.
    """
    if isinstance(value, bytes):
        raise TypeError(
            f"{parameter} must be a str or pathlib.Path, got bytes {value!r}: decode it first "
            "(os.fsdecode(path))."
        )
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{parameter} must be a str or pathlib.Path, got {type(value).__name__}.")
    given = os.fspath(value)
    if isinstance(given, bytes):
        raise TypeError(f"{parameter} must be a str path, and its os.fspath() gives bytes.")
    if not given:
        raise OutputPathError(f"{parameter} is empty: name the output.")
    _refuse_variable(given, parameter)
    path = Path(given).expanduser().absolute()
    _refuse_long_components(path, parameter)
    _refuse_dangling_links(path, parameter)
    return path
