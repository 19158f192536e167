"""The one start sequence of a data server, used by ``cellucid serve`` (an export folder or a
``.h5ad``), :func:`cellucid.serve`, :func:`cellucid.show`, :func:`cellucid.serve_anndata`
and :func:`cellucid.show_anndata`.

1. bind the requested port, or the next free one;
2. print the banner (unless ``quiet``);
3. fetch and verify the viewer build's page (or find it in the cache); when that fails, say
   once, on stderr, how to bring the build onto this machine (even when ``quiet``: the
   viewer cannot open without it);
4. open the browser (when asked);
5. serve: in this thread until Ctrl+C, or in a background thread that stops at interpreter
   exit (or with :func:`stop_server`).
"""

from __future__ import annotations

import atexit
import sys
import webbrowser
from collections.abc import Iterable
from pathlib import Path

from cellucid.serving.server import CellucidServer

#: servers serving in a background thread, stopped at interpreter exit
RUNNING: list[CellucidServer] = []


def _stop_all() -> None:
    while RUNNING:
        RUNNING.pop().stop()


atexit.register(_stop_all)


def start_server(
    server: CellucidServer,
    *,
    quiet: bool = False,
    open_browser: bool = False,
    block: bool = False,
    program: str = "cellucid",
) -> CellucidServer:
    """Start ``server`` with the sequence above; returns it (once stopped, when ``block``).

    Parameters
    ----------
    server
        The server, not started yet.
    quiet
        Print no banner (the offline warning is printed anyway).
    open_browser
        Open the viewer in the default browser.
    block
        Serve in this thread until Ctrl+C (KeyboardInterrupt propagates); otherwise serve
        in a background thread and return at once.
    program
        Who speaks in the warning (``<program>: warning: ...``), e.g. ``cellucid serve``.

    Raises
    ------
    OSError
        When no port is free (see :func:`cellucid.serving.server.bind`).
    """
    server.listen()
    if not quiet:
        # how it stops depends on where it runs: Ctrl+C here, or .stop() on a background one
        how = "Press Ctrl+C to stop." if block else "Serving in the background; .stop() stops it."
        print(f"{server.banner()}\n{how}", flush=True)
    problem = server.viewer_problem()
    if problem:
        print(f"{program}: warning: {problem}", file=sys.stderr, flush=True)
    if open_browser:
        webbrowser.open(server.viewer_url)
    if block:
        server.serve_forever()
    else:
        server.start()
        RUNNING.append(server)
    return server


def stop_server(server: CellucidServer) -> None:
    """Stop a server started in the background and forget it."""
    server.stop()
    if server in RUNNING:
        RUNNING.remove(server)


def serve(
    data_dir: str | Path,
    port: int = 8765,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    quiet: bool = False,
    allowed_hosts: Iterable[str] = (),
    web_source_url: str | None = None,
) -> None:
    """Serve an export folder (or exports root) until Ctrl+C, then return (printing
    "Stopped." unless ``quiet``).

    Parameters
    ----------
    data_dir
        Export folder or folder of exports.
    port
        First port to try (busy ports move to the next free one); 0 picks any.
    host
        Interface to bind (default loopback only).
    open_browser
        Open the viewer in the default browser.
    quiet
        Print no banner (a viewer build that cannot be downloaded is still reported, on
        stderr).
    allowed_hosts
        Extra names accepted in the ``Host`` header (see :class:`CellucidServer`).
    web_source_url
        Where the pinned viewer build is fetched from.
    """
    server = CellucidServer(
        data_dir,
        port,
        host,
        quiet=quiet,
        allowed_hosts=allowed_hosts,
        web_source_url=web_source_url,
    )
    try:
        start_server(server, quiet=quiet, open_browser=open_browser, block=True)
    except KeyboardInterrupt:
        # Ctrl+C is how this function is meant to end: no traceback, as on the command line
        if not quiet:
            print("\nStopped.", flush=True)
