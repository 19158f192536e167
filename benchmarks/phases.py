"""The phase table of one `cellucid prepare` process, from spawn to exit.

The child runs with logging at INFO and each line stamped with its wall-clock time
(``logging``'s ``created``, the clock the parent reads too). Besides the engine's
``section NAME: S s`` lines (logged when a section ends), the exporter logs marks:
``mark input`` (the input's first byte is read next), ``mark checks`` (prepare's checks
start), ``mark sections`` (the engine starts) and ``mark written`` (the last file is written).
The parent notes the time just before it spawns the process and just after it exits, so
start-up (interpreter, imports) and exit (interpreter teardown) are measured from outside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the code a child runs: `cellucid ...` with the stamped engine log on stderr
CHILD = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.INFO, format='%(created).6f %(name)s %(message)s'); "
    "from cellucid.cli import main; sys.exit(main(sys.argv[1:]))"
)

_MARK = re.compile(r"^([\d.]+) cellucid\.engine mark (\w+)$", re.M)
_SECTION = re.compile(r"^([\d.]+) cellucid\.engine section ([\w.]+): ([\d.]+) s$", re.M)

#: how the engine's section names read in the table
_LABELS = {
    "genes.ranges": "genes: pass one",
    "genes.blocks": "genes: blocks",
    "genes.assembly": "genes: assembly",
}


@dataclass(frozen=True)
class Phase:
    """One row: ``start`` seconds after the spawn, lasting ``seconds``."""

    name: str
    start: float
    seconds: float


def _between(name: str, begin: float | None, end: float | None, spawn: float) -> list[Phase]:
    if begin is None or end is None:
        return []
    return [Phase(name, begin - spawn, end - begin)]


def phase_table(log: str, spawn: float, exited: float) -> list[Phase]:
    """The phases of one run, in the order they start.

    Parameters
    ----------
    log
        The child's stderr (the stamped engine log among other lines).
    spawn, exited
        Wall-clock times just before the spawn and just after the exit.
    """
    marks: dict[str, float] = {}
    for stamp, name in _MARK.findall(log):
        marks.setdefault(name, float(stamp))
    sections = [
        Phase(_LABELS.get(name, name), float(end) - float(s) - spawn, float(s))
        for end, name, s in _SECTION.findall(log)
        # "genes" is logged twice (pass one, then the files): the parts above say more
        if name != "genes"
    ]
    first_read = marks.get("input", marks.get("checks"))
    last_end = max((p.start + p.seconds + spawn for p in sections), default=marks.get("sections"))
    rows = [
        *_between("start-up (spawn to first read)", spawn, first_read, spawn),
        *_between("reading obs, var", marks.get("input"), marks.get("checks"), spawn),
        *_between("checks, checksums, plan", marks.get("checks"), marks.get("sections"), spawn),
        *sections,
        *_between("closing the export", last_end, marks.get("written"), spawn),
        *_between("exit (last file to process end)", marks.get("written"), exited, spawn),
    ]
    return sorted(rows, key=lambda p: p.start)


def format_table(rows: list[Phase], wall: float, indent: int = 18) -> str:
    """The rows as text: phase, start and seconds; sections run side by side overlap."""
    pad = " " * indent
    lines = [f"{pad}{'phase':<34} {'starts at s':>11} {'seconds':>8}"]
    lines += [f"{pad}{p.name:<34} {p.start:11.2f} {p.seconds:8.2f}" for p in rows]
    lines.append(f"{pad}{'whole run (spawn to exit)':<34} {0.0:11.2f} {wall:8.2f}")
    return "\n".join(lines)
