"""One start sequence for every way of serving (serving/start.py): offline, each route says
once, on stderr, as it starts, how to bring the viewer build onto this machine."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cellucid import make_demo_anndata, write_demo_export

from .serve_process import start_serve
from .webfake import closed_port_url, pin_fake_builds

ROOT = Path(__file__).resolve().parents[1]
#: a line of the offline steps (serving/offline.py), printed once per start
STEP = "cellucid viewer download --layout key"


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_demo_export(
        tmp_path_factory.mktemp("export") / "demo", n_cells=200, n_genes=5, quiet=True
    )


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("h5ad") / "atlas.h5ad"
    make_demo_anndata(n_cells=200, n_genes=6).write_h5ad(path)
    return path


def offline_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "CELLUCID_WEB_SOURCE_URL": closed_port_url(),
        "CELLUCID_WEB_CACHE_DIR": str(tmp_path / "web-cache"),
        "CELLUCID_EXPORT_CACHE_DIR": str(tmp_path / "export-cache"),
    }


def stopped_stderr(process: subprocess.Popen, port: int) -> str:
    """Once the server answers (so its start sequence has run to the end), Ctrl+C, then
    everything the process wrote on stderr."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/_cellucid/health")
    assert conn.getresponse().status == 200
    conn.close()
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def assert_warned_once(err: str, program: str, cache: Path) -> None:
    assert err.count(STEP) == 1, err
    assert err.count(f"{program}: warning: The Cellucid viewer") == 1, err
    assert str(cache) in err


@pytest.mark.parametrize("route", ["folder", "h5ad"])
def test_cellucid_serve_warns_once_when_offline(route, export, h5ad, tmp_path):
    env = offline_env(tmp_path)
    target = export if route == "folder" else h5ad
    pinned = [] if route == "folder" else ["--viewer", "pinned"]
    process, port, banner = start_serve([str(target), *pinned], env, timeout=120)
    try:
        assert "Press Ctrl+C" in banner
        # the banner's Data address answers with the data, not the viewer's offline page
        data_url = re.search(r"Data:\s+(\S+)", banner).group(1)
        with urllib.request.urlopen(data_url, timeout=30) as reply:
            assert reply.status == 200 and "datasets" in json.loads(reply.read())
        err = stopped_stderr(process, port)
    finally:
        process.kill()
        process.wait()
    assert_warned_once(err, "cellucid serve", tmp_path / "web-cache")


def test_serve_in_python_warns_once_when_offline(export, tmp_path):
    code = f"import cellucid; cellucid.serve({str(export)!r}, port=0, open_browser=False)"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=offline_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = ""
        while "Ctrl+C" not in banner:
            line = process.stdout.readline()
            assert line, banner
            banner += line
        port = int(re.search(r"Data:\s+http://127\.0\.0\.1:(\d+)/", banner).group(1))
        err = stopped_stderr(process, port)
    finally:
        process.kill()
        process.wait()
    assert_warned_once(err, "cellucid", tmp_path / "web-cache")
    # Ctrl+C is how serve() ends: no traceback, a clean exit
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert process.returncode == 0


@pytest.mark.parametrize("route", ["show", "show_anndata", "serve_anndata"])
def test_notebook_and_anndata_routes_warn_once_when_offline(
    route, export, h5ad, tmp_path, monkeypatch, capsys
):
    import cellucid

    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(tmp_path / "export-cache"))
    pin_fake_builds(monkeypatch, tmp_path)
    if route == "show":
        shown = cellucid.show(export)
    elif route == "show_anndata":
        shown = cellucid.show_anndata(h5ad, viewer="pinned")
    else:
        shown = cellucid.serve_anndata(
            h5ad, port=0, open_browser=False, quiet=True, viewer="pinned"
        )
    server = shown if route == "serve_anndata" else shown.server
    try:
        err = capsys.readouterr().err
        assert_warned_once(err, "cellucid", tmp_path / "web-cache")
    finally:
        # the export into the cache may still be writing its gene files
        if server.pending is not None:
            server.pending.wait_done(120)
        shown.stop()


def test_a_cached_viewer_build_means_no_warning(export, tmp_path, monkeypatch, capsys):
    from cellucid.serving.server import CellucidServer
    from cellucid.serving.start import RUNNING, start_server, stop_server

    from .webfake import RawHost

    _, files = pin_fake_builds(monkeypatch, tmp_path)
    with RawHost(files) as host:
        server = CellucidServer(export, port=0, web_source_url=host.url)
        start_server(server, quiet=True)
        try:
            assert server.running and server in RUNNING
            assert capsys.readouterr().err == ""
        finally:
            stop_server(server)
    assert not server.running and server not in RUNNING
