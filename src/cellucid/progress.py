"""Progress bars and console lines of an export, drawn as one clean display.

On a terminal the messages (stdout) and the bars (stderr) share one screen. Three rules
keep it readable:

- one bar at a time: a bar opened while another one is open, or in a stage that runs
  beside the main ones (:func:`in_background`), counts without drawing;
- a line is printed only after the bar on screen is erased, and the bar is drawn again
  below it (:func:`write_line`): no message lands at the end of a bar's line;
- a bar leaves the screen finished: at 100% when its block completed, erased when the
  block failed or was interrupted. A bar never drawn (phases under a second) prints
  nothing at all.

In a notebook with ipywidgets tqdm's widget bar is used; without ipywidgets the text bar
(tqdm's notebook bar warns "IProgress not found" there).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from dask.callbacks import Callback
from tqdm.std import tqdm as _TextTqdm

#: phases shorter than this (seconds) never show a bar
SHOW_AFTER = 1.0
#: a drawn bar is drawn again at most this often (seconds)
MIN_INTERVAL = 0.1
#: how often :func:`wait_showing` looks at the thread it waits for (seconds)
_POLL_SECONDS = 0.1

_BACKGROUND: ContextVar[bool] = ContextVar("cellucid_background_bars", default=False)
#: text bars opened and not closed yet; only the first may draw (see the module's rules)
_OPEN: list[_TextBar] = []
#: counters of the stages running in the background, newest last
_BACKGROUND_TALLIES: list[_Tally] = []
#: streams whose reader went away (a closed pipe): nothing more is written to them
_GONE: set[int] = set()


class _TextBar(_TextTqdm):
    """tqdm's text bar that knows whether it ever drew, so it never leaves a stale line."""

    drawn = False

    def display(self, msg: str | None = None, pos: int | None = None) -> Any:
        if msg is None or msg:  # display(msg="") erases the bar
            self.drawn = True
        return super().display(msg, pos)

    def refresh(self, nolock: bool = False, lock_args: Any = None) -> None:
        # tqdm draws on refresh() even before its delay: a phase under a second stays
        # silent, and a bar draws first when it has counted something (the constructor
        # refreshes before start_t exists when there is no delay)
        start = getattr(self, "start_t", None)
        if self.drawn or (start is not None and self._time() >= start + self.delay):
            super().refresh(nolock=nolock, lock_args=lock_args)

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.finish(ok=exc_type is None)

    def finish(self, ok: bool) -> None:
        """Close the bar: drawn at 100% when ``ok``, erased otherwise."""
        if ok and self.total and self.n < self.total:
            self.n = self.total
        if not ok:
            self.leave = False
        # tqdm decides from its delay whether the bar is on screen; what was drawn decides
        self.delay = 0 if self.drawn else float("inf")
        self.close()

    def close(self) -> None:
        with _TextTqdm.get_lock():
            if self in _OPEN:
                _OPEN.remove(self)
            super().close()


