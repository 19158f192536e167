"""The on-disk cache of viewer builds: one folder per pinned commit, files published atomically.

``<cache dir>/<commit>/`` holds the build's inventory and each verified file at its
inventory path, so the folder is a plain copy of the build: download it on one machine and
copy it to the same place on another.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def get_web_cache_dir() -> Path:
    """The folder that holds the cached viewer builds.

    ``$CELLUCID_WEB_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/cellucid/web`` (default
    ``~/.cache/cellucid/web``). The folder may not exist yet.

    Returns
    -------
    Path
        The cache folder.
    """
    return cache_folder("CELLUCID_WEB_CACHE_DIR", "web")


def cache_folder(variable: str, name: str) -> Path:
    """``$variable`` when set, else ``$XDG_CACHE_HOME/cellucid/<name>`` (~/.cache default)."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cellucid" / name


def folder_bytes(folder: Path) -> int:
    """Bytes of every file below ``folder`` (symlinks not followed)."""
    total = 0
    # os.walk on strings: an export holds ~10^4 gene files, pathlib would dominate
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass  # removed while we walked (a temp file renamed into place)
    return total


def remove_folder(folder: Path) -> int:
    """Delete ``folder`` and everything in it; returns the bytes freed (0 if absent)."""
    if not folder.exists():
        return 0
    freed = folder_bytes(folder)
    shutil.rmtree(folder)
    return freed


def clear_web_cache() -> int:
    """Delete every cached viewer build.

    Returns
    -------
    int
        Bytes freed.
    """
    return remove_folder(get_web_cache_dir())


def publish(target: Path, body: bytes) -> None:
    """Write ``body`` to ``target`` so that readers see the whole file or none of it.

    Each writer has its own temporary file in the target's folder, then renames it over
    the target: two servers filling one cache at once both publish identical, complete files.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
