"""``cellucid serve ROOT`` with several exports: every listed id unique, openable and short
(#21 item 8, the exports root)."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cellucid.serving.datasets import MAX_ID_CHARS, SkippedExportWarning
from cellucid.serving.datasets_manifest import generate_datasets_manifest
from cellucid.serving.server import CellucidServer
from cellucid.sinks.folder.format.naming import IDENTITY_NAME

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def adata():
    from cellucid import make_demo_anndata

    return make_demo_anndata(n_cells=200, n_genes=6)


@pytest.fixture(scope="module")
def one_export(tmp_path_factory, adata) -> Path:
    from cellucid import prepare_anndata

    out = tmp_path_factory.mktemp("one") / "atlas"
    prepare_anndata(adata, out, quiet=True)
    return out


def copy_export(source: Path, target: Path, **identity_changes) -> Path:
    shutil.copytree(source, target)
    if identity_changes:
        path = target / IDENTITY_NAME
        identity = json.loads(path.read_text())
        identity.update(identity_changes)
        path.write_text(json.dumps(identity))
    return target


def listed(root: Path) -> tuple[list[dict], CellucidServer]:
    """What a real server over ``root`` answers at /_cellucid/datasets."""
    server = CellucidServer(root, port=0, quiet=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/_cellucid/datasets")
        response = conn.getresponse()
        assert response.status == 200
        body = json.loads(response.read())
        conn.close()
    finally:
        server.stop()
    return body["datasets"], server


def status_of(server: CellucidServer, url: str) -> int:
    server.start()
    try:
        target = urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", f"{target.path}?{target.query}")
        status = conn.getresponse().status
        conn.close()
        return status
    finally:
        server.stop()


def test_an_identity_that_is_not_json_is_skipped_with_a_warning(one_export, tmp_path):
    copy_export(one_export, tmp_path / "good")
    broken = copy_export(one_export, tmp_path / "broken")
    (broken / IDENTITY_NAME).write_text('{"id": "broken", "name": ')
    with pytest.warns(SkippedExportWarning, match="broken.*is not valid JSON") as caught:
        found, _ = listed(tmp_path)
    assert [d["path"] for d in found] == ["/good/"]
    assert "export it again, or fix the file" in str(caught[0].message)


def test_an_identity_that_is_a_json_list_is_skipped_not_a_traceback(one_export, tmp_path):
    copy_export(one_export, tmp_path / "good")
    listy = copy_export(one_export, tmp_path / "listy")
    (listy / IDENTITY_NAME).write_text("[1, 2, 3]")
    with pytest.warns(SkippedExportWarning, match="listy.*holds a JSON list, not an object"):
        found, _ = listed(tmp_path)
    assert [d["path"] for d in found] == ["/good/"]


def test_cli_serves_a_root_with_a_list_identity_and_says_so(one_export, tmp_path):
    root = tmp_path / "root"
    copy_export(one_export, root / "good")
    (copy_export(one_export, root / "listy") / IDENTITY_NAME).write_text("[]")
    code = (
        "import sys; from cellucid.serving.server import CellucidServer\n"
        f"server = CellucidServer({str(root)!r}, port=0)\n"
        "print([d.path for d in server.datasets()])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "['/good/']" in result.stdout
    # said once, however often the exports are listed
    assert result.stderr.count("holds a JSON list, not an object") == 1, result.stderr


def test_two_exports_with_one_id_are_listed_once_naming_both(one_export, tmp_path):
    copy_export(one_export, tmp_path / "a", id="same", name="First")
    copy_export(one_export, tmp_path / "b", id="same", name="Second")
    copy_export(one_export, tmp_path / "c", id="other", name="Third")
    with pytest.warns(SkippedExportWarning) as caught:
        found, _ = listed(tmp_path)
    ids = [d["id"] for d in found]
    assert ids == ["same", "other"] and len(set(ids)) == len(ids)
    message = str(caught[0].message)
    assert str(tmp_path / "a") in message and str(tmp_path / "b") in message
    assert "dataset_id" in message


def test_exports_in_non_latin_folders_get_different_ids(adata, tmp_path):
    from cellucid import prepare_anndata

    for name in ("細胞", "データ"):
        prepare_anndata(adata, tmp_path / name, quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedExportWarning)
        found, _ = listed(tmp_path)
    assert len(found) == 2 and len({d["id"] for d in found}) == 2
    for entry in found:
        identity = json.loads((tmp_path / entry["path"].strip("/") / IDENTITY_NAME).read_text())
        assert entry["id"] == identity["id"] and entry["name"] == identity["name"]
        assert identity["id"].isascii()


def test_a_very_long_name_gets_a_short_id_and_a_viewer_url_the_server_answers(adata, tmp_path):
    from cellucid import prepare_anndata

    long_name = "A very long dataset name " * 40
    prepare_anndata(adata, tmp_path / "first", quiet=True, dataset_name=long_name)
    prepare_anndata(adata, tmp_path / "second", quiet=True, dataset_name=long_name + "2")
    found, server = listed(tmp_path)
    assert len(found) == 2 and len({d["id"] for d in found}) == 2
    assert all(len(d["id"]) <= 64 for d in found)
    assert all(d["name"].startswith("A very long") for d in found)
    assert "&dataset=" in server.viewer_url
    assert status_of(server, server.viewer_url) != 414


def test_an_old_export_with_an_overlong_id_is_skipped(one_export, tmp_path):
    copy_export(one_export, tmp_path / "long", id="x" * (MAX_ID_CHARS + 1))
    copy_export(one_export, tmp_path / "short", id="short")
    with pytest.warns(SkippedExportWarning, match="too long for the viewer URL"):
        found, server = listed(tmp_path)
        assert status_of(server, server.viewer_url) != 414
    assert [d["id"] for d in found] == ["short"]


def test_a_single_export_with_a_list_identity_is_served_with_a_warning(one_export, tmp_path):
    single = copy_export(one_export, tmp_path / "single")
    (single / IDENTITY_NAME).write_text("[]")
    with pytest.warns(SkippedExportWarning, match="viewer cannot open this export"):
        found, _ = listed(single)
    assert found == [{"id": "single", "name": "single", "path": "/"}]


def test_datasets_manifest_lists_what_the_server_lists(one_export, tmp_path):
    copy_export(one_export, tmp_path / "a", id="same")
    copy_export(one_export, tmp_path / "b", id="same")
    (copy_export(one_export, tmp_path / "c") / IDENTITY_NAME).write_text("[]")
    with pytest.warns(SkippedExportWarning):
        path = generate_datasets_manifest(tmp_path)
    document = json.loads(path.read_text())
    assert [d["path"] for d in document["datasets"]] == ["a/"]
    assert document["default"] == "same"


def test_cellucid_serve_says_a_skipped_export_as_one_cli_line(one_export, tmp_path):
    from .serve_process import start_serve

    root = tmp_path / "root"
    copy_export(one_export, root / "good")
    (copy_export(one_export, root / "listy") / IDENTITY_NAME).write_text("[]")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    process, port, _ = start_serve([str(root)], env)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/_cellucid/datasets")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    lines = [line for line in err.splitlines() if "JSON list" in line]
    assert lines and lines[0].startswith("cellucid serve: warning: "), err
    assert "SkippedExportWarning" not in err and ".py:" not in err, err
