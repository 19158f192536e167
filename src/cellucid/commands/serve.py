"""``cellucid serve PATH``: serve data to the Cellucid viewer that opens it.

- a Cellucid-ready store (``.zarr``, ``.zarr.zip``, ``.h5ad`` with ``uns['cellucid']``) or a
  folder of them: as they are, to today's web app;
- a ``.h5ad`` file or AnnData Zarr store: written once into the export cache as a
  Cellucid-ready store for today's web app, or with ``--viewer pinned`` exported to an
  export folder for the pinned viewer build;
- an export folder or a folder of exports: to the pinned viewer build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cellucid.commands import EXPORT_ERRORS
from cellucid.commands._launch_flags import add_launch_arguments
from cellucid.commands.prepare import (
    GIVEN,
    add_export_arguments,
    export_options,
    track_given_flags,
)


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid serve``."""
    p = subparsers.add_parser(
        "serve",
        help="serve a Cellucid-ready store, an AnnData (.h5ad / .zarr) or export folders to "
        "the Cellucid viewer",
        description=(
            "Serve data over HTTP to the Cellucid viewer that opens it: a Cellucid-ready store "
            "(or a folder of them) as it is, to today's web app; a .h5ad file or AnnData Zarr "
            "store after writing it once into the export cache as a Cellucid-ready store (or, "
            "with --viewer pinned, as an export folder for the pinned viewer build); an export "
            "folder or a folder of exports to the pinned viewer build. Binds to 127.0.0.1 by "
            "default (this machine only); use an SSH tunnel to view data on a remote machine."
        ),
    )
    p.add_argument(
        "path",
        metavar="PATH",
        help="Cellucid-ready store or folder of stores, a .h5ad file / AnnData Zarr store "
        "(written into the export cache first, see `cellucid viewer status --exports`), or "
        "an export folder / folder of exports",
    )
    p.add_argument(
        "--port", "-p", type=int, default=8765, help="first port to try (default 8765); 0 = any"
    )
    p.add_argument(
        "--host",
        "-H",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: this machine only)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--quiet", "-q", action="store_true", help="print no banner")
    p.add_argument("--verbose", "-v", action="store_true", help="log every request")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="also answer requests whose Host header is NAME (e.g. a reverse proxy); "
        "repeatable. localhost, 127.0.0.1 and [::1] on the bound port always work",
    )
    p.add_argument(
        "--web-source-url",
        default=None,
        help="where the viewer is fetched from: today's web app's site (default "
        "$CELLUCID_WEB_APP_URL or https://www.cellucid.com; plain http only to a loopback "
        "host), or with --viewer pinned and export folders the pinned build's host (default "
        "$CELLUCID_WEB_SOURCE_URL or https://raw.githubusercontent.com/theislab/cellucid)",
    )
    # the options of `cellucid prepare`, for a .h5ad / .zarr PATH; its --quiet is ours
    p.conflict_handler = "resolve"
    add_export_arguments(p)
    add_launch_arguments(p)
    track_given_flags(p)
    p.set_defaults(func=run, **{GIVEN: {}})


def is_anndata_path(path: Path) -> bool:
    """A ``.h5ad`` file or a ``.zarr`` store (a ``.zarr.zip`` is one only when ready)."""
    return path.suffix == ".h5ad" or (path.is_dir() and path.suffix == ".zarr")


def run(args: argparse.Namespace) -> int:
    from cellucid.serving.current_route import ready_store
    from cellucid.serving.datasets import discover

    path = Path(args.path).expanduser()
    if not path.exists():
        print(f"cellucid serve: error: {path} does not exist", file=sys.stderr)
        return 1
    if ready_store(path) is not None:
        return run_current(path, args)
    if is_anndata_path(path):
        return run_anndata(path, args) if args.viewer == "pinned" else run_current(path, args)
    if not path.is_dir():
        print(
            f"cellucid serve: error: {path} is not a folder, a .h5ad file or a Cellucid-ready "
            "store; serve an export folder, a folder of exports or stores, or an AnnData",
            file=sys.stderr,
        )
        return 1
    if not discover(path)[1] and any(ready_store(child) for child in sorted(path.iterdir())):
        return run_store_folder(path, args)
    return run_exports(path, args)  # exports, or the message of a folder holding none


