"""Time to first view of ``serve_anndata`` / ``show_anndata`` on a backed .h5ad.

Generates the atlas with make_atlas.py (unless it exists), then in a fresh process with an
empty export cache, for each viewer asked for (``--viewer``, default both):

``current`` (today's web app): calls ``show_anndata(backed AnnData)``, which writes a
Cellucid-ready store into the export cache, and measures

- datasets: until the server answers ``/_cellucid/datasets``;
- first gene: until the first gene's column of X has been read through the served store
  with range-free key requests (``X/indptr`` then the ``data`` chunks holding the column),
  decoded with the codecs the store declares;
- cached reopen: a second ``show_anndata`` call on the same data (nothing written).

``pinned`` (export folder): calls ``serve_anndata(backed AnnData, viewer="pinned")``
(8-bit genes, gzip 6, the options of run_benchmark.py) and measures

- first view: until the server answers ``/_cellucid/datasets`` and the identity, manifests,
  points and obs files (what the viewer reads before it draws);
- first gene: until the first gene file is served (it waits while pass two runs);
- full export: until the background export has ended;
- cached reopen: a second ``serve_anndata`` call on the same data (no export).

    python benchmarks/first_view_benchmark.py --size 300000x10000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

MEASURE = textwrap.dedent(
    """
    import json, sys, time, urllib.request
    t0 = time.perf_counter()
    import anndata as ad
    import cellucid
    from cellucid.sinks.folder.state import read_record

    def fetch(url):
        return urllib.request.urlopen(url, timeout=600).read()

    adata = ad.read_h5ad(sys.argv[1], backed="r")
    options = dict(port=0, open_browser=False, quiet=True, compression=6, var_quantization=8,
                   viewer="pinned")
    server = cellucid.serve_anndata(adata, **options)
    fetch(server.url + "/_cellucid/datasets")
    files = read_record(server.data_dir).files
    early = [f for f in files if not f.startswith("var/")]
    for name in early:
        fetch(f"{server.url}/{name}")
    first_view = time.perf_counter() - t0
    gene = next(f for f in files if f.startswith("var/"))
    fetch(f"{server.url}/{gene}")
    first_gene = time.perf_counter() - t0
    server.pending.wait_done()
    full = time.perf_counter() - t0
    server.stop()
    t1 = time.perf_counter()
    again = cellucid.serve_anndata(adata, **options)
    fetch(again.url + "/var_manifest.json")
    reopen = time.perf_counter() - t1
    assert again.pending is None
    again.stop()
    print(json.dumps({"first_view": first_view, "first_gene": first_gene,
                      "full_export": full, "cached_reopen": reopen,
                      "early_files": len(early), "files": len(files)}))
    """
)

MEASURE_CURRENT = textwrap.dedent(
    """
    import json, sys, time, urllib.request
    t0 = time.perf_counter()
    import anndata as ad
    import numcodecs
    import numpy as np
    import cellucid

    def fetch(url):
        return urllib.request.urlopen(url, timeout=600).read()

    def chunk(base, array, index):
        meta = json.loads(fetch(f"{base}/{array}/.zarray"))
        raw = fetch(f"{base}/{array}/{index}")
        for spec in [meta["compressor"], *reversed(meta.get("filters") or [])]:
            if spec is not None:
                raw = numcodecs.get_codec(spec).decode(raw)
        return np.frombuffer(raw, dtype=meta["dtype"]), meta["chunks"][0]

    adata = ad.read_h5ad(sys.argv[1], backed="r")
    viewer = cellucid.show_anndata(adata)
    server = viewer.server
    (listed,) = json.loads(fetch(server.url + "/_cellucid/datasets"))["datasets"]
    datasets = time.perf_counter() - t0
    base = server.url + "/" + listed["anndata"]["file"]["url"].rstrip("/")
    indptr, _ = chunk(base, "X/indptr", "0")
    first, last = int(indptr[0]), int(indptr[1])
    size = json.loads(fetch(f"{base}/X/data/.zarray"))["chunks"][0]
    wanted = range(first // size, (last - 1) // size + 1)
    values = [chunk(base, "X/data", str(i))[0] for i in wanted]
    column = np.concatenate(values)[first % size :][: last - first]
    assert column.size == last - first and np.isfinite(column).all()
    first_gene = time.perf_counter() - t0
    viewer.stop()
    t1 = time.perf_counter()
    again = cellucid.show_anndata(adata)
    fetch(again.server.url + "/_cellucid/datasets")
    reopen = time.perf_counter() - t1
    again.stop()
    print(json.dumps({"datasets": datasets, "first_gene": first_gene,
                      "first_gene_stored_values": int(last - first), "cached_reopen": reopen}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300000x10000", metavar="CELLSxGENES")
    parser.add_argument("--workdir", type=Path, help="where to put data (default: a temp dir)")
    parser.add_argument(
        "--viewer",
        action="append",
        choices=("current", "pinned"),
        help="which route to time (repeatable; default both)",
    )
    parser.add_argument(
        "--input",
        type=Path,
        help="an existing .h5ad to open instead of generating one (today's app needs a "
        "symmetric graph, e.g. store_benchmark.py's atlases)",
    )
    args = parser.parse_args()
    cells, genes = (int(v) for v in args.size.lower().split("x"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cellucid-first-view-"))
    workdir.mkdir(parents=True, exist_ok=True)
    h5ad = args.input or workdir / f"atlas_{cells}x{genes}.h5ad"
    if not h5ad.exists():
        command = [sys.executable, str(HERE / "make_atlas.py"), str(h5ad)]
        subprocess.run([*command, "--cells", str(cells), "--genes", str(genes)], check=True)
    for viewer in args.viewer or ["current", "pinned"]:
        script = MEASURE_CURRENT if viewer == "current" else MEASURE
        with tempfile.TemporaryDirectory(prefix="cellucid-export-cache-") as cache:
            # today's app is not fetched: the data endpoints are what is timed
            env = {
                **os.environ,
                "CELLUCID_EXPORT_CACHE_DIR": cache,
                "CELLUCID_WEB_APP_URL": os.environ.get(
                    "CELLUCID_WEB_APP_URL", "http://127.0.0.1:9"
                ),
            }
            result = subprocess.run(
                [sys.executable, "-c", script, str(h5ad)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            sys.exit(result.stderr[-3000:])
        print(f"{args.size} {viewer}: {result.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
