"""Our store server against upstream cellucid 0.9.5's AnnDataServer answering for the same
store: the same documents and the same answers to the same requests, except where listed.

Upstream runs in its own interpreter (tests/reference095.py), serves the store on a port of
its own and answers the probes there; each probe is then sent to ours.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from cellucid.serving.stores import StoreServer

from .reference095 import TIMEOUT, reference095_fixture  # noqa: F401 - the fixture
from .store_serving import fetch, write_store

#: fields that are legitimately ours: the server's own version, and the port each bound
OURS = {"/_cellucid/health": ("version",), "/_cellucid/info": ("version", "port")}
#: probes where we answer differently on purpose: (text in the path or headers, the headers)
#: -> (their status, ours)
DELIBERATE = {
    # RFC 9110: a Range with a unit the server does not know is ignored (#21 item 8)
    ("items", "Range: items=0-5"): (416, 200),
    # an encoded slash in a key: upstream decodes it to a real one; we refuse it
    ("%2F", ""): (200, 404),
}

# Runs in upstream's interpreter: serves the store, sends each probe, prints the answers.
_PROBE = """
import hashlib, http.client, json, sys
from cellucid.anndata_server import AnnDataServer
spec = json.load(sys.stdin)
server = AnnDataServer(spec["path"], port=0, quiet=True, serve_web_ui=False, **spec["kwargs"])
server.start(blocking=False)
def send(method, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, headers=headers)
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body
answers = []
for method, path, headers in spec["probes"]:
    if headers.get("If-None-Match") == "<etag>":
        headers["If-None-Match"] = send("HEAD", path, {})[0].getheader("ETag")
    reply, body = send(method, path, headers)
    answers.append({
        "status": reply.status,
        "type": reply.getheader("Content-Type"),
        "range": reply.getheader("Content-Range"),
        "ranges": reply.getheader("Accept-Ranges"),
        "etag": reply.getheader("ETag") is not None,
        "sha256": hashlib.sha256(body).hexdigest(),
        "json": json.loads(body) if reply.getheader("Content-Type") == "application/json"
                and reply.status == 200 else None,
    })
