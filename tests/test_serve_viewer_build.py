"""The pinned viewer build: fetched from a 127.0.0.1 stand-in for the raw host, verified,
cached per build, served with the inventory's types; offline help; `cellucid viewer`."""

from __future__ import annotations

import http.client
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cellucid import write_demo_export
from cellucid.cli import main
from cellucid.serving import CellucidServer
from cellucid.serving.builds import BUILDS, web_source_url
from cellucid.serving.viewer import ViewerAssets

from .webfake import INDEX_COMMIT, KEY_COMMIT, RawHost, closed_port_url, make_index_layout
from .webfake import pin_fake_builds as pin

INVENTORY = "cellucid-web-assets.json"


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("exports")
    for name, n in (("first", 150), ("second", 120)):
        write_demo_export(
            root / "keys" / name,
            n_cells=n,
            n_genes=4,
            quiet=True,
            dataset_id=name,
            dataset_name=f"{name} atlas",
        )
    shutil.copytree(root / "keys" / "first", root / "indexed" / "third")
    make_index_layout(root / "indexed" / "third")
    shutil.copytree(root / "keys" / "second", root / "mixed" / "second")
    shutil.copytree(root / "indexed" / "third", root / "mixed" / "third")
    return root


def get(server: CellucidServer, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request("GET", path, headers=headers or {})
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body


def test_the_real_builds_are_pinned(monkeypatch):
    # the values of viewer-builds.md, by commit of theislab/cellucid
    assert BUILDS["key"].commit == "b343877045377ee150aefca03334b9f5a4773f99"
    assert (
        BUILDS["key"].inventory_sha256
        == "6a9163faca2dfde1e5242e2f3a6d09f57995da3d1a205b8cec4b6bae3870115f"
    )
    assert BUILDS["index"].commit == "53676d15038889e6005f422f0e001686f62d4d00"
    assert (
        BUILDS["index"].inventory_sha256
        == "18e344d9ff9c6cb3c55ae662e7ace4cd3ce71721de82bccb524c7c8332f89d1b"
    )
    monkeypatch.delenv("CELLUCID_WEB_SOURCE_URL", raising=False)
    assert web_source_url() == "https://raw.githubusercontent.com/theislab/cellucid"
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "http://127.0.0.1:1/mirror/")
    assert web_source_url() == "http://127.0.0.1:1/mirror"
    assert web_source_url("http://127.0.0.1:2") == "http://127.0.0.1:2"


def test_page_is_the_build_and_files_come_on_demand(exports, tmp_path, monkeypatch):
    builds, files = pin(monkeypatch, tmp_path)
    with RawHost(files) as host:
        monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", host.url)
        with CellucidServer(exports / "keys" / "first", port=0) as s:
            reply, body = get(s, "/?remote=x")
            assert reply.status == 200 and body == files[KEY_COMMIT]["index.html"]
            assert reply.getheader("Content-Type") == "text/html; charset=utf-8"
            assert reply.getheader("X-Content-Type-Options") is None
            # the first page load waits for the inventory and index.html only
            assert sorted(host.requests) == [
                f"/{KEY_COMMIT}/{INVENTORY}",
                f"/{KEY_COMMIT}/index.html",
            ]
            for _ in range(2):
                reply, body = get(s, "/assets/js/app.js")
                assert reply.status == 200 and body == files[KEY_COMMIT]["assets/js/app.js"]
                assert reply.getheader("Content-Type") == "text/javascript; charset=utf-8"
            assert get(s, "/index.html")[1] == files[KEY_COMMIT]["index.html"]
            assert host.hits("/assets/js/app.js") == 1 and host.hits("/index.html") == 1
            # data files still win over viewer paths
            assert get(s, "/dataset_identity.json")[0].getheader("Content-Type") == (
                "application/json"
            )
    cached = tmp_path / "web-cache" / KEY_COMMIT
    assert (cached / "assets/js/app.js").read_bytes() == files[KEY_COMMIT]["assets/js/app.js"]
    assert not (cached / "assets/css/app.css").exists()


