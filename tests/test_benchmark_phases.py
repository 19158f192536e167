"""The benchmark's phase table (benchmarks/phases.py) from a stamped engine log."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import pytest

PHASES_FILE = Path(__file__).parents[1] / "benchmarks" / "phases.py"


@pytest.fixture(scope="module")
def phases():
    spec = importlib.util.spec_from_file_location("bench_phases", PHASES_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


LOG = """\
100.500000 cellucid.engine mark input
101.000000 cellucid.engine mark checks
101.250000 cellucid.engine mark sections
something else on stderr
101.450000 cellucid.engine section points: 0.20 s
102.250000 cellucid.engine section genes.ranges: 1.00 s
102.300000 cellucid.engine section genes: 1.05 s
103.250000 cellucid.engine section genes.blocks: 0.90 s
103.500000 cellucid.engine section genes.assembly: 0.25 s
103.500000 cellucid.engine section genes: 1.20 s
103.750000 cellucid.engine mark written
"""


def test_every_phase_from_spawn_to_exit(phases):
    rows = phases.phase_table(LOG, spawn=100.0, exited=104.0)
    table = {row.name: (round(row.start, 2), round(row.seconds, 2)) for row in rows}
    assert table == {
        "start-up (spawn to first read)": (0.0, 0.5),
        "reading obs, var": (0.5, 0.5),
        "checks, checksums, plan": (1.0, 0.25),
        "points": (1.25, 0.2),
        "genes: pass one": (1.25, 1.0),
        "genes: blocks": (2.35, 0.9),
        "genes: assembly": (3.25, 0.25),
        "closing the export": (3.5, 0.25),
        "exit (last file to process end)": (3.75, 0.25),
    }
    assert [row.start for row in rows] == sorted(row.start for row in rows)
    text = phases.format_table(rows, wall=4.0)
    assert "exit (last file to process end)" in text and "4.00" in text


def test_the_child_log_format_is_what_the_table_reads(phases, caplog):
    """The marks the exporter logs, formatted as the child formats them, are found."""
    logger = logging.getLogger("cellucid.engine")
    formatter = logging.Formatter("%(created).6f %(name)s %(message)s")
    assert "%(created).6f %(name)s %(message)s" in phases.CHILD
    with caplog.at_level(logging.INFO, logger="cellucid.engine"):
        logger.info("mark input")
        logger.info("section %s: %.2f s", "points", 0.0)
        logger.info("mark written")
    log = "\n".join(formatter.format(record) for record in caplog.records)
    first = caplog.records[0].created
    rows = phases.phase_table(log, spawn=first - 1.0, exited=caplog.records[-1].created + 1.0)
    names = [row.name for row in rows]
    assert names[0] == "start-up (spawn to first read)" and "points" in names
    assert names[-1] == "exit (last file to process end)"
