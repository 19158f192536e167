"""Running lists of dask tasks on whatever scheduler is active, with a progress bar.

Every scheduler is handed to dask as a function (see :mod:`cellucid.engine.schedulers`),
so that dask never imports ``distributed`` to look for a Client that cannot exist.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

import dask
from dask.callbacks import Callback
from dask.delayed import Delayed
from dask.local import get_sync

from cellucid.engine.heap import release_free_memory
from cellucid.engine.schedulers import active_client, scheduler_function, scheduler_name
from cellucid.progress import make_bar

#: how often the waiting main thread wakes up, so Ctrl+C is handled at once
_POLL_SECONDS = 0.1


class _CountFinished(Callback):
    """Advances a progress bar each time one of the named tasks finishes."""

    def __init__(self, weights: dict[Any, float], bar: Any) -> None:
        super().__init__()
        self._weights = weights
        self._bar = bar

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in self._weights:
            self._bar.update(self._weights[key])


class _Pool:
    """Daemon worker threads taking tasks from a queue; Ctrl+C stops them taking more.

    concurrent.futures' workers are joined at interpreter exit, so after Ctrl+C the
    process would wait for every running task; daemon threads do not hold it, and the
    queue is drained so no new task starts.
    """

    def __init__(self, tasks: Sequence[Delayed], weights: Sequence[float], bar: Any) -> None:
        self.results: list[Any] = [None] * len(tasks)
        self.error: BaseException | None = None
        self._todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._left = len(tasks)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._tasks, self._weights, self._bar = tasks, weights, bar
        for i in range(len(tasks)):
            self._todo.put(i)

    def _work(self) -> None:
        while not self._done.is_set():
            try:
                i = self._todo.get_nowait()
            except queue.Empty:
                return
            try:
                self.results[i] = dask.compute(self._tasks[i], scheduler=get_sync)[0]
                release_free_memory()
            except BaseException as error:  # noqa: BLE001 - handed to the main thread
                self.error = error
                self._done.set()
                return
            with self._lock:
                self._bar.update(self._weights[i])
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def run(self, n_threads: int) -> list[Any]:
        for _ in range(n_threads):
            threading.Thread(target=self._work, daemon=True, name="cellucid-worker").start()
        try:
            while not self._done.wait(_POLL_SECONDS):
                pass
        finally:
            self._done.set()  # on Ctrl+C too: workers take no further task
        if self.error is not None:
            raise self.error
        return self.results


def run_tasks(
    tasks: Sequence[Delayed],
    *,
    desc: str,
    progress: bool,
    scheduler: str | None = None,
    unit: str = " tasks",
    weights: Sequence[float] | None = None,
) -> list[Any]:
    """Compute ``tasks`` and return their results in order.

    With an active distributed Client the tasks run on the cluster; otherwise each task
    runs whole in one of ``cpu_count`` threads, so a block is read only when a thread is
    free to process it (or on the dask scheduler named by ``scheduler``). The bar counts
    ``unit``s: each task advances it by its weight (default 1).
    """
    if not tasks:
        return []
    weights = list(weights) if weights is not None else [1] * len(tasks)
    scheduler = scheduler or scheduler_name()
    client = active_client() if scheduler in (None, "dask.distributed") else None
    with make_bar(sum(weights), desc, unit, progress) as bar:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(list(tasks))
            weight_of = {f.key: w for f, w in zip(futures, weights, strict=True)}
            for future in as_completed(futures):
                bar.update(weight_of[future.key])
            return client.gather(futures)
        if scheduler in (None, "threads", "threading", "dask.distributed"):
            return _Pool(tasks, weights, bar).run(os.cpu_count() or 1)
        by_key = {task.key: w for task, w in zip(tasks, weights, strict=True)}
        with _CountFinished(by_key, bar):
            return list(dask.compute(*tasks, scheduler=scheduler_function(scheduler)))
