"""`cellucid serve` as a real command, and show() in a real notebook kernel."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cellucid import write_demo_export

from .serve_process import start_serve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_demo_export(
        tmp_path_factory.mktemp("e") / "demo", n_cells=200, n_genes=5, quiet=True
    )


def test_serve_command_runs_and_stops_on_ctrl_c(export, tmp_path):
    env = {
        "CELLUCID_WEB_SOURCE_URL": "http://127.0.0.1:9",
        "CELLUCID_WEB_CACHE_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        # the code under test, not whichever checkout the venv's editable install names
        "PYTHONPATH": str(ROOT / "src"),
    }
    process, port, banner = start_serve([str(export)], env)
    try:
        assert f"Viewer: http://127.0.0.1:{port}/?remote=http://127.0.0.1:{port}" in banner
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/_cellucid/health")
        assert json.loads(conn.getresponse().read())["status"] == "ok"
        conn.close()
        process.send_signal(signal.SIGINT)
        # communicate() drains both pipes, so a chatty server cannot block on a full pipe
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(
                f"serve ignored Ctrl+C for 30 s\n{out[-2000:]}\n{err[-4000:]}"
            ) from None
        assert process.returncode == 130, err
        # offline with no cached viewer: the CLI says how to get it onto this machine
        assert "cellucid viewer download --layout key" in err and str(tmp_path) in err
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (
            # a .h5ad is exported into the cache first: a broken one fails with the reason
            lambda tmp: (tmp / "atlas.h5ad").write_bytes(b"x") and tmp / "atlas.h5ad",
            "not an HDF5 file",
        ),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "holds no export"),
    ],
    ids=["missing", "h5ad", "empty"],
)
def test_serve_command_errors(tmp_path, make, words):
    target = make(tmp_path)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "CELLUCID_EXPORT_CACHE_DIR": str(tmp_path / "export-cache"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cellucid", "serve", str(target), "--no-browser", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert words in result.stderr and result.stderr.strip().count("\n") == 0


def test_quickstart_notebook_shows_the_viewer(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", tmp_path / "quickstart.ipynb")
    notebook = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    frames = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert frames, outputs
    # the viewer's Jupyter mode: it finds the server at its own folder, with id and token
    match = re.search(
        r'<iframe src="http://127\.0\.0\.1:(\d+)/\?jupyter=true&amp;viewerId=(\w+)&amp;'
        r'viewerToken=([\w-]+)"',
        frames[0],
    )
    assert match, frames[0]
    assert (tmp_path / "exports" / "demo" / "dataset_identity.json").exists()


def test_show_outside_jupyter_and_behind_a_proxy(export, monkeypatch, capsys, tmp_path):
    from cellucid import show

    # show() looks for the viewer build as it starts: offline here, and no real cache touched
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "cache"))
    viewer = show(export)
    try:
        port = viewer.server.port
        query = f"jupyter=true&viewerId={viewer.viewer_id}&viewerToken={viewer.token}"
        assert f"Cellucid viewer: http://127.0.0.1:{port}/?{query}" in capsys.readouterr().out
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
        # behind the proxy the viewer finds the server at its own folder (same origin)
        assert viewer.url == f"/user/ana/proxy/{port}/?{query}"
        assert f'src="/user/ana/proxy/{port}/' in viewer._repr_html_()
    finally:
        viewer.stop()
    assert not viewer.server.running
