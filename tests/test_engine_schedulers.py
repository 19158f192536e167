"""dask's scheduler handed over as a function: no look-up of a distributed Client."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dask
import dask.array as da
import numpy as np
import pytest
from dask.local import get_sync
from dask.threaded import get as threaded_get

from cellucid.engine.runner import run_tasks
from cellucid.engine.schedulers import local_scheduler, scheduler_function, scheduler_name


def test_no_name_runs_on_threads_given_as_a_function():
    with dask.config.set(scheduler=None):
        with local_scheduler(None):
            assert dask.config.get("scheduler") is threaded_get
            assert scheduler_name() == "threads"
        assert dask.config.get("scheduler") is None  # restored after the block


@pytest.mark.parametrize(("name", "function"), [("sync", get_sync), ("threads", threaded_get)])
def test_a_named_scheduler_is_given_as_its_function(name, function):
    with local_scheduler(name):
        assert dask.config.get("scheduler") is function
        assert scheduler_name() == name
        assert int(da.ones(10, chunks=5).sum().compute()) == 10


def test_a_configured_name_is_kept():
    with dask.config.set(scheduler="synchronous"), local_scheduler(None):
        assert dask.config.get("scheduler") is get_sync
        assert scheduler_name() == "sync"


def test_an_unknown_name_is_left_for_dask_to_refuse():
    with local_scheduler("no-such-scheduler"):
        assert dask.config.get("scheduler", None) != "no-such-scheduler"
        assert scheduler_function("no-such-scheduler") == "no-such-scheduler"


def test_run_tasks_on_each_local_scheduler():
    tasks = [dask.delayed(np.add)(i, 1) for i in range(4)]
    for name in ("threads", "sync"):
        with local_scheduler(name):
            assert run_tasks(tasks, desc="t", progress=False) == [1, 2, 3, 4]


def test_computations_never_import_distributed(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import dask, dask.array as da
        from cellucid.engine.runner import run_tasks
        from cellucid.engine.schedulers import active_client, local_scheduler
        with local_scheduler(None):
            assert active_client() is None
            assert int(da.ones(10, chunks=5).sum().compute()) == 10
            assert run_tasks([dask.delayed(abs)(-1)], desc="t", progress=False) == [1]
        with local_scheduler("sync"):
            assert int(da.ones(4, chunks=2).sum().compute()) == 4
        print("distributed" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
