"""numba compilation with an on-disk cache that never stops the import.

Kernels are compiled once per machine and the machine code is cached in
``NUMBA_CACHE_DIR`` when it is set, else next to the source (``__pycache__``), else in the
user's cache folder. When no cache location is writable (read-only install, no home
folder) numba refuses ``cache=True`` at decoration time; the kernels then compile in
memory at first use instead.

numba checks a cached kernel against its own source file only. A kernel that calls one
from another module (``sparse_deflate`` calls ``huffman``) keeps the old callee's machine
code after the callee's file alone changes: after editing ``huffman.py``, remove the
``*.nbi`` / ``*.nbc`` files under ``src/cellucid`` (an install writes every file anew, so
installed copies are not affected).

The first export after an install compiles the gene encoder (10-30 s). The
caller asks :func:`is_compiled` beforehand, so it can say so only when a compile is due.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable)


def njit_cached(function: F | None = None, **options: object) -> F | Callable[[F], F]:
    """``numba.njit(cache=True)``, or ``numba.njit`` when nowhere to cache is writable.

    Parameters
    ----------
    function
        The Python function to compile (omit it to get a decorator taking ``options``).
    **options
        More ``numba.njit`` options, e.g. ``inline="always"`` for small helpers.

    Returns
    -------
    The numba dispatcher (compiled lazily, at the first call).
    """
    if function is None:
        return lambda inner: njit_cached(inner, **options)
    try:
        return numba.njit(cache=True, nogil=True, **options)(function)
    except RuntimeError:
        # "cannot cache function ...: no locator available": compile without a cache
        return numba.njit(nogil=True, **options)(function)


def is_compiled(kernel: Any) -> bool:
    """Whether calling ``kernel`` runs machine code that is already there.

    True when it was compiled in this process, or when numba's on-disk cache holds a
    version compiled from its current source for this machine's CPU; False when the
    first call compiles (also a kernel that cannot be cached).

    Parameters
    ----------
    kernel
        A dispatcher made by :func:`njit_cached`.
    """
    if getattr(kernel, "overloads", None):
        return True
    cache_file = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return False  # numba's NullCache: every process compiles at the first call
    try:
        index = cache_file._load_index()  # {} when missing, stale or of another numba
        cpu = kernel.targetctx.codegen().magic_tuple()
    except Exception:  # noqa: BLE001 - numba's internals moved: never announce a guess
        return True
    return any(key[1] == cpu for key in index)
