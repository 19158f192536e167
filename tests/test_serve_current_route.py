"""Any atlas in today's web app (serving/current_route.py): serve_anndata, show_anndata and
``cellucid serve`` write a Cellucid-ready store into the export cache (or serve a ready one
as it is) and serve it with the app, fetched from a stand-in of its site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anndata
import pytest

import cellucid
from cellucid.serving.stores import StoreServer

from .serve_process import start_serve
from .store_serving import fetch
from .test_store_prepare import make_atlas
from .webappfake import AppSite, build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The app's site on 127.0.0.1, and private caches."""
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(tmp_path / "export-cache"))
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web-cache"))
    with AppSite(build("app-7")) as served:
        monkeypatch.setenv("CELLUCID_WEB_APP_URL", served.url)
        yield served


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("current") / "lung atlas.h5ad"
    make_atlas(150, 12).write_h5ad(path)
    return path


def datasets(server) -> list[dict]:
    reply, body = fetch(server.port, "GET", "/_cellucid/datasets")
    assert reply.status == 200
    return json.loads(body)["datasets"]


def cache_entries() -> list[Path]:
    root = Path(os.environ["CELLUCID_EXPORT_CACHE_DIR"])
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def test_serve_anndata_writes_a_store_once_and_serves_it_with_the_app(site, h5ad):
    server = cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True)
    try:
        assert isinstance(server, StoreServer)
        (entry,) = cache_entries()
        assert server.path == (entry / "data.zarr").resolve()
        assert cellucid.validate_store(server.path) == []
        (listed,) = datasets(server)
        # named after the file, the id in id form; the store's route under /_cellucid/anndata
        assert (listed["id"], listed["name"]) == ("lung-atlas", "lung atlas")
        url = listed["anndata"]["file"]["url"]
        # relative to the server's origin, as upstream 0.9.5 publishes it
        assert url == "_cellucid/anndata/lung-atlas.zarr/"
        reply, body = fetch(server.port, "GET", f"/{url}.zattrs", {"Range": "bytes=0-9"})
        assert reply.status == 206 and body == (server.path / ".zattrs").read_bytes()[:10]
        # today's app at /, the one the site published
        reply, page = fetch(server.port, "GET", "/")
        assert reply.status == 200 and b"app-7" in page
        assert server.viewer_url.endswith("/?anndata=true")
    finally:
        server.stop()
    stamp = {p: p.stat().st_mtime_ns for p in server.path.rglob("*")}
    again = cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True)
    try:
        assert again.path == server.path and cache_entries() == [entry]
        assert {p: p.stat().st_mtime_ns for p in again.path.rglob("*")} == stamp
    finally:
        again.stop()


def test_launch_choices_are_published_and_the_store_is_not_rewritten(site, h5ad):
    first = cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True)
    first.stop()
    server = cellucid.serve_anndata(
        h5ad,
        port=0,
        open_browser=False,
        quiet=True,
        knn_key="connectivities",
        obs_keys=["cell_type"],
        embedding_keys={"2d": "X_umap"},
    )
    try:
        assert server.path == first.path  # the same store: launch choices are not written
        (listed,) = datasets(server)
        assert listed["anndata"]["defaults"] == {
            "embedding2d": {"key": "X_umap", "columns": [0, 1]},
            "knn": "connectivities",
            "obsKeys": ["cell_type"],
        }
    finally:
        server.stop()


def test_a_ready_store_is_served_as_it_is(site, tmp_path):
    store = cellucid.prepare(
        tmp_path / "ready.zarr.zip",
        format="zarr.zip",
        data=make_atlas(100, 8),
        dataset_id="ready-1",
        dataset_name="Ready",
    )
    server = cellucid.serve_anndata(store, port=0, open_browser=False, quiet=True)
    try:
        assert server.path == Path(store).resolve()
        assert cache_entries() == []  # no copy, no export
        (listed,) = datasets(server)
        assert listed["id"] == "ready-1"
        assert listed["anndata"]["file"]["size"] == Path(store).stat().st_size
    finally:
        server.stop()


def test_an_export_folder_option_needs_the_pinned_viewer(site, h5ad):
    with pytest.raises(TypeError, match=r"compression.*viewer='pinned'"):
        cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True, compression=6)
    assert cache_entries() == []


def test_a_choice_the_store_cannot_take_names_the_keyword(site, h5ad):
    with pytest.raises(ValueError, match="knn_key"):
        cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True, knn_key="nope")


def test_an_unknown_viewer_is_refused(site, h5ad):
    with pytest.raises(ValueError, match="'current'.*'pinned'"):
        cellucid.serve_anndata(h5ad, port=0, open_browser=False, viewer="newest")


def test_show_anndata_on_an_in_memory_anndata(site):
    adata = make_atlas(90, 7)
    viewer = cellucid.show_anndata(adata, dataset_name="In memory")
    try:
        assert viewer.app == "current"
        assert isinstance(viewer.server, StoreServer)
        (listed,) = datasets(viewer.server)
        assert listed["name"] == "In memory"
        stored = anndata.read_zarr(viewer.server.path)
        assert stored.shape == adata.shape
        assert viewer.token not in repr(viewer)  # a repr shown in a notebook keeps it secret
    finally:
        viewer.stop()