def test_viewer_url_opens_the_served_dataset(exports, tmp_path, monkeypatch):
    pin(monkeypatch, tmp_path)
    with CellucidServer(exports / "keys" / "first", port=0) as s:
        assert s.viewer_url == f"{s.url}/?remote={s.url}"
    with CellucidServer(exports / "keys", port=0) as s:
        query = parse_qs(urlsplit(s.viewer_url).query)
        # several datasets: the viewer needs dataset=<id>; remote= has no trailing slash
        assert query == {"remote": [s.url], "dataset": ["first"]}


def test_index_layout_gets_the_index_build_and_mixed_layouts_are_refused(
    exports, tmp_path, monkeypatch
):
    builds, files = pin(monkeypatch, tmp_path)
    with RawHost(files) as host:
        monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", host.url)
        with CellucidServer(exports / "indexed", port=0) as s:
            assert s.viewer.build.commit == INDEX_COMMIT
            assert get(s, "/")[1] == files[INDEX_COMMIT]["index.html"]
        assert all(r.startswith(f"/{INDEX_COMMIT}/") for r in host.requests)
    with pytest.raises(ValueError, match="different layouts") as caught:
        CellucidServer(exports / "mixed", port=0)
    assert "key layout: second" in str(caught.value)
    assert "index layout: third" in str(caught.value)


def test_paths_outside_the_inventory_are_never_fetched(exports, tmp_path, monkeypatch):
    builds, files = pin(monkeypatch, tmp_path)
    with RawHost(files) as host:
        monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", host.url)
        with CellucidServer(exports / "keys" / "first", port=0) as s:
            for path in ("/assets/js/evil.js", "/README.md", "/.git/config", "/a/../LICENSE"):
                reply, _ = get(s, path)
                assert reply.status in (403, 404), path
        assert [r for r in host.requests if not r.endswith(INVENTORY)] == []


def test_a_tampered_file_is_refused_and_not_cached(exports, tmp_path, monkeypatch, caplog):
    builds, files = pin(monkeypatch, tmp_path)
    real = files[KEY_COMMIT]["assets/js/app.js"]
    with RawHost(files) as host:
        monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", host.url)
        with CellucidServer(exports / "keys" / "first", port=0) as s:
            cached = s.viewer.folder / "assets/js/app.js"
            for evil, why in ((real[:-1] + b"!", "sha256"), (b"alert(1)", "bytes")):
                host.tampered[f"{KEY_COMMIT}/assets/js/app.js"] = evil
                with caplog.at_level(logging.ERROR, logger="cellucid.serving.viewer"):
                    reply, body = get(s, "/assets/js/app.js")
                assert reply.status == 502 and evil not in body
                assert not cached.exists()
                assert "assets/js/app.js" in caplog.text and why in caplog.text
                caplog.clear()
            del host.tampered[f"{KEY_COMMIT}/assets/js/app.js"]
            reply, body = get(s, "/assets/js/app.js")
            assert reply.status == 200 and body == real and cached.read_bytes() == real
        # a tampered inventory: nothing at all is served or cached
        host.tampered[f"{INDEX_COMMIT}/{INVENTORY}"] = files[INDEX_COMMIT][INVENTORY] + b" "
        with CellucidServer(exports / "indexed", port=0) as s, caplog.at_level(logging.ERROR):
            reply, body = get(s, "/")
            assert reply.status == 503 and b"cellucid viewer download" in body
            assert INVENTORY in caplog.text and "sha256" in caplog.text
            assert not (s.viewer.folder / INVENTORY).exists()


