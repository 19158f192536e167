"""One clean display (#22 item 4): bars and messages on one terminal.

Unit tests drive :mod:`cellucid.progress` with stdout and stderr on one buffer and replay
it on a small terminal (tests/terminal.py); the last test runs ``cellucid demo`` under a
real pseudo-terminal and checks what a user would see, line by line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time

import dask
import dask.array as da
import pytest
import tqdm.std

from cellucid import progress

from .terminal import Screen, run_in_pty

#: a bar's line: "label: NN%|...|", or "label: N units [time..." when it has no total
BAR = re.compile(r"^[\w][\w ,:()]*: +(\d+%\||\d+ [\w ]+\[\d\d:\d\d)")


def on_one_buffer(monkeypatch) -> io.StringIO:
    """stdout and stderr on one buffer, as on a terminal; bars drawn from the start.

    Called in the test itself: pytest's capture sets sys.stdout and sys.stderr again
    between a fixture's setup and the test.
    """
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0)
    return stream


def shown(stream: io.StringIO) -> list[str]:
    return Screen(200).feed(stream.getvalue()).lines


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_line_printed_beside_a_bar_gets_a_line_of_its_own(monkeypatch):
    console = on_one_buffer(monkeypatch)
    with progress.make_bar(4, "genes: encode", " blocks", True) as bar:
        bar.update(1)
        bar.refresh()
        assert shown(console)[0].startswith("genes: encode:  25%|")
        progress.write_line("✓ Wrote connectivity (12 edges)")
        bar.update(3)
    lines = shown(console)
    assert lines[0] == "✓ Wrote connectivity (12 edges)"
    assert lines[1].startswith("genes: encode: 100%|") and "4/4" in lines[1]
    assert len(lines) == 2
    progress.write_line("next")
    assert shown(console)[2] == "next"


def test_a_phase_shorter_than_the_delay_prints_nothing(monkeypatch):
    console = on_one_buffer(monkeypatch)
    monkeypatch.setattr(progress, "SHOW_AFTER", 60)
    with progress.make_bar(4, "quick", " blocks", True) as bar:
        bar.update(4)
        bar.refresh()  # even a forced refresh waits for the delay
    assert console.getvalue() == ""


def test_a_finished_block_leaves_its_bar_at_100_percent(monkeypatch):
    console = on_one_buffer(monkeypatch)
    # dask's counts can stay short of the total (tasks culled); the work is done all the same
    with progress.make_bar(10, "obs: category centroids", " blocks", True) as bar:
        bar.update(5)
        bar.refresh()
    (line,) = shown(console)
    assert line.startswith("obs: category centroids: 100%|") and "10/10" in line


def test_a_failed_block_erases_its_bar(monkeypatch):
    console = on_one_buffer(monkeypatch)
    with pytest.raises(RuntimeError):
        with progress.make_bar(10, "genes: encode", " blocks", True) as bar:
            bar.update(5)
            bar.refresh()
            raise RuntimeError("stop")
    assert shown(console) == []
    progress.write_line("cellucid prepare: error: stop", sys.stderr)
    assert shown(console) == ["cellucid prepare: error: stop"]


def test_one_bar_at_a_time(monkeypatch):
    console = on_one_buffer(monkeypatch)
    with progress.make_bar(2, "outer", " blocks", True) as outer:
        outer.refresh()
        with progress.make_bar(3, "inner", " blocks", True) as inner:
            assert not isinstance(inner, tqdm.std.tqdm)
            inner.update(3)
            assert inner.n == 3
        outer.update(2)
    (line,) = shown(console)
    assert line.startswith("outer: 100%|")


def test_a_background_bar_is_drawn_only_while_the_main_thread_waits(monkeypatch):
    console = on_one_buffer(monkeypatch)
    mirrored = threading.Event()

    def work() -> None:
        with progress.in_background():
            with progress.make_bar(4, "connectivity: edges", " blocks", True) as bar:
                assert not isinstance(bar, tqdm.std.tqdm)
                bar.update(2)
                assert mirrored.wait(60)
                bar.update(2)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    wait_for(lambda: progress._BACKGROUND_TALLIES and progress._BACKGROUND_TALLIES[-1].n == 2)
    assert console.getvalue() == ""  # running beside the main stages: nothing drawn
    watcher = threading.Thread(
        target=lambda: (
            wait_for(lambda: progress._OPEN and progress._OPEN[0].n == 2),
            mirrored.set(),
        ),
        daemon=True,
    )
    watcher.start()
    progress.wait_showing(thread, enabled=True)
    lines = shown(console)
    assert len(lines) == 1 and lines[0].startswith("connectivity: edges: 100%|"), lines
    assert "4/4" in lines[0]


def test_a_dask_bar_counts_only_its_own_thread(monkeypatch):
    on_one_buffer(monkeypatch)

    def compute() -> None:
        da.ones(8, chunks=1).sum().compute(scheduler="sync")

    with progress.dask_bar("alone", True):
        compute()
        (alone,) = progress._OPEN
        tasks = alone.total
    assert tasks > 0 and alone.n == tasks
    started, release = threading.Event(), threading.Event()

    def beside() -> None:
        # as the connectivity does: a long computation naming its own callbacks
        def slow(x):
            started.set()
            assert release.wait(60)
            return x

        with progress.in_background(), progress.dask_bar("beside", True):
            work = [dask.delayed(slow)(i) for i in range(64)]
            dask.compute(*work, scheduler="sync", callbacks=progress.own_callbacks())

    other = threading.Thread(target=beside, daemon=True)
    other.start()
    assert started.wait(60)
    with progress.dask_bar("main", True):
        compute()  # while the other thread's computation runs
        (bar,) = progress._OPEN
        assert bar.total == tasks and bar.n == tasks
    release.set()
    other.join(60)
    assert not [t for t in progress._BACKGROUND_TALLIES if t.desc == "beside"]  # closed


def test_a_closed_stdout_stops_the_lines_not_the_work(monkeypatch):
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    gone = Gone()
    monkeypatch.setattr(sys, "stdout", gone)
    progress.write_line("first")  # no error
    progress.write_line("second")
    assert id(gone) in progress._GONE


# -- a real terminal ------------------------------------------------------------------------

#: the CLI with bars drawn from the first count (every phase of a small export draws)
CHILD = (
    "import sys; import cellucid.progress as p; p.SHOW_AFTER = p.MIN_INTERVAL = 0; "
    "from cellucid.cli import main; sys.exit(main(sys.argv[1:]))"
)
DEMO = ["demo", "out", "--n-cells", "3000", "--n-genes", "60"]
#: wide enough that no message wraps (they name the folder in tmp_path)
COLUMNS = 300


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm", CELLUCID_WEB_CACHE_DIR=str(tmp_path / "web"))
    return env


def _messages(lines: list[str], folder) -> list[str]:
    """The lines that are no bar, without the run's seconds and folder."""
    return [
        re.sub(r" in \d+\.\d s ", " in N s ", line).replace(str(folder), "FOLDER")
        for line in lines
        if not BAR.match(line)
    ]


