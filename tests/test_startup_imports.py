"""Start-up: each use of cellucid imports only the packages it needs (issue 23, item 1).

Counted as the top-level packages in ``sys.modules`` of a fresh interpreter, which, unlike
import times, do not depend on the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cellucid

#: what a plain ``import cellucid`` must not pull in (every public name loads on use)
HEAVY = {"anndata", "pandas", "numba", "distributed", "zarr", "h5py", "xarray", "dask", "scipy"}

#: printed at exit by every child: the top-level packages it imported
_AT_EXIT = textwrap.dedent(
    """
    import atexit, json, sys
    atexit.register(lambda: print("MODULES " + json.dumps(
        sorted({name.split(".")[0] for name in sys.modules}))))
    """
)


def imported_by(code: str, cwd: Path) -> set[str]:
    """The top-level packages a fresh interpreter has imported once ``code`` ran."""
    result = subprocess.run(
        [sys.executable, "-c", _AT_EXIT + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(s for s in result.stdout.splitlines() if s.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def test_import_cellucid_imports_no_scientific_stack(tmp_path):
    modules = imported_by("import cellucid", tmp_path)
    assert "cellucid" in modules
    assert modules & HEAVY == set()


def test_every_public_name_imports():
    for name in cellucid.__all__:
        namespace: dict[str, object] = {}
        exec(f"from cellucid import {name}", namespace)  # noqa: S102 - the statement itself
        assert namespace[name] is getattr(cellucid, name)


PREPARE_ARRAYS = """
    import numpy as np, pandas as pd, scipy.sparse as sp
    import cellucid
    rng = np.random.default_rng(0)
    points = rng.random((80, 2)).astype(np.float32)
    genes = sp.random(80, 12, density=0.3, format="csr", dtype=np.float32, random_state=0)
    graph = sp.random(80, 80, density=0.05, format="csr", dtype=np.float32, random_state=1)
    cellucid.prepare(
        latent_space=points, X_umap_2d=points, gene_expression=genes,
        var=pd.DataFrame(index=[f"g{i}" for i in range(12)]), connectivities=graph + graph.T,
        obs=pd.DataFrame({"kind": pd.Categorical(["a", "b"] * 40)}),
        out_dir="out", compression=6, var_quantization=8, quiet=True,
    )
