"""Which dask scheduler runs a computation, decided without importing ``distributed``.

dask looks for a ``distributed`` Client on every ``compute()`` whose scheduler is not a
function: it imports ``distributed`` (about half a second, plus tornado, asyncio, ssl...)
even when no cluster was ever started. A Client can only exist once ``distributed`` was
imported, so :func:`local_scheduler` hands dask the scheduler as a function whenever
``distributed`` is not in ``sys.modules`` (or no Client is active), and dask never looks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
from dask.base import named_schedulers

#: the local scheduler dask runs when none is named
DEFAULT_LOCAL = "threads"

#: the scheduler functions by one name each (several names share a function)
_NAME_OF = {
    named_schedulers["threads"]: "threads",
    named_schedulers["sync"]: "sync",
    named_schedulers["processes"]: "processes",
}


def active_client() -> Any | None:
    """The active ``dask.distributed`` Client, or None.

    A Client exists only after ``distributed`` was imported; when it was not, this
    returns None without importing it.
    """
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client
    except ImportError:  # a half-imported or broken distributed
        return None
    try:
        return default_client()
    except ValueError:
        return None


def scheduler_name() -> Any:
    """The scheduler dask's configuration names: a name such as ``"threads"``, or None.

    A scheduler function set by :func:`local_scheduler` is given back by its name; any
    other configured value (a Client, an executor) is returned as it is.
    """
    configured = dask.config.get("scheduler", None)
    if callable(configured):
        return _NAME_OF.get(configured, configured)
    return configured


def scheduler_function(name: Any) -> Any:
    """The function dask runs for the scheduler ``name`` (other values come back as given)."""
    if isinstance(name, str):
        return named_schedulers.get(name.lower(), name)
    return name


@contextmanager
def local_scheduler(name: str | None = None) -> Iterator[None]:
    """Run the block with dask's scheduler given as a function, unless a Client runs it.

    Parameters
    ----------
    name
        The scheduler asked for (``"threads"``, ``"sync"``, ``"processes"``...); None
        keeps the configured one, or the local threads when no Client is active.
    """
    chosen = name or dask.config.get("scheduler", None)
    if chosen in (None, "dask.distributed", "distributed") and active_client() is not None:
        yield  # the cluster runs every computation, as dask decides by itself
        return
    function = scheduler_function(chosen or DEFAULT_LOCAL)
    if not callable(function):  # an unknown name: dask's own error names it
        yield
        return
    with dask.config.set(scheduler=function):
        yield
