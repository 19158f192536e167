"""``cellucid serve PATH``: serve an export folder (or a folder of exports) to the viewer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cellucid.commands import EXPORT_ERRORS
from cellucid.commands.prepare import add_export_arguments, export_options


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid serve``."""
    p = subparsers.add_parser(
        "serve",
        help="serve an export folder (or a folder of exports) to the Cellucid viewer",
        description=(
            "Serve an export folder, or a folder whose subfolders are exports, over HTTP for "
            "the Cellucid viewer. Binds to 127.0.0.1 by default (this machine only); use an "
            "SSH tunnel to view data on a remote machine."
        ),
    )
    p.add_argument(
        "path",
        metavar="PATH",
        help="export folder, folder of exports, or a .h5ad file / AnnData Zarr store "
        "(exported into the export cache first, see `cellucid viewer status --exports`)",
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
        help="where the pinned viewer build is fetched from (default: $CELLUCID_WEB_SOURCE_URL "
        "or https://raw.githubusercontent.com/theislab/cellucid)",
    )
    # the options of `cellucid prepare`, for a .h5ad / .zarr PATH; its --quiet is ours
    p.conflict_handler = "resolve"
    add_export_arguments(p)
    p.set_defaults(func=run)


def is_anndata_path(path: Path) -> bool:
    """A ``.h5ad`` file or a ``.zarr`` store: served through the export cache."""
    return path.suffix == ".h5ad" or (path.is_dir() and path.suffix == ".zarr")


def describe_problem(path: Path) -> str | None:
    """Why ``path`` cannot be served, or None when it can."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a folder; serve an export folder or a folder of exports"
    return None


def run(args: argparse.Namespace) -> int:
    from cellucid.serving.server import CellucidServer

    path = Path(args.path)
    if path.exists() and is_anndata_path(path):
        return run_anndata(path, args)
    problem = describe_problem(path)
    if problem is not None:
        print(f"cellucid serve: error: {problem}", file=sys.stderr)
        return 1
    options = server_options(args)
    return serve_until_stopped(
        args,
        lambda: CellucidServer(path, args.port, args.host, quiet=args.quiet, **options),
        errors=(OSError, ValueError),
    )


def run_anndata(path: Path, args: argparse.Namespace) -> int:
    """Serve a .h5ad file or Zarr store through the export cache until Ctrl+C."""
    from cellucid.anndata_serve import cached_server

    if not args.quiet:
        print(f"Exporting {path} into the export cache (reused next time)...", flush=True)
    options = export_options(args)
    options["quiet"] = True  # `--quiet` silences the banner; the export is always quiet here
    return serve_until_stopped(
        args,
        lambda: cached_server(
            path, args.port, args.host, args.quiet, server_options(args), options
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
        return 130
    except errors as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"cellucid serve: error: {message}", file=sys.stderr)
        return 1
    return 0
