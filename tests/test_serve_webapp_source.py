"""Where the current web app may be fetched from: https, plain http only on loopback, a local
copy; never credentials, a query or a fragment."""

from __future__ import annotations

import pytest

from cellucid.serving.webapp import CurrentApp, app_source_url


@pytest.fixture(autouse=True)
def no_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("CELLUCID_WEB_APP_URL", raising=False)
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web-cache"))


def test_default_variable_and_override(monkeypatch):
    assert app_source_url() == "https://www.cellucid.com"
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", "https://mirror.example.org/cellucid/")
    assert app_source_url() == "https://mirror.example.org/cellucid"
    assert app_source_url("http://127.0.0.1:4173") == "http://127.0.0.1:4173"
    # the pinned builds' variable is another thing
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", "https://raw.example.org")
    assert app_source_url() == "https://mirror.example.org/cellucid"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000",
        "http://127.0.0.1",
        "http://127.3.4.5:9/app",
        "http://[::1]:4173",
        "https://example.org",
        "file:///srv/cellucid-app",
    ],
)
def test_accepted(url):
    assert app_source_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.org", "plain http to 'example.org'"),
        ("http://10.0.0.5:8000", "plain http to '10.0.0.5'"),
        ("http://localhost.evil.com", "plain http"),
        ("https://user:secret@example.org", "credentials"),
        ("https://example.org/?build=1", "query"),
        ("https://example.org/#x", "fragment"),
        ("ftp://example.org", "not an https://"),
        ("https:///path", "names no host"),
        ("https://example.org:99999", "port"),
        (" https://example.org", "whitespace"),
        ("file://otherhost/share", "on this machine"),
        ("file:///", "on this machine"),
        ("www.cellucid.com", "not an https://"),
    ],
)
def test_refused_before_anything_is_fetched_or_written(url, why, tmp_path):
    with pytest.raises(ValueError, match="--web-source-url") as caught:
        CurrentApp(url, cache_root=tmp_path / "cache")
    assert why in str(caught.value)
    assert not (tmp_path / "cache").exists()


def test_the_variable_is_named_when_it_is_refused(monkeypatch):
    monkeypatch.setenv("CELLUCID_WEB_APP_URL", "http://example.org")
    with pytest.raises(ValueError, match=r"\$CELLUCID_WEB_APP_URL 'http://example.org'"):
        CurrentApp()


def test_a_folder_path_is_a_local_copy(tmp_path):
    assert app_source_url(str(tmp_path)) == tmp_path.resolve().as_uri()