def test_demo_under_a_real_terminal_draws_one_clean_display(tmp_path):
    tty_dir, pipe_dir = tmp_path / "tty", tmp_path / "pipe"
    tty_dir.mkdir()
    pipe_dir.mkdir()
    code, output = run_in_pty(
        [sys.executable, "-c", CHILD, *DEMO], cwd=tty_dir, env=_env(tmp_path), columns=COLUMNS
    )
    text = output.decode("utf-8")
    assert code == 0, text
    lines = Screen(COLUMNS).feed(text).lines
    bars = [line for line in lines if BAR.match(line)]
    assert len(bars) >= 4, lines  # embeddings, obs, genes pass one, encode, write files
    for bar in bars:
        # every bar closed complete, alone on its line
        assert re.match(r"^[\w][\w ,:()]*: 100%\|", bar), bar
        assert "✓" not in bar and "=" not in bar.split("|")[0]
    for line in lines:
        assert "✓" not in line or line.startswith("✓"), line
        assert "%|" not in line or BAR.match(line), line
    # the settings banner in one piece
    rule = [i for i, line in enumerate(lines) if line == "=" * 60]
    assert len(rule) == 2 and lines[rule[0] + 1] == "Export Settings:"
    assert all(line.startswith("  ") for line in lines[rule[0] + 2 : rule[1]])
    # nothing after the summary but the demo's closing words
    (last,) = [i for i, line in enumerate(lines) if line.startswith("✓ Exported ")]
    assert lines[last + 1 :] == ["", f"Done. View it with: cellucid serve {tty_dir / 'out'}"]
    # the same messages, in the same order, as without a terminal
    piped = subprocess.run(
        [sys.executable, "-c", CHILD, *DEMO], cwd=pipe_dir, env=_env(tmp_path),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""  # no bar without a terminal
    expected = _messages(piped.stdout.splitlines(), pipe_dir)
    seen = _messages(lines, tty_dir)
    assert sorted(seen) == sorted(expected)
    # lines of the main stages keep their order (the connectivity's runs beside them)
    assert [m for m in seen if "connectivity" not in m] == [
        m for m in expected if "connectivity" not in m
    ]
