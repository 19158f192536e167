"""A command run under a real pseudo-terminal, and a small terminal that replays its output.

:func:`run_in_pty` runs a command with stdin, stdout and stderr on one pty of a fixed
size (tqdm sizes its bars from it) and returns every byte written. :class:`Screen` replays
those bytes as a terminal would: carriage return, line feed, backspace, cursor up/down,
erase in line, lines wrapping at the right edge; other escape sequences are ignored. Its
``lines`` are what a user sees (the whole scroll-back), to check line by line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence

#: CSI sequences: ESC [ parameters final-byte
_CSI = re.compile(r"\x1b\[([0-9;?]*)([@-~])")


def run_in_pty(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    columns: int = 160,
    rows: int = 40,
    timeout: float = 600.0,
) -> tuple[int, bytes]:
    """Run ``argv`` on a new pty of ``columns`` x ``rows``; its exit code and its output."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    try:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=follower, stdout=follower,
            stderr=follower, start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError as error:  # EIO: every writer closed the pty
                if error.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            output += chunk
        else:
            process.kill()
            raise TimeoutError(f"{argv} still running after {timeout} s")
        return process.wait(timeout=timeout), bytes(output)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()


class Screen:
    """What a terminal ``columns`` wide shows after receiving some text."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0

    def feed(self, text: str) -> Screen:
        """Replay ``text``; returns the screen."""
        i = 0
        while i < len(text):
            match = _CSI.match(text, i)
            if match:
                self._control(match.group(1), match.group(2))
                i = match.end()
                continue
            self._char(text[i])
            i += 1
        return self

    @property
    def lines(self) -> list[str]:
        """Every line, trailing blanks removed, trailing empty lines dropped."""
        lines = ["".join(row).rstrip() for row in self.rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _char(self, char: str) -> None:
        if char == "\r":
            self.col = 0
        elif char == "\n":  # as a pty delivers it (onlcr): a new line, at its start
            self._move_to(self.row + 1)
            self.col = 0
        elif char == "\b":
            self.col = max(0, self.col - 1)
        elif char == "\x1b" or ord(char) < 32:
            return  # a lone escape or another control character: nothing shown
        else:
            if self.col >= self.columns:  # the terminal wraps before the next character
                self._move_to(self.row + 1)
                self.col = 0
            line = self.rows[self.row]
            line.extend(" " * (self.col + 1 - len(line)))
            line[self.col] = char
            self.col += 1

    def _control(self, parameters: str, final: str) -> None:
        n = int(parameters) if parameters.isdigit() else 1
        if final == "A":
            self.row = max(0, self.row - n)
        elif final == "B":
            self._move_to(self.row + n)
        elif final == "K":
            line = self.rows[self.row]
            mode = int(parameters or 0)
            if mode == 0:
                del line[self.col :]
            elif mode == 1:
                line[: self.col] = " " * min(self.col, len(line))
            else:
                line.clear()

    def _move_to(self, row: int) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        self.row = row
