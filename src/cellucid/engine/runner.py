"""Running lists of dask tasks on whatever scheduler is active, with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence
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


def run_tasks(
    tasks: Sequence[Delayed], *, desc: str, progress: bool, scheduler: str | None = None
) -> list[Any]:
    """Compute ``tasks`` and return their results in order.

    With an active distributed Client the tasks run on the cluster; otherwise on dask's
    threaded scheduler (or the one named by ``scheduler``).
    """
    if not tasks:
        return []
    client = active_client() if scheduler is None else None
    with _progress_bar(len(tasks), desc, progress) as bar:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(list(tasks))
            for _ in as_completed(futures):
                bar.update(1)
            return client.gather(futures)
        keys = {task.key for task in tasks}
        with _CountFinished(keys, bar):
            return list(dask.compute(*tasks, scheduler=scheduler or "threads"))
