"""numba compilation with an on-disk cache that never stops the import.

Kernels are compiled once per machine and the machine code is cached next to the source
(``__pycache__``), else in the user's cache folder or ``NUMBA_CACHE_DIR``. When no cache
location is writable (read-only install, no home folder) numba refuses ``cache=True`` at
decoration time; the kernels then compile in memory at first use instead.

numba checks a cached kernel against its own source file only. A kernel that calls one
from another module (``sparse_deflate`` calls ``huffman``) keeps the old callee's machine
code after the callee's file alone changes: after editing ``huffman.py``, remove the
``*.nbi`` / ``*.nbc`` files under ``src/cellucid`` (an install writes every file anew, so
installed copies are not affected).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

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