"""


def test_prepare_of_arrays_imports_no_cluster_xarray_or_anndata(tmp_path):
    modules = imported_by(PREPARE_ARRAYS, tmp_path)
    assert (tmp_path / "out" / "dataset_identity.json").is_file()  # the export ran
    assert "dask" in modules  # the engine's own (a sanity check of the count)
    assert modules & {"distributed", "xarray", "anndata", "zarr", "h5py"} == set()


def test_prepare_with_a_named_scheduler_imports_no_cluster(tmp_path):
    code = PREPARE_ARRAYS.replace("quiet=True,", "quiet=True, scheduler='sync',")
    modules = imported_by(code, tmp_path)
    assert (tmp_path / "out" / "dataset_identity.json").is_file()
    assert "distributed" not in modules


def _h5ad(path: Path) -> Path:
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    adata = ad.AnnData(
        X=sp.random(60, 10, density=0.3, format="csr", dtype=np.float32, random_state=0),
        obs=pd.DataFrame(
            {"kind": pd.Categorical(["a", "b", "c"] * 20)}, index=[f"c{i}" for i in range(60)]
        ),
        var=pd.DataFrame(index=[f"g{i}" for i in range(10)]),
    )
    adata.obsm["X_umap"] = rng.random((60, 2)).astype(np.float32)
    adata.write_h5ad(path)
    return path


def test_cli_prepare_of_a_file_imports_no_cluster_nor_anndata(tmp_path):
    source = _h5ad(tmp_path / "atlas.h5ad")
    code = f"""
        from cellucid.cli import main
        assert main(["prepare", {str(source)!r}, "out", "--quiet"]) == 0
    """
    modules = imported_by(code, tmp_path)
    assert (tmp_path / "out" / "dataset_identity.json").is_file()
    assert "h5py" in modules  # the file was read (a sanity check of the count)
    # obs and var are read with h5py (cellucid.inputs.h5_frames): anndata, and the zarr
    # and xarray it imports, stay out
    assert modules & {"distributed", "anndata", "zarr", "xarray"} == set()


@pytest.mark.parametrize("command", [["--help"], ["validate", "{folder}"]])
def test_cli_help_and_validate_import_no_scientific_stack(tmp_path, command):
    folder = tmp_path / "export"
    if "{folder}" in command:
        code = f"""
            import numpy as np, cellucid
            points = np.random.default_rng(0).random((20, 2)).astype(np.float32)
            cellucid.prepare(latent_space=points, X_umap_2d=points, out_dir={str(folder)!r},
                             quiet=True)
        """
        imported_by(code, tmp_path)
    argv = [part.format(folder=folder) for part in command]
    code = f"""
        import contextlib, io
        from cellucid.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main({argv!r})
            except SystemExit as stop:  # --help
                code = stop.code
        assert code == 0, code
    """
    modules = imported_by(code, tmp_path)
    assert modules & {"anndata", "pandas", "numba", "distributed", "zarr", "xarray"} == set()


@pytest.mark.slow  # the first export may compile the kernels (10-30 s) when no cache holds them
def test_a_second_export_loads_every_kernel_from_the_cache(tmp_path):
    count = """
        import gc, json
        from numba.core.registry import CPUDispatcher
        kernels = [k for k in gc.get_objects() if isinstance(k, CPUDispatcher)
                   and k.py_func.__module__.startswith("cellucid")]
        print("MISSES " + json.dumps(sum(sum(k.stats.cache_misses.values()) for k in kernels)))
        print("HITS " + json.dumps(sum(sum(k.stats.cache_hits.values()) for k in kernels)))
    """
    imported_by(PREPARE_ARRAYS, tmp_path)  # compiles what the cache does not hold yet
    code = textwrap.dedent(PREPARE_ARRAYS).replace('"out"', '"again"') + textwrap.dedent(count)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=True,
    )
    numbers = dict(line.split() for line in result.stdout.splitlines() if " " in line)
    assert int(numbers["HITS"]) > 0  # the kernels ran, loaded from the cache
    assert int(numbers["MISSES"]) == 0


def test_cli_serve_of_a_folder_imports_no_scientific_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web"))
    folder = tmp_path / "export"
    imported_by(
        f"""
        import numpy as np, cellucid
        points = np.random.default_rng(0).random((20, 2)).astype(np.float32)
        cellucid.prepare(latent_space=points, X_umap_2d=points, out_dir={str(folder)!r},
                         quiet=True)
        """,
        tmp_path,
    )
    # the child serves until its banner names the address, then prints its modules and ends
    code = f"""
        import io, json, os, sys
        class Banner(io.TextIOBase):
            def write(self, text):
                if "http://127.0.0.1:" in text:
                    names = sorted({{name.split(".")[0] for name in sys.modules}})
                    sys.__stdout__.write("MODULES " + json.dumps(names) + "\\n")
                    sys.__stdout__.flush()
                    os._exit(0)
                return len(text)
        sys.stdout = Banner()
        from cellucid.cli import main
        main(["serve", {str(folder)!r}, "--no-browser", "--port", "0"])
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    line = next((s for s in result.stdout.splitlines() if s.startswith("MODULES ")), None)
    assert line is not None, result.stderr[-3000:]
    modules = set(json.loads(line.removeprefix("MODULES ")))
    assert "http" in modules  # it served (a sanity check of the count)
    heavy = {"anndata", "pandas", "scipy", "numba", "distributed", "zarr", "xarray"}
    assert modules & heavy == set()