def test_offline_without_cache(exports, tmp_path, monkeypatch, capsys):
    pin(monkeypatch, tmp_path)  # the source is a closed port
    with CellucidServer(exports / "keys" / "first", port=0) as s:
        reply, body = get(s, "/")
        assert reply.status == 503 and reply.getheader("Content-Type").startswith("text/html")
        page = body.decode()
        assert "cellucid viewer download --layout key" in page
        assert str(s.viewer.folder) in page and KEY_COMMIT in page
        assert get(s, "/assets/js/app.js")[0].status == 503
        # the data endpoints keep working
        assert get(s, "/_cellucid/health")[0].status == 200
        assert get(s, "/_cellucid/datasets")[0].status == 200
        assert get(s, "/points_2d.bin.gz")[0].status == 200
        assert "cellucid viewer download" in s.viewer_problem()
    assert main(["viewer", "download", "--layout", "key", "-q"]) == 1
    err = capsys.readouterr().err
    assert "cellucid viewer download --layout key" in err and KEY_COMMIT in err


def test_download_then_serve_offline_status_and_clear(exports, tmp_path, monkeypatch, capsys):
    builds, files = pin(monkeypatch, tmp_path)
    with RawHost(files) as host:
        assert main(["viewer", "download", "--pinned", "--web-source-url", host.url]) == 0
        assert host.hits(INVENTORY) == 2 and len(host.requests) == 2 + 2 * 3
    out = capsys.readouterr()
    assert "3 files" in out.out and "verified" in out.out
    assert "100%" in out.err  # the progress bar
    cache = tmp_path / "web-cache"
    for commit, build_files in files.items():
        for path, body in build_files.items():
            assert (cache / commit / path).read_bytes() == body
    assert main(["viewer", "status"]) == 0
    status = capsys.readouterr().out
    assert str(cache) in status and status.count("complete: 3/3 files") == 2

    # a copied cache folder works with no network at all (the source is a closed port)
    copied = tmp_path / "other-machine"
    shutil.copytree(cache, copied)
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(copied))
    with CellucidServer(exports / "keys" / "first", port=0) as s:
        assert s.viewer_problem() is None
        assert get(s, "/")[1] == files[KEY_COMMIT]["index.html"]
        assert get(s, "/assets/css/app.css")[1] == files[KEY_COMMIT]["assets/css/app.css"]

    assert main(["viewer", "clear"]) == 0
    assert not copied.exists() and "Removed" in capsys.readouterr().out
    from cellucid import clear_web_cache, get_web_cache_dir

    assert get_web_cache_dir() == copied and clear_web_cache() == 0


def test_two_servers_fill_one_cache_at_once(exports, tmp_path, monkeypatch):
    builds, files = pin(monkeypatch, tmp_path)
    expected = files[KEY_COMMIT]
    folder = tmp_path / "web-cache" / KEY_COMMIT
    seen_partial: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        # a reader must only ever see no file or the whole file
        while not stop.is_set():
            for path, body in expected.items():
                try:
                    data = (folder / path).read_bytes()
                except OSError:
                    continue
                if data != body:
                    seen_partial.append(path)

    with RawHost(files) as host:
        host.delay = 0.05  # widen the window in which both fill the same files
        monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", host.url)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with (
            CellucidServer(exports / "keys" / "first", port=0) as a,
            CellucidServer(exports / "keys" / "second", port=0) as b,
        ):
            paths = ["/", "/assets/js/app.js", "/assets/css/app.css"] * 8
            jobs = [(server, p) for p in paths for server in (a, b)]
            with ThreadPoolExecutor(max_workers=16) as pool:
                replies = list(pool.map(lambda job: get(*job), jobs))
            downloads = [ViewerAssets(builds["key"]) for _ in range(2)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                assert list(pool.map(lambda v: v.download_all(), downloads)) == [[], []]
        stop.set()
        watcher.join()
    for (_server, path), (reply, body) in zip(jobs, replies, strict=True):
        assert reply.status == 200 and body == expected[path.lstrip("/") or "index.html"]
    assert host.hits("/index.html") >= 2  # both servers really fetched
    assert seen_partial == []
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == sorted(
        [INVENTORY, "index.html", "app.js", "app.css"]
    )


def test_closed_port_helper_is_closed():
    # the offline tests depend on it
    with pytest.raises(OSError):
        http.client.HTTPConnection(urlsplit(closed_port_url()).netloc, timeout=2).connect()
