"""The current web app: fetched whole from a 127.0.0.1 stand-in for its site, verified
against the site's inventory and the page's build id, activated whole, reused offline."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cellucid.serving.inventory import IntegrityError
from cellucid.serving.viewer import ViewerUnavailable
from cellucid.serving.webapp import CurrentApp
from cellucid.serving.webapp.entries import files_present, list_entries

from .webappfake import INVENTORY, AppSite, app_files, build, page
from .webfake import closed_port_url


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "web-cache"
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(cache))
    monkeypatch.delenv("CELLUCID_WEB_APP_URL", raising=False)
    return cache


def served(app: CurrentApp, path: str) -> bytes:
    asset = app.asset(path)
    assert asset is not None, path
    return app.file(asset).read_bytes()


def builds_in(cache: Path) -> list[str]:
    root = cache / "current"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_fetched_verified_cached_and_reused_without_a_request(private_cache):
    files = build("2026-11-30.7")
    with AppSite(files) as site:
        app = CurrentApp(site.url)
        assert served(app, "/") == files["index.html"]
        assert app.build_id == "2026-11-30.7"
        # the whole build was fetched once: the inventory, then every file
        assert sorted(site.requests) == sorted(f"/{p}" for p in files)
        for path, body in files.items():
            if path != INVENTORY:
                assert served(app, "/" + path) == body
                assert app.asset("/" + path).content_type.split(";")[0] in (
                    "text/html",
                    "text/javascript",
                    "text/css",
                    "image/svg+xml",
                    "application/json",
                    "application/wasm",
                )
        # neither the inventory nor the cache's record, nor a path outside it, is an asset
        for path in (f"/{INVENTORY}", "/.cellucid-app-entry.json", "/nope.js", "/../x"):
            assert app.asset(path) is None
        before = len(site.requests)
        second = CurrentApp(site.url)
        assert served(second, "/assets/js/util.js") == files["assets/js/util.js"]
        assert len(site.requests) == before  # second use: no request at all
    (name,) = builds_in(private_cache)
    assert name.startswith("2026-11-30.7-")
    folder = private_cache / "current" / name
    for path, body in files.items():
        assert (folder / path).read_bytes() == body
    record = json.loads((folder / ".cellucid-app-entry.json").read_text())
    assert record == {
        "version": 1,
        "build_id": "2026-11-30.7",
        "source_url": site.url,
        "inventory_sha256": hashlib.sha256(files[INVENTORY]).hexdigest(),
        "generation": 1,
    }
    assert app.cached_state() == (
        7,
        7,
        sum(len(b) for p, b in files.items() if p != INVENTORY),
        sum(len(b) for p, b in files.items() if p != INVENTORY),
    )


@pytest.mark.parametrize(
    ("evil", "why"),
    [
        (lambda body: body[:-1] + b"!", "sha256"),
        (lambda body: body + b"//", "bytes"),
        (lambda body: b"<html>login page</html>", "the site answered text/html"),
    ],
)
def test_a_tampered_file_is_refused_and_nothing_activated(private_cache, caplog, evil, why):
    files = build("b1")
    with AppSite(files) as site:
        site.tampered["assets/js/util.js"] = evil(files["assets/js/util.js"])
        if "text/html" in why:
            site.types["assets/js/util.js"] = "text/html"
        app = CurrentApp(site.url)
        with caplog.at_level(logging.ERROR), pytest.raises(IntegrityError) as caught:
            app.asset("/")
        message = str(caught.value)
        assert "assets/js/util.js" in message and why in message
        assert "assets/js/util.js" in caplog.text
        assert builds_in(private_cache) == []  # no build, no staging folder left behind
        assert app.last_error and "util.js" in app.last_error
        # the site fixed: the next attempt succeeds
        del site.tampered["assets/js/util.js"]
        site.types.clear()
        assert served(app, "/assets/js/util.js") == files["assets/js/util.js"]


@pytest.mark.parametrize(
    ("meta", "why"),
    [
        ('<meta name="cellucid-web-build-id" content="b0">', "names build 'b0'"),
        ("", "holds 0 <meta"),
        (
            '<meta name="cellucid-web-build-id" content="b1">'
            '<meta name="cellucid-web-build-id" content="b1">',
            "holds 2 <meta",
        ),
        ('<meta name="cellucid-web-build-id">', "one name and one content"),
    ],
)
def test_the_page_must_name_the_inventorys_build_exactly_once(private_cache, meta, why):
    files = app_files("b1")
    files["index.html"] = page("b1", meta=meta)
    with AppSite(build("b1", files)) as site:
        app = CurrentApp(site.url)
        with pytest.raises(IntegrityError, match="index.html") as caught:
            app.asset("/")
        assert why in str(caught.value)
    assert builds_in(private_cache) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(extra=1), "exactly the keys"),
        (lambda d: d["assets"].reverse(), "sorted"),
        (lambda d: d["assets"][0].update(path="../evil.js"), "'..'"),
        (lambda d: d["assets"][0].update(sha256="abc"), "sha256"),
        (
            lambda d: d.update(assets=[a for a in d["assets"] if a["path"] != "index.html"]),
            "index.html",
        ),
    ],
)
def test_a_malformed_inventory_is_refused(private_cache, change, why):
    files = build("b1")
    document = json.loads(files[INVENTORY])
    change(document)
    files[INVENTORY] = json.dumps(document).encode()
    with AppSite(files) as site:
        with pytest.raises(IntegrityError, match=INVENTORY) as caught:
            CurrentApp(site.url).asset("/")
        assert why in str(caught.value)
        assert site.requests == [f"/{INVENTORY}"]  # nothing else was fetched
    assert builds_in(private_cache) == []


def test_a_new_build_on_the_site_replaces_the_cached_one(private_cache):
    first, second = build("b1"), build("b2")
    with AppSite(first) as site:
        assert served(CurrentApp(site.url), "/") == first["index.html"]
        site.files = second  # deployed
        # a cached build is used as it is ...
        assert served(CurrentApp(site.url), "/") == first["index.html"]
        # ... until the site is asked (cellucid viewer download, or refresh=True)
        app = CurrentApp(site.url, refresh=True)
        assert served(app, "/") == second["index.html"]
        assert app.build_id == "b2"
    (name,) = builds_in(private_cache)
    assert name.startswith("b2-")
    record = json.loads((private_cache / "current" / name / ".cellucid-app-entry.json").read_text())
    assert record["generation"] == 2


def test_same_build_again_reuses_the_entry_after_one_inventory_request(private_cache):
    files = build("b1")
    with AppSite(files) as site:
        CurrentApp(site.url).ensure()
        count = len(site.requests)
        app = CurrentApp(site.url)
        assert app.download_all() == []
        assert site.requests[count:] == [f"/{INVENTORY}"]
    assert len(builds_in(private_cache)) == 1


def test_offline_with_a_cache_serves_the_cached_build(private_cache, caplog):
    files = build("b1")
    with AppSite(files) as site:
        CurrentApp(site.url).ensure()
    # the same source, now down: the cached build, no request needed
    assert served(CurrentApp(site.url), "/") == files["index.html"]
    # another source that does not answer: the newest complete cached build of any source
    app = CurrentApp(closed_port_url())
    with caplog.at_level(logging.WARNING):
        assert served(app, "/assets/css/app.css") == files["assets/css/app.css"]
    assert app.fell_back and "serving build b1" in caplog.text
    # a damaged cached build is not served
    (name,) = builds_in(private_cache)
    (private_cache / "current" / name / "assets/js/util.js").write_bytes(b"tampered")
    with pytest.raises(ViewerUnavailable):
        CurrentApp(closed_port_url()).asset("/")


def test_a_copied_cache_folder_works_offline(private_cache, tmp_path, monkeypatch):
    files = build("b1")
    with AppSite(files) as site:
        CurrentApp(site.url).ensure()
    elsewhere = tmp_path / "other-machine" / "cache"
    shutil.copytree(private_cache, elsewhere)
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(elsewhere))
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", closed_port_url())  # this machine is offline
    app = CurrentApp()
    assert app.cached_state() is not None
    assert served(app, "/") == files["index.html"]
    assert app.folder.parent == elsewhere / "current" and app.fell_back


def test_a_local_copy_of_the_app_as_the_source(private_cache, tmp_path, monkeypatch):
    files = build("local-1")
    copy = tmp_path / "app copy"
    for path, body in files.items():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_bytes(body)
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", str(copy))
    app = CurrentApp()
    assert app.source == copy.resolve().as_uri()
    assert served(app, "/") == files["index.html"]
    assert app.build_id == "local-1" and not app.fell_back


def test_offline_without_a_cache_says_what_failed_and_the_ways_out(private_cache):
    from cellucid.serving.offline import offline_help, offline_page

    app = CurrentApp(closed_port_url())
    with pytest.raises(ViewerUnavailable):
        app.asset("/")
    text = offline_help(app)
    assert app.source in text and INVENTORY in text  # what failed
    assert "cellucid viewer download" in text and str(private_cache / "current") in text
    assert "CELLUCID_WEB_APP_URL" in text and "--web-source-url" in text
    assert "CELLUCID_WEB_CACHE_DIR" in text
    html = offline_page(app)
    assert html.startswith("<!doctype html>") and "web app" in html
    assert builds_in(private_cache) == []


def test_redirects_only_to_allowed_addresses(private_cache):
    files = build("b1")
    with AppSite(files) as site, AppSite(files) as mirror:
        # to another loopback server: followed
        site.redirects["assets/js/util.js"] = f"{mirror.url}/assets/js/util.js"
        assert served(CurrentApp(site.url), "/assets/js/util.js") == files["assets/js/util.js"]
        assert mirror.requests == ["/assets/js/util.js"]
    shutil.rmtree(private_cache)
    with AppSite(files) as site:
        # to plain http on another machine: refused before any request is made there
        site.redirects["index.html"] = "http://example.org/index.html"
        with pytest.raises(ViewerUnavailable, match="redirected to 'http://example.org"):
            CurrentApp(site.url).asset("/")
    assert builds_in(private_cache) == []


def test_two_apps_installing_at_once_leave_one_whole_build(private_cache):
    files = build("b1")
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        # whoever looks only ever finds whole, readable builds
        while not stop.is_set():
            for entry in list_entries(private_cache):
                if files_present(entry)[0] != len(entry.inventory.assets):
                    seen.append(entry.folder.name)

    with AppSite(files) as site:
        site.delay = 0.02
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        apps = [CurrentApp(site.url, refresh=True) for _ in range(3)]
        with ThreadPoolExecutor(max_workers=3) as pool:
            folders = list(pool.map(lambda app: app.ensure().folder, apps))
        stop.set()
        watcher.join()
    assert seen == []
    assert len(set(folders)) == 1 and builds_in(private_cache) == [folders[0].name]
    for app in apps:
        assert served(app, "/") == files["index.html"]


def test_a_build_replaced_under_a_running_app(private_cache):
    first, second = build("b1"), build("b2")
    with AppSite(first) as site:
        running = CurrentApp(site.url)
        page_asset = running.asset("/")
        util = running.asset("/assets/js/util.js")
        site.files = second
        CurrentApp(site.url, refresh=True).ensure()  # another process: b2 in, b1 out
    (name,) = builds_in(private_cache)
    assert name.startswith("b2-")
    # a file both builds share is served from the new build; one that changed is not
    assert running.file(util).read_bytes() == second["assets/js/util.js"]
    assert running.build_id == "b2"
    with pytest.raises(ViewerUnavailable, match="reload the page"):
        running.file(page_asset)
    assert served(running, "/") == second["index.html"]