def run_exports(path: Path, args: argparse.Namespace) -> int:
    """An export folder or a folder of exports, to the pinned viewer build."""
    from cellucid.serving.server import CellucidServer

    options = server_options(args)
    return serve_until_stopped(
        args,
        lambda: CellucidServer(path, args.port, args.host, quiet=args.quiet, **options),
        errors=(OSError, ValueError),
    )


def run_store_folder(path: Path, args: argparse.Namespace) -> int:
    """A folder of Cellucid-ready stores (or of nothing servable: the message says so)."""
    from cellucid.serving.stores.server import StoreServer
    from cellucid.serving.webapp import CurrentApp

    options = server_options(args)

    def make_server() -> StoreServer:
        viewer = CurrentApp(options.pop("web_source_url"))
        return StoreServer(path, args.port, args.host, viewer=viewer, quiet=args.quiet, **options)

    return serve_until_stopped(args, make_server, errors=(OSError, ValueError))


def run_current(path: Path, args: argparse.Namespace) -> int:
    """A Cellucid-ready store (served as it is) or an AnnData (written into the export
    cache once), to today's web app."""
    from cellucid.anndata_serve import anndata_server
    from cellucid.commands._launch_flags import current_options

    def announce() -> None:
        if not args.quiet:
            print(
                f"Writing a Cellucid-ready store of {path} into the export cache "
                "(reused next time)...",
                flush=True,
            )

    def make_server() -> Any:
        return anndata_server(
            path,
            args.port,
            args.host,
            viewer="current",
            quiet=args.quiet,
            server_options=server_options(args),
            options=current_options(args),
            before_writing=announce,
        )

    return serve_until_stopped(args, make_server, errors=EXPORT_ERRORS)


def run_anndata(path: Path, args: argparse.Namespace) -> int:
    """Serve a .h5ad file or Zarr store through an export folder in the export cache (the
    pinned viewer) until Ctrl+C."""
    from cellucid.anndata_serve import cached_server

    def announce() -> None:
        if not args.quiet:
            print(f"Exporting {path} into the export cache (reused next time)...", flush=True)

    options = export_options(args)
    options["quiet"] = True  # `--quiet` silences the banner; the export is always quiet here
    return serve_until_stopped(
        args,
        lambda: cached_server(
            path, args.port, args.host, args.quiet, server_options(args), options, announce
        ),
        errors=EXPORT_ERRORS,
    )


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~cellucid.serving.server.CellucidServer` arguments of the flags."""
    return {
        "verbose": args.verbose,
        "allowed_hosts": tuple(args.allowed_host),
        "web_source_url": args.web_source_url,
    }


def serve_until_stopped(
    args: argparse.Namespace,
    make_server: Callable[[], Any],
    errors: tuple[type[BaseException], ...],
) -> int:
    """Make the server, start it (:func:`cellucid.serving.start.start_server`) and serve
    until Ctrl+C.

    Returns the exit code: 0; 1 after one of ``errors`` (one line on stderr); 130 after
    Ctrl+C.
    """
    from cellucid.serving.background import end_process
    from cellucid.serving.start import start_server

    try:
        server = make_server()
        start_server(
            server,
            quiet=args.quiet,
            open_browser=not args.no_browser,
            block=True,
            program="cellucid serve",
        )
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nStopped.", flush=True)
        end_process(130)  # nothing left to do: no interpreter teardown (see there)
        return 130
    except errors as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"cellucid serve: error: {message}", file=sys.stderr)
        return 1
    return 0
