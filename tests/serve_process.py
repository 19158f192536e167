"""`cellucid serve` as a real process, for the tests: start it and wait for its banner."""

from __future__ import annotations

import re
import subprocess
import sys
import time


def start_serve(
    arguments: list[str], env: dict[str, str], timeout: float = 60
) -> tuple[subprocess.Popen, int, str]:
    """Start ``cellucid serve ARGUMENTS --port 0 --no-browser``.

    Returns the process, the port it bound and its banner (read up to the Ctrl+C line).
    """
    command = [sys.executable, "-m", "cellucid", "serve", *arguments]
    process = subprocess.Popen(
        [*command, "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    banner = ""
    deadline = time.monotonic() + timeout
    while "Ctrl+C" not in banner and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        banner += line
    found = re.search(r"Data:\s+http://127\.0\.0\.1:(\d+)/", banner)
    if found is None:
        process.kill()
        raise AssertionError(f"serve printed no address:\n{banner}\n{process.stderr.read()}")
    return process, int(found.group(1)), banner
