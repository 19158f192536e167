"""Time to first view of ``serve_anndata`` on a backed .h5ad, and the full export time.

Generates the atlas with make_atlas.py (unless it exists), then in a fresh process with an
empty export cache: calls ``serve_anndata(backed AnnData)`` (8-bit genes, gzip 6, the
options of run_benchmark.py) and measures

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
    options = dict(port=0, open_browser=False, quiet=True, compression=6, var_quantization=8)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300000x10000", metavar="CELLSxGENES")
    parser.add_argument("--workdir", type=Path, help="where to put data (default: a temp dir)")
    args = parser.parse_args()
    cells, genes = (int(v) for v in args.size.lower().split("x"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cellucid-first-view-"))
    workdir.mkdir(parents=True, exist_ok=True)
    h5ad = workdir / f"atlas_{cells}x{genes}.h5ad"
    if not h5ad.exists():
        command = [sys.executable, str(HERE / "make_atlas.py"), str(h5ad)]
        subprocess.run([*command, "--cells", str(cells), "--genes", str(genes)], check=True)
    with tempfile.TemporaryDirectory(prefix="cellucid-export-cache-") as cache:
        env = {**os.environ, "CELLUCID_EXPORT_CACHE_DIR": cache}
        result = subprocess.run(
            [sys.executable, "-c", MEASURE, str(h5ad)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    print(f"{args.size}: {result.stdout.strip()}")


if __name__ == "__main__":
    main()