server.stop()
print(json.dumps(answers))
"""


def upstream_answers(python: str, path, probes, **kwargs) -> list[dict]:
    spec = json.dumps({"path": str(path), "probes": probes, "kwargs": kwargs})
    result = subprocess.run(
        [python, "-I", "-c", _PROBE], input=spec, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def our_answers(path, probes, **kwargs) -> list[dict]:
    answers = []
    with StoreServer(path, port=0, quiet=True, **kwargs) as server:
        for method, route, headers in probes:
            headers = dict(headers)
            if headers.get("If-None-Match") == "<etag>":
                headers["If-None-Match"] = fetch(server.port, "HEAD", route)[0].getheader("ETag")
            reply, body = fetch(server.port, method, route, headers)
            kind = reply.getheader("Content-Type")
            answers.append({
                "status": reply.status,
                "type": kind,
                "range": reply.getheader("Content-Range"),
                "ranges": reply.getheader("Accept-Ranges"),
                "etag": reply.getheader("ETag") is not None,
                "sha256": hashlib.sha256(body).hexdigest(),
                "json": json.loads(body) if kind == "application/json" and reply.status == 200
                else None,
            })
    return answers


def probes_for(route: str, folder: bool) -> list[list]:
    documents = [["GET", f"/_cellucid/{name}", {}] for name in ("datasets", "health", "info")]
    if folder:
        store = [
            ["GET", f"{route}/.zmetadata", {}],
            ["HEAD", f"{route}/.zmetadata", {}],
            ["GET", f"{route}/obs/.zattrs", {}],
            ["GET", f"{route}/X/indptr/0", {"Range": "bytes=0-15"}],
            ["GET", f"{route}/X/indptr/0", {"If-None-Match": "<etag>"}],
            ["GET", f"{route}/X/data/999", {}],
            ["GET", f"{route}/obs%2F.zattrs", {}],
            ["GET", f"{route}/../atlas.h5ad", {}],
            ["GET", f"{route}/", {}],
            ["GET", f"{route}", {}],
        ]
    else:
        store = [
            ["GET", route, {}],
            ["HEAD", route, {}],
            ["GET", route, {"Range": "bytes=0-99"}],
            ["GET", route, {"Range": "bytes=-64"}],
            ["GET", route, {"Range": "bytes=100-"}],
            ["GET", route, {"Range": "bytes=999999999-"}],
            ["GET", route, {"If-None-Match": "<etag>"}],
            ["GET", route, {"Range": "items=0-5"}],
            ["GET", f"{route}/x", {}],
            ["GET", "/_cellucid/anndata/atlas.h5ad", {}],
        ]
    return [*documents, *store, ["GET", "/_cellucid/nothing", {}]]


def deliberate(probe: list) -> tuple[int, int] | None:
    _, path, headers = probe
    said = "; ".join(f"{k}: {v}" for k, v in headers.items())
    for (text, header), statuses in DELIBERATE.items():
        if (text in path or text in said) and header == said:
            return statuses
    return None


def compare(probes, theirs, ours) -> list[str]:
    """Every difference that is not listed in OURS or DELIBERATE, one line each."""
    found = []
    for probe, their, our in zip(probes, theirs, ours, strict=True):
        label = " ".join(str(p) for p in probe)
        expected = deliberate(probe)
        if expected is not None:
            if (their["status"], our["status"]) != expected:
                found.append(f"{label}: {their['status']} vs {our['status']}, not {expected}")
            continue
        if their["status"] != our["status"]:
            found.append(f"{label}: status {their['status']} vs {our['status']}")
            continue
        if their["status"] >= 400:
            continue  # error bodies are worded differently (ours are JSON)
        keys = ("type", "range", "ranges", "etag", "sha256")
        if their["json"] is not None:
            for field in OURS.get(probe[1], ()):
                their["json"].pop(field), our["json"].pop(field)
            keys = ("type", "json")
        found += [f"{label}: {k} {their[k]!r} vs {our[k]!r}" for k in keys if their[k] != our[k]]
    return found


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference-stores")
    return {c: write_store(folder, c, quiet=True) for c in ("zarr", "zarr-v3", "zarr.zip", "h5ad")}


@pytest.mark.parametrize("container", ["zarr", "zarr-v3", "zarr.zip", "h5ad"])
def test_same_answers_as_upstream(reference095, stores, container):
    ending = {"zarr-v3": "zarr"}.get(container, container)
    route = f"/_cellucid/anndata/atlas-1.{ending}"
    probes = probes_for(route, folder=ending == "zarr")
    if container == "zarr-v3":
        v3_keys = {".zmetadata": "zarr.json", ".zattrs": "zarr.json", "/0": "/c/0",
                   "/999": "/c/999"}
        for old, new in v3_keys.items():
            probes = [[m, p.replace(old, new), h] for m, p, h in probes]
    theirs = upstream_answers(reference095, stores[container], probes)
    ours = our_answers(stores[container], probes)
    assert compare(probes, theirs, ours) == []
    # the comparison saw real answers: the documents, and store bytes
    assert theirs[0]["json"]["datasets"][0]["id"] == "atlas-1"
    assert any(a["status"] in (200, 206) and a["json"] is None for a in ours)


def test_same_datasets_with_the_callers_identity_and_defaults(reference095, stores):
    """Upstream's dataset_id/dataset_name/latent_key/obs_keys against ours given the same
    choices (in the web app's keys)."""
    probes = [["GET", "/_cellucid/datasets", {}], ["HEAD", "/_cellucid/anndata/b.zarr/.zgroup", {}]]
    theirs = upstream_answers(reference095, stores["zarr"], probes, dataset_id="b",
                              dataset_name="Bee", latent_key="X_pca", obs_keys=["cell_type"])
    ours = our_answers(stores["zarr"], probes, dataset_id="b", dataset_name="Bee",
                       defaults={"latentKey": "X_pca", "obsKeys": ["cell_type"]})
    assert compare(probes, theirs, ours) == []
    assert theirs[0]["json"]["datasets"][0]["anndata"]["defaults"] == {
        "latentKey": "X_pca", "obsKeys": ["cell_type"]
    }
