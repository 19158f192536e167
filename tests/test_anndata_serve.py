"""serve_anndata / show_anndata: the export cache, early viewing, and the viewer's events."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path

import pytest

from cellucid import make_demo_anndata, write_demo_export
from cellucid.engine.lock import LOCK_NAME
from cellucid.serving import CellucidServer
from cellucid.serving import background as bg
from cellucid.sinks.folder.state import RECORD_NAME, ExportRecord, read_record, write_record

from .serve_process import start_serve
from .webfake import pin_fake_builds


@pytest.fixture(autouse=True)
def caches(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLUCID_EXPORT_CACHE_DIR", str(tmp_path / "export-cache"))
    pin_fake_builds(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("h5ad") / "atlas.h5ad"
    make_demo_anndata(n_cells=400, n_genes=12).write_h5ad(path)
    return path


def get(port: int, path: str, method: str = "GET", body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, data


def test_serve_anndata_backed_answers_every_listed_file_then_reuses_the_cache(h5ad):
    import anndata as ad

    from cellucid import serve_anndata
    from cellucid.verify import validate_export

    backed = ad.read_h5ad(h5ad, backed="r")
    runs = bg.EXPORT_RUNS["count"]
    server = serve_anndata(backed, port=0, open_browser=False, quiet=True, viewer="pinned")
    try:
        assert bg.EXPORT_RUNS["count"] == runs + 1
        folder = server.data_dir
        assert folder.parent == Path(os.environ["CELLUCID_EXPORT_CACHE_DIR"]).resolve()
        health = json.loads(get(server.port, "/_cellucid/health")[1])
        assert health["type"] == "exported"
        (listed,) = json.loads(get(server.port, "/_cellucid/datasets")[1])["datasets"]
        assert listed["name"] == "atlas" and listed["path"] == "/"
        files = read_record(folder).files
        assert any(f.startswith("var/") for f in files)
        # every listed file answers, gene files included, whether written yet or not
        for relative in files:
            status, body = get(server.port, "/" + relative)
            assert status == 200, relative
            assert body == (folder / relative).read_bytes(), relative
        # a small export may finish before the server starts: then nothing is pending
        if server.pending is not None:
            server.pending.wait_done(120)
    finally:
        server.stop()
    assert validate_export(folder).ok
    record_stamp = (folder / RECORD_NAME).stat().st_mtime_ns

    again = serve_anndata(backed, port=0, open_browser=False, quiet=True, viewer="pinned")
    try:
        # no second export: no run started, the record untouched, nothing pending
        assert bg.EXPORT_RUNS["count"] == runs + 1
        assert again.data_dir == folder and again.pending is None
        assert (folder / RECORD_NAME).stat().st_mtime_ns == record_stamp
        assert get(again.port, "/var_manifest.json")[0] == 200
    finally:
        again.stop()


def test_a_file_the_export_lists_is_waited_for_and_others_are_not(tmp_path):
    folder = tmp_path / "pending"
    release, listed = threading.Event(), threading.Event()

    def export(out: Path) -> None:
        write_demo_export(out, n_cells=50, n_genes=3, quiet=True)
        record = read_record(out)
        write_record(
            out,
            ExportRecord(
                record.fingerprint, record.settings, (*record.files, "var/late.bin"), False
            ),
        )
        listed.set()
        release.wait(10)
        (out / "var" / "late.bin").write_bytes(b"LATE")

    job = bg.BackgroundExport(folder, export)
    job.wait_viewable(60)
    assert listed.wait(60)
    with CellucidServer(folder, port=0, quiet=True, pending=job, pending_timeout=20) as server:
        threading.Timer(0.3, release.set).start()
        assert get(server.port, "/var/late.bin") == (200, b"LATE")
        started = time.monotonic()
        # not listed: no waiting; under var/ it is no viewer file either: 404 at once
        assert get(server.port, "/var/never.bin")[0] == 404
        assert time.monotonic() - started < 5
    job.wait_done(30)


def test_early_view_order_writes_the_same_bytes(tmp_path, monkeypatch):
    from cellucid.sinks.folder.sections import early_view

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    plain = write_demo_export(tmp_path / "plain", n_cells=120, n_genes=6, quiet=True)
    with early_view():
        early = write_demo_export(tmp_path / "early", n_cells=120, n_genes=6, quiet=True)
    names = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(early) for p in early.rglob("*") if p.is_file())
    for name in names:
        if name.name not in (RECORD_NAME, LOCK_NAME, "dataset_identity.json"):
            assert (plain / name).read_bytes() == (early / name).read_bytes(), name
    assert read_record(early).complete


def test_events_reach_the_callbacks_only_with_the_viewers_token(tmp_path):
    from cellucid.notebook.show import NotebookViewer

    export = write_demo_export(tmp_path / "demo", n_cells=60, n_genes=3, quiet=True)
    with CellucidServer(export, port=0, quiet=True) as server:
        viewer = NotebookViewer(server, 400, owns_server=False)
        other = NotebookViewer(server, 400, owns_server=False)
        got = []
        viewer.on_selection(got.append)
        everything = []
        viewer.on_message(everything.append)
        auth = {"viewerId": viewer.viewer_id, "viewerToken": viewer.token}

        def post(event: dict) -> tuple[int, bytes]:
            return get(server.port, "/_cellucid/events", "POST", json.dumps(event).encode())

        event = {"type": "selection", "cells": [1, 5], "source": "lasso"}
        assert post({**event, **auth}) == (200, b'{"status": "ok", "delivered": true}')
        assert got == [{"cells": [1, 5], "source": "lasso"}]
        assert everything[0]["type"] == "selection" and "viewerToken" not in everything[0]
        # another viewer's token, a guessed one, none, an unknown viewer: refused
        refused = [
            {**event, "viewerId": viewer.viewer_id, "viewerToken": other.token},
            {**event, "viewerId": viewer.viewer_id, "viewerToken": viewer.token + "x"},
            {**event, "viewerId": viewer.viewer_id},
            {**event, "viewerId": "nobody", "viewerToken": viewer.token},
        ]
        assert [post(e)[0] for e in refused] == [403, 403, 403, 403]
        assert get(server.port, "/_cellucid/events", "POST", b"not json")[0] == 400
        assert got == [{"cells": [1, 5], "source": "lasso"}]

        threading.Timer(
            0.2, post, [{"type": "ready", "n_cells": 60, "dimensions": 2, **auth}]
        ).start()
        assert viewer.wait_for_ready(10) == {"n_cells": 60, "dimensions": 2}
        with pytest.raises(TimeoutError):
            viewer.wait_for_event("click", timeout=0.2)
        viewer.stop()
        assert post({**event, **auth})[0] == 403
        assert server.running  # the viewer did not own the server


def test_commands_are_the_messages_the_pinned_bridge_accepts(tmp_path):
    from cellucid.notebook.show import NotebookViewer

    export = write_demo_export(tmp_path / "demo", n_cells=30, n_genes=2, quiet=True)
    with CellucidServer(export, port=0, quiet=True) as server:
        viewer = NotebookViewer(server, 400, owns_server=False)
        viewer.highlight_cells([3, 1], color="#00ff00")
        viewer.clear_highlights()
        viewer.set_color_by("cell_type")
        viewer.set_visibility(None, visible=False)
        viewer.reset_view()
        keys = [sorted(m) for m in viewer.sent_messages]
        routing = ["viewerId", "viewerToken"]
        assert keys == [
            sorted(["type", "cells", "color", *routing]),
            sorted(["type", *routing]),
            sorted(["type", "field", *routing]),
            sorted(["type", "cells", "visible", *routing]),
            sorted(["type", *routing]),
        ]
        assert [m["type"] for m in viewer.sent_messages] == [
            "highlight",
            "clearHighlights",
            "setColorBy",
            "setVisibility",
            "resetCamera",
        ]
        for bad in (lambda: viewer.highlight_cells([1], "red"), lambda: viewer.highlight_cells([])):
            with pytest.raises(ValueError):
                bad()
        with pytest.raises(ValueError):
            viewer.set_visibility([2, 2])
        assert viewer.viewer_id in viewer._repr_html_()
        viewer.stop()


@pytest.mark.slow
def test_serve_command_on_a_h5ad_then_the_viewer_cache_commands(h5ad, tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(root / "src"),
        "CELLUCID_EXPORT_CACHE_DIR": os.environ["CELLUCID_EXPORT_CACHE_DIR"],
        "CELLUCID_WEB_CACHE_DIR": str(tmp_path / "web"),
        "CELLUCID_WEB_SOURCE_URL": os.environ["CELLUCID_WEB_SOURCE_URL"],
    }
    process, port, _ = start_serve(
        [str(h5ad), "--viewer", "pinned", "--obs-key", "cell_type", "--compression", "1"],
        env,
        timeout=120,
    )
    try:
        manifest = json.loads(get(port, "/obs_manifest.json")[1])
        assert manifest["compression"] == 1
        assert get(port, "/_cellucid/datasets")[0] == 200
    finally:
        process.kill()
        process.wait()

    def cellucid(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "cellucid", *args], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    status = cellucid("viewer", "status", "--exports")
    assert "Export cache:" in status and "(1 exports)" in status
    assert "Removed" in cellucid("viewer", "clear", "--exports")
    assert not Path(env["CELLUCID_EXPORT_CACHE_DIR"]).exists()
