"""`cellucid viewer download|status|clear` on the current web app, against a 127.0.0.1
stand-in for its site, and the app served at `/` by a real server."""

from __future__ import annotations

import http.client

import pytest

from cellucid import write_demo_export
from cellucid.cli import main
from cellucid.serving import CellucidServer
from cellucid.serving.webapp import CurrentApp

from .webappfake import INVENTORY, AppSite, build
from .webfake import closed_port_url
from .webfake import pin_fake_builds as pin


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    # fake pinned builds, a closed port as their host and the app's: nothing leaves 127.0.0.1
    pin(monkeypatch, tmp_path)
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", closed_port_url())
    return tmp_path / "web-cache"


def test_download_status_clear(private_caches, capsys, monkeypatch):
    files = build("2026-12-01.3")
    with AppSite(files) as site:
        assert main(["viewer", "download", "--web-source-url", site.url]) == 0
        fetched = len(site.requests)
        assert fetched == len(files)  # the pinned builds were not asked for
    out = capsys.readouterr()
    assert "current web app build 2026-12-01.3" in out.out and "7 files" in out.out
    assert "verified" in out.out and str(private_caches / "current") in out.out
    assert "100%" in out.err

    monkeypatch.setenv("CELLUCID_WEB_APP_URL", site.url)
    assert main(["viewer", "status"]) == 0
    status = capsys.readouterr().out
    assert f"current web app (source {site.url})" in status
    assert "build 2026-12-01.3 from" in status and "complete: 7/7 files" in status
    assert "<- served" in status
    assert status.count("not downloaded") == 2  # the two pinned builds

    assert main(["viewer", "clear", "--pinned"]) == 0
    assert (private_caches / "current").is_dir()
    assert main(["viewer", "clear", "--current"]) == 0
    assert not (private_caches / "current").exists()
    capsys.readouterr()
    assert main(["viewer", "status"]) == 0
    assert "    not downloaded" in capsys.readouterr().out


def test_download_refusals_and_offline(private_caches, capsys):
    # offline: what failed and both ways out, exit status 1, nothing written
    assert main(["viewer", "download", "-q"]) == 1
    err = capsys.readouterr().err
    assert "cellucid viewer download" in err and "CELLUCID_WEB_APP_URL" in err
    assert str(private_caches / "current") in err
    # plain http to another machine: refused before any request
    assert main(["viewer", "download", "--web-source-url", "http://example.org"]) == 2
    assert "plain http to 'example.org'" in capsys.readouterr().err
    # a tampered file: the command names it and leaves the cache as it was
    files = build("b1")
    with AppSite(files) as site:
        site.tampered["assets/css/app.css"] = b"body { display: none }\n"
        assert main(["viewer", "download", "-q", "--web-source-url", site.url]) == 1
    err = capsys.readouterr().err
    assert "assets/css/app.css" in err and "nothing was cached" in err
    assert not any((private_caches / "current").iterdir())


def test_the_pinned_builds_are_still_downloaded_on_request(private_caches, capsys):
    # --layout alone still means the pinned build of that layout (offline here: its own help)
    assert main(["viewer", "download", "--layout", "key", "-q"]) == 1
    assert "cellucid viewer download --layout key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["viewer", "download", "--pinned", "--layout", "key"])


def get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path)
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body


def test_a_server_serves_the_current_app_at_the_root(private_caches, tmp_path):
    export = write_demo_export(tmp_path / "demo", n_cells=60, n_genes=3, quiet=True)
    files = build("b9")
    with AppSite(files) as site:
        app = CurrentApp(site.url)
        with CellucidServer(export, port=0, viewer=app, quiet=True) as server:
            reply, body = get(server.port, "/")
            assert reply.status == 200 and body == files["index.html"]
            assert reply.getheader("Content-Type") == "text/html; charset=utf-8"
            reply, body = get(server.port, "/assets/wasm/core.wasm")
            assert body == files["assets/wasm/core.wasm"]
            assert reply.getheader("Content-Type") == "application/wasm"
            assert get(server.port, f"/{INVENTORY}")[0].status == 404
    offline = CurrentApp(closed_port_url(), cache_root=tmp_path / "empty-cache")
    with CellucidServer(export, port=0, viewer=offline, quiet=True) as server:
        reply, body = get(server.port, "/")
        assert reply.status == 503 and b"CELLUCID_WEB_APP_URL" in body
        assert get(server.port, "/_cellucid/health")[0].status == 200
