"""Progress bars of an export: on a terminal, in a notebook, or plain text in a notebook.

tqdm's notebook bar needs ipywidgets and warns "IProgress not found" without it; there
the plain text bar is used instead. Bars appear only for phases longer than a second and
stay on screen when done.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dask.callbacks import Callback

#: phases shorter than this (seconds) never show a bar
SHOW_AFTER = 1.0


def _bar_class() -> Any:
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


def make_bar(total: float, desc: str, unit: str, enabled: bool) -> Any:
    """A progress bar of ``total`` ``unit``s (a silent one when not ``enabled``)."""
    tqdm = _bar_class()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        leave=True,
        delay=SHOW_AFTER,
        file=None if tqdm.__module__ == "tqdm.notebook" else sys.stderr,
    )


class _DaskTaskBar(Callback):
    """Counts the tasks of every local dask computation run inside the block."""

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self._bar = bar

    def _start_state(self, dsk: Any, state: Any) -> None:
        self._bar.total = (self._bar.total or 0) + len(state["ready"]) + len(state["waiting"])
        self._bar.refresh()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self._bar.update(1)


@contextmanager
def dask_bar(desc: str, enabled: bool, unit: str = " blocks") -> Iterator[None]:
    """A bar over the dask tasks computed in the block (local schedulers only)."""
    if not enabled:
        yield
        return
    with make_bar(0, desc, unit, True) as bar, _DaskTaskBar(bar):
        yield