def _cli_env(tmp_path: Path, app_url: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "CELLUCID_EXPORT_CACHE_DIR": str(tmp_path / "export-cache"),
        "CELLUCID_WEB_CACHE_DIR": str(tmp_path / "web-cache"),
        "CELLUCID_WEB_APP_URL": app_url,
    }


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return out, err


def test_cellucid_serve_an_h5ad_writes_once_then_reuses(site, h5ad, tmp_path):
    env = _cli_env(tmp_path, site.url)
    for time in ("first", "second"):
        process, port, banner = start_serve([str(h5ad), "--knn", "connectivities"], env)
        try:
            reply, body = fetch(port, "GET", "/_cellucid/datasets")
            (listed,) = json.loads(body)["datasets"]
            assert listed["anndata"]["defaults"] == {"knn": "connectivities"}
            assert fetch(port, "GET", "/")[0].status == 200
        finally:
            _stop(process)
        writing = "Writing a Cellucid-ready store" in banner
        assert writing == (time == "first"), banner
        assert "?anndata=true" in banner


def test_cellucid_serve_refuses_a_folder_flag_without_the_pinned_viewer(site, h5ad, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cellucid", "serve", str(h5ad), "--compression", "6"],
        env=_cli_env(tmp_path, site.url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "--compression" in result.stderr and "--viewer pinned" in result.stderr
    assert not (tmp_path / "export-cache").exists() or not any(
        (tmp_path / "export-cache").iterdir()
    )


def test_cellucid_serve_a_folder_of_stores(site, tmp_path):
    folder = tmp_path / "stores"
    folder.mkdir()
    for number in (1, 2):
        cellucid.prepare(
            folder / f"s{number}.h5ad",
            format="h5ad",
            data=make_atlas(60, 5, seed=number),
            dataset_id=f"s{number}",
            dataset_name=f"Store {number}",
        )
    process, port, banner = start_serve([str(folder)], _cli_env(tmp_path, site.url))
    try:
        reply, body = fetch(port, "GET", "/_cellucid/datasets")
        assert [d["id"] for d in json.loads(body)["datasets"]] == ["s1", "s2"]
    finally:
        _stop(process)


def test_offline_the_current_route_warns_once_and_serves_the_data(h5ad, tmp_path):
    from .webfake import closed_port_url

    env = _cli_env(tmp_path, closed_port_url())
    process, port, _ = start_serve([str(h5ad)], env, timeout=120)
    try:
        assert fetch(port, "GET", "/_cellucid/datasets")[0].status == 200
        assert fetch(port, "GET", "/")[0].status == 503
    finally:
        _, err = _stop(process)
    assert err.count("cellucid serve: warning:") == 1, err
    assert "cellucid viewer download" in err and "CELLUCID_WEB_APP_URL" in err


@pytest.mark.parametrize("route", ["show_anndata", "serve_anndata"])
def test_offline_the_python_routes_warn_once(route, h5ad, tmp_path, monkeypatch, capsys):
    from .webfake import closed_port_url

    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(tmp_path / "export-cache"))
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web-cache"))
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", closed_port_url())
    if route == "show_anndata":
        shown = cellucid.show_anndata(h5ad)
        server = shown.server
    else:
        shown = server = cellucid.serve_anndata(h5ad, port=0, open_browser=False, quiet=True)
    try:
        err = capsys.readouterr().err
        assert err.count("cellucid: warning:") == 1, err
        assert "cellucid viewer download" in err and str(tmp_path / "web-cache") in err
        assert datasets(server)  # the data is served all the same
    finally:
        shown.stop()


def test_a_background_server_says_how_it_stops(site, h5ad, capsys):
    server = cellucid.serve_anndata(h5ad, port=0, open_browser=False)
    try:
        out = capsys.readouterr().out
        assert "Serving in the background; .stop() stops it." in out
        assert "Ctrl+C" not in out  # nothing to press: the caller keeps its prompt
    finally:
        server.stop()


def test_show_anndata_tells_the_app_it_runs_in_jupyter(site, h5ad):
    viewer = cellucid.show_anndata(h5ad)
    try:
        reply, body = fetch(viewer.server.port, "GET", "/_cellucid/info")
        assert json.loads(body)["runtime"] == "jupyter"
    finally:
        viewer.stop()


def test_a_wait_that_times_out_says_why(site, h5ad, tmp_path, monkeypatch):
    viewer = cellucid.show_anndata(h5ad)
    try:
        with pytest.raises(TimeoutError, match="No page of this viewer is open"):
            viewer.wait_for_ready(timeout=0.2)
    finally:
        viewer.stop()
    from .webfake import closed_port_url

    monkeypatch.setenv("CELLUCID_WEB_APP_URL", closed_port_url())
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "empty-web-cache"))
    offline = cellucid.show_anndata(h5ad)
    try:
        with pytest.raises(TimeoutError, match="cannot open on this machine") as caught:
            offline.wait_for_event("selection", timeout=0.2)
        assert "cellucid viewer download" in str(caught.value)
    finally:
        offline.stop()
