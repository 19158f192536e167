"""Running lists of dask tasks on whatever scheduler is active, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
from dask.callbacks import Callback
from dask.delayed import Delayed


def active_client() -> Any | None:
    """The active ``dask.distributed`` Client, or None (distributed is optional)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="task", disable=not enabled, leave=False)


class _CountFinished(Callback):
    """Advances a progress bar each time one of the named tasks finishes."""

    def __init__(self, keys: set[Any], bar: Any) -> None:
        super().__init__()
        self._keys = keys
        self._bar = bar

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in self._keys:
            self._bar.update(1)


def _bounded_threads(tasks: Sequence[Delayed], bar: Any) -> list[Any]:
    """Run each task whole (its reads included) in one of ``cpu_count`` threads.

    dask's threaded scheduler may run many cheap read tasks ahead of the tasks that
    consume them, holding many blocks at once; here a block is read only when a thread
    is free to process it, so memory stays at one block per thread.
    """

    def run_one(task: Delayed) -> Any:
        result = dask.compute(task, scheduler="sync")[0]
        bar.update(1)
        return result

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(run_one, tasks))


def run_tasks(
    tasks: Sequence[Delayed], *, desc: str, progress: bool, scheduler: str | None = None
) -> list[Any]:
    """Compute ``tasks`` and return their results in order.

    With an active distributed Client the tasks run on the cluster; otherwise each task
    runs whole in a pool of one thread per core (or on the dask scheduler named by
    ``scheduler``).
    """
    if not tasks:
        return []
    scheduler = scheduler or dask.config.get("scheduler", None)
    client = active_client() if scheduler in (None, "dask.distributed") else None
    with _progress_bar(len(tasks), desc, progress) as bar:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(list(tasks))
            for _ in as_completed(futures):
                bar.update(1)
            return client.gather(futures)
        if scheduler in (None, "threads", "threading", "dask.distributed"):
            return _bounded_threads(tasks, bar)
        keys = {task.key for task in tasks}
        with _CountFinished(keys, bar):
            return list(dask.compute(*tasks, scheduler=scheduler))
