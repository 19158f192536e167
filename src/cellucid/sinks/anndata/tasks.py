"""Running the picklable tasks of the X passes: on a ``dask.distributed`` cluster when a
Client is active, else on threads of this process.

Both ways stop cleanly: when a task fails or the run is interrupted (Ctrl+C, or the writer
stops reading chunks), the tasks not started are cancelled, and the local ones already
running are waited for, so that none still writes or reads the spill once the run removes
it. (A task already running on a cluster worker cannot be stopped; the spill folder is not
re-created by a late task, see :mod:`cellucid.sinks.anndata.spill`.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import dask

from cellucid.engine.heap import release_free_memory
from cellucid.engine.runner import active_client, run_tasks
from cellucid.engine.schedulers import scheduler_name
from cellucid.progress import make_bar

Result = TypeVar("Result")

#: Tasks in flight beyond one per core for :func:`in_order`: enough to keep every core busy
#: while the writer drains a finished group, few enough that memory stays a few groups.
TASKS_AHEAD = 1

#: dask schedulers these threads stand for; any other configured one runs the tasks.
_THREADED = (None, "threads", "threading", "dask.distributed")


def _released(task: Callable[[], Result]) -> Result:
    """Run a task, then give the heap it freed back (see cellucid.engine.heap)."""
    result = task()
    release_free_memory()
    return result


def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="cellucid-store")


def _on_threads(tasks: list[Callable[[], Any]], bar: Any) -> list[Any]:
    pool = _threads()
    try:
        futures = [pool.submit(_released, task) for task in tasks]
        for future in as_completed(futures):
            future.result()  # the first failure stops the run
            bar.update(1)
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _on_cluster(client: Any, tasks: list[Callable[[], Any]], bar: Any) -> list[Any]:
    from distributed import as_completed as completed_on_cluster

    futures = [client.submit(task, pure=False) for task in tasks]
    try:
        for future in completed_on_cluster(futures):
            future.result()
            bar.update(1)
        return client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise


def run_all(
    tasks: list[Callable[[], Any]], *, desc: str, progress: bool, unit: str = " blocks"
) -> list[Any]:
    """Run every task (picklable, no arguments) and return their results in order.

    Parameters
    ----------
    tasks
        The tasks.
    desc, unit
        The progress bar's label and unit (one task is one unit).
    progress
        Show the progress bar.

    Raises
    ------
    BaseException
        A task's error, or KeyboardInterrupt, once no local task runs any more.
    """
    if not tasks:
        return []
    scheduler = scheduler_name()
    if scheduler not in _THREADED:  # a dask scheduler the user chose runs them
        delayed = [dask.delayed(task, pure=False)() for task in tasks]
        return run_tasks(delayed, desc=desc, progress=progress, scheduler=scheduler, unit=unit)
    client = active_client()
    with make_bar(len(tasks), desc, unit, progress) as bar:
        if client is not None:
            return _on_cluster(client, tasks, bar)
        return _on_threads(tasks, bar)


def in_order(tasks: list[Callable[[], list[Result]]]) -> Iterator[Result]:
    """Each task's items, task after task, with a bounded window of tasks running ahead.

    Closing the iterator early (the writer failed or was interrupted) cancels the tasks not
    started and waits for the local ones running.
    """
    window = (os.cpu_count() or 1) + TASKS_AHEAD
    client = active_client()
    if client is not None:
        futures = [client.submit(task, pure=False) for task in tasks[:window]]
        try:
            for at in range(len(tasks)):
                if at + window < len(tasks):
                    futures.append(client.submit(tasks[at + window], pure=False))
                yield from futures[at].result()
                futures[at] = None
        finally:
            client.cancel([future for future in futures if future is not None])
        return
    pool = _threads()
    try:
        pending = [pool.submit(_released, task) for task in tasks[:window]]
        for at in range(len(tasks)):
            if at + window < len(tasks):
                pending.append(pool.submit(_released, tasks[at + window]))
            yield from pending[at].result()
            pending[at] = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