class _Tally:
    """A bar that counts without drawing: same calls as a tqdm bar."""

    def __init__(self, total: float | None, desc: str, unit: str, background: bool) -> None:
        self.total, self.desc, self.unit, self.n = total or 0, desc, unit, 0
        self.finished = False
        self.thread = threading.get_ident()
        self._background = background
        if background:
            _BACKGROUND_TALLIES.append(self)

    def update(self, n: float = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        """Nothing to draw."""

    def close(self) -> None:
        if self._background and self in _BACKGROUND_TALLIES:
            _BACKGROUND_TALLIES.remove(self)

    def __enter__(self) -> _Tally:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.finished = exc_type is None
        self.close()


def _notebook_bar_class() -> Any | None:
    """tqdm's widget bar inside a notebook kernel with ipywidgets, else None."""
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm

        return tqdm
    return None


def make_bar(total: float, desc: str, unit: str, enabled: bool) -> Any:
    """A progress bar of ``total`` ``unit``s, used as a context manager.

    It draws only when ``enabled``, outside :func:`in_background` and when no other bar is
    open; otherwise it counts silently (``n``, ``total``), with the same calls.
    """
    background = _BACKGROUND.get()
    widget = _notebook_bar_class()
    if enabled and not background and widget is not None:
        return widget(total=total, desc=desc, unit=unit, leave=True, delay=SHOW_AFTER)
    with _TextTqdm.get_lock():
        if not enabled or background or _OPEN or id(sys.stderr) in _GONE:
            return _Tally(total, desc, unit, background)
        bar = _TextBar(
            total=total,
            desc=desc,
            unit=unit,
            leave=True,
            delay=SHOW_AFTER,
            mininterval=MIN_INTERVAL,
            file=sys.stderr,
        )
        _OPEN.append(bar)
        return bar


def write_line(text: str, stream: TextIO | None = None) -> None:
    """Print ``text`` as a line of its own beside an open bar (default stream: stdout).

    The bar on screen is erased first and drawn again after the line. A stream whose
    reader went away (``... | head``) gets nothing more: the work goes on without it.
    """
    stream = sys.stdout if stream is None else stream
    if id(stream) in _GONE:
        return
    with _TextTqdm.get_lock():
        drawn = [bar for bar in _OPEN if bar.drawn and not bar.disable]
        for bar in drawn:
            bar.clear(nolock=True)
        try:
            stream.write(text + "\n")
            stream.flush()
        except BrokenPipeError:
            _GONE.add(id(stream))
        finally:
            for bar in drawn:
                bar.refresh(nolock=True)


@contextmanager
def in_background() -> Iterator[None]:
    """Within the block (this thread), bars count without drawing: the screen stays with
    the main stages; :func:`wait_showing` draws what is left when they wait for it."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def wait_showing(thread: threading.Thread, enabled: bool) -> None:
    """Wait for ``thread``; meanwhile draw the progress of its open background bar."""
    bar: Any = None
    shown: _Tally | None = None
    try:
        while thread.is_alive():
            mine = [t for t in _BACKGROUND_TALLIES if t.thread == thread.ident]
            tally = mine[-1] if mine else None
            if enabled and tally is not None and tally is not shown:
                if bar is not None:
                    _finish(bar, shown is not None and shown.finished)
                bar, shown = make_bar(tally.total, tally.desc, tally.unit, True), tally
            if bar is not None and shown is not None:
                bar.total = shown.total
                bar.update(shown.n - bar.n)
            thread.join(_POLL_SECONDS)  # short waits: Ctrl+C reaches the main thread at once
    finally:
        if bar is not None:
            done = shown is not None and (shown.finished or shown.n >= shown.total > 0)
            _finish(bar, done)


def _finish(bar: Any, ok: bool) -> None:
    if isinstance(bar, _TextBar):
        bar.finish(ok)
    else:
        bar.close()


class _DaskTaskBar(Callback):
    """Counts the tasks of the local dask computations this thread runs inside the block.

    dask's callbacks are global: a computation of another thread (a stage running beside
    this one) must not move this bar.
    """

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self._bar = bar
        self._thread = threading.get_ident()

    def _start_state(self, dsk: Any, state: Any) -> None:
        if threading.get_ident() == self._thread:
            self._bar.total = (self._bar.total or 0) + len(state["ready"]) + len(state["waiting"])

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if threading.get_ident() == self._thread:
            self._bar.update(1)


_THREAD = threading.local()


def own_callbacks() -> tuple[tuple[Any, ...], ...]:
    """The callbacks to name in ``dask.compute(..., callbacks=...)`` on a local scheduler.

    A computation that names none takes dask's global set of callbacks, and leaves an
    empty one in its place until it ends, in every thread: a long computation beside the
    main stages (the connectivity) would keep their bars from counting. Naming this
    thread's own bar (or none) leaves the global set alone.
    """
    return tuple(counter._callback for counter in getattr(_THREAD, "bars", ()))


@contextmanager
def dask_bar(desc: str, enabled: bool, unit: str = " blocks") -> Iterator[None]:
    """A bar over the dask tasks this thread computes in the block (local schedulers only).

    Computations in the block that name their callbacks (:func:`own_callbacks`) count
    through those; the others through dask's global set.
    """
    if not enabled:
        yield
        return
    with make_bar(0, desc, unit, enabled) as bar, _DaskTaskBar(bar) as counter:
        outer = getattr(_THREAD, "bars", ())
        _THREAD.bars = (*outer, counter)
        try:
            yield
        finally:
            _THREAD.bars = outer
