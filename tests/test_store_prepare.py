"""``prepare(out_path, format=...)`` end to end: every input kind into every container.

Each store is compared with upstream cellucid 0.9.5's store of the same inputs
(``compare_stores``; skipped when upstream is absent) and checked on its own: read back with
anndata, X equal to the input's canonical CSC (or dense) matrix of the chosen genes, and
``cellucid.verify.store.validate_store`` clean. Then: X spanning several scan blocks and
assembly groups, a ``dask.distributed`` cluster writing the same bytes as threads, two runs
writing the same bytes, and failures (a refused X, an interruption mid-write, an existing
store) leaving nothing at the final name.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anndata
import numpy as np
import pandas as pd
import pytest
import zarr
from scipy import sparse

import cellucid
from cellucid.sinks.anndata import csc, dense, run
from cellucid.sinks.anndata.x_values import ExpressionValuesError

from .reference095 import TIMEOUT, compare_stores, reference_python, requires_reference095

#: container id -> (format, zarr_format, file name)
CONTAINERS: dict[str, tuple[str, int | None, str]] = {
    "zarr-v2": ("zarr", 2, "store.zarr"),
    "zarr-v3": ("zarr", 3, "store.zarr"),
    "zarr.zip": ("zarr.zip", None, "store.zarr.zip"),
    "h5ad": ("h5ad", None, "store.h5ad"),
}
#: Our input cases -> (input file, how X is given, upstream's reference job).
CASES: dict[str, tuple[str, str, str]] = {
    "backed-csr": ("sparse", "backed", "sparse-data"),
    "backed-csc": ("sparse-csc", "backed", "sparse-data"),
    "dense": ("dense", "memory", "dense-data"),
    "backed-dense": ("dense", "backed", "dense-data"),
    "dask-sparse": ("sparse", "dask", "sparse-loose"),
    "dask-dense": ("dense", "dask", "dense-loose"),
    "h5ad-path": ("dense", "path", "dense-data"),
    "zarr-path": ("sparse.zarr", "path", "sparse-data"),
    "zip-path": ("dense.zarr.zip", "path", "dense-data"),
}
#: Upstream's jobs: (input file, loose arguments instead of data=, read backed).
UPSTREAM_JOBS: dict[str, tuple[str, bool, bool]] = {
    "sparse-data": ("sparse", False, True),
    "dense-data": ("dense", False, False),
    "sparse-loose": ("sparse", True, False),
    "dense-loose": ("dense", True, False),
    "big-data": ("big", False, True),
    "big-dense-data": ("big-dense", False, True),
}
N_CELLS, N_GENES = 400, 60
BIG_CELLS, BIG_GENES = 5000, 300


# -- inputs ----------------------------------------------------------------------------------


def make_atlas(n_cells: int, n_genes: int, *, dense: bool = False, seed: int = 0):
    """Counts (~10% stored), nullable and categorical obs, a latent space, a velocity field
    over X_umap and a symmetric graph."""
    rng = np.random.default_rng(seed)
    x = sparse.random(
        n_cells, n_genes, density=0.1, format="csr", random_state=seed, dtype=np.float32
    )
    x.data = np.ceil(x.data * 20).astype(np.float32)
    counts = pd.array(rng.integers(0, 50, n_cells), dtype="Int64")
    counts[::7] = pd.NA
    flags = pd.array(rng.random(n_cells) < 0.5, dtype="boolean")
    flags[::5] = pd.NA
    kinds = np.array(["T", "B", "NK", "mono"])
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(kinds[rng.integers(0, 4, n_cells)]),
            "counts": counts,
            "flag": flags,
            "score": rng.normal(size=n_cells).astype(np.float32),
            "donor": [f"d{i % 3}" for i in range(n_cells)],
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(
        {"symbol": [f"S{j}" for j in range(n_genes)]}, index=[f"G{j}" for j in range(n_genes)]
    )
    graph = sparse.random(
        n_cells, n_cells, density=0.02, format="csr", random_state=seed + 1, dtype=np.float32
    )
    graph = sparse.csr_matrix(graph + graph.T)
    graph.setdiag(0)
    graph.eliminate_zeros()
    obsm = {
        "X_umap": rng.normal(size=(n_cells, 2)).astype(np.float32),
        "X_pca": rng.normal(size=(n_cells, 8)).astype(np.float32),
        "velocity_umap": rng.normal(size=(n_cells, 2)).astype(np.float32),
    }
    x_stored = x.toarray() if dense else x
    return anndata.AnnData(X=x_stored, obs=obs, var=var, obsm=obsm, obsp={"connectivities": graph})


def chosen_genes(n_genes: int, keep: int) -> list[str]:
    """``keep`` gene names in a shuffled order."""
    order = np.random.default_rng(3).permutation(n_genes)[:keep]
    return [f"G{j}" for j in order]


def arguments(n_genes: int, keep: int) -> dict[str, Any]:
    """The arguments every run shares (JSON values, for upstream too)."""
    return {
        "dataset_id": "e2e-atlas",
        "dataset_name": "End to end",
        "latent_key": "X_pca",
        "gene_identifiers": chosen_genes(n_genes, keep),
    }


SMALL_ARGUMENTS = arguments(N_GENES, 40)
BIG_ARGUMENTS = arguments(BIG_GENES, 290)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """The input .h5ad files: small sparse (CSR), the same dense, and a bigger sparse one."""
    folder = tmp_path_factory.mktemp("inputs")
    files = {name: folder / f"{name}.h5ad" for name in ("sparse", "dense", "big", "big-dense")}
    make_atlas(N_CELLS, N_GENES).write_h5ad(files["sparse"])
    make_atlas(N_CELLS, N_GENES, dense=True).write_h5ad(files["dense"])
    make_atlas(BIG_CELLS, BIG_GENES, seed=5).write_h5ad(files["big"])
    make_atlas(BIG_CELLS, BIG_GENES, dense=True, seed=5).write_h5ad(files["big-dense"])
    for name in ("sparse", "big"):  # the same matrices stored CSC
        adata = anndata.read_h5ad(files[name])
        adata.X = sparse.csc_matrix(adata.X)
        files[f"{name}-csc"] = folder / f"{name}-csc.h5ad"
        adata.write_h5ad(files[f"{name}-csc"])
    files["sparse.zarr"] = folder / "sparse.zarr"
    with warnings.catch_warnings():  # anndata's notice that Zarr v3 becomes its default
        warnings.simplefilter("ignore", UserWarning)
        make_atlas(N_CELLS, N_GENES).write_zarr(files["sparse.zarr"])
        files["dense.zarr.zip"] = folder / "dense.zarr.zip"
        archive = zarr.storage.ZipStore(files["dense.zarr.zip"], mode="w")
        make_atlas(N_CELLS, N_GENES, dense=True).write_zarr(archive)
        archive.close()
    return files


def loose_arguments(adata: anndata.AnnData, x: Any) -> dict[str, Any]:
    """An AnnData's components passed one by one, with ``x`` as gene_expression."""
    obsm = {key: value for key, value in adata.obsm.items() if key != "velocity_umap"}
    return {
        "obs": adata.obs,
        "var": adata.var,
        "gene_expression": x,
        "embeddings": obsm,
        "vector_fields": {"velocity": {"X_umap": adata.obsm["velocity_umap"]}},
        "connectivities": adata.obsp["connectivities"],
    }


def dask_x(x: Any) -> Any:
    """X as a dask array: sparse row blocks for a sparse X, square-ish tiles for a dense X."""
    import dask.array as da

    if sparse.issparse(x):
        return da.from_array(sparse.csr_matrix(x), chunks=(128, -1), asarray=False)
    return da.from_array(np.asarray(x), chunks=(100, 25))


def given(case: str, files: dict[str, Path]) -> dict[str, Any]:
    """The arguments (data= or loose) of an input case."""
    file, how, _ = CASES[case]
    if how == "backed":
        return {"data": anndata.read_h5ad(files[file], backed="r")}
    if how == "path":
        return {"data": str(files[file])}
    adata = anndata.read_h5ad(files[file])
    if how == "memory":
        return {"data": adata}
    return loose_arguments(adata, dask_x(adata.X))


def write_ours(
    out_dir: Path,
    container: str,
    given_arguments: dict[str, Any],
    shared: dict[str, Any],
    **extra: Any,
) -> Path:
    """``cellucid.prepare`` into ``out_dir`` in one container."""
    output_format, zarr_format, name = CONTAINERS[container]
    options = {"zarr_format": zarr_format} if zarr_format else {}
    return cellucid.prepare(
        out_dir / name,
        format=output_format,
        quiet=True,
        **given_arguments,
        **shared,
        **options,
        **extra,
    )


# -- upstream 0.9.5, every reference store in one subprocess ----------------------------------

# Runs in upstream's interpreter: one job a line of JSON on stdin, each store's path printed.
_UPSTREAM = """
import json, sys
import anndata, cellucid
for job in json.load(sys.stdin):
    adata = anndata.read_h5ad(job["input"], backed="r" if job["backed"] else None)
    if job["loose"]:
        obsm = {key: value for key, value in adata.obsm.items() if key != "velocity_umap"}
        given = dict(obs=adata.obs, var=adata.var, gene_expression=adata.X, embeddings=obsm,
                     vector_fields={"velocity": {"X_umap": adata.obsm["velocity_umap"]}},
                     connectivities=adata.obsp["connectivities"])
    else:
        given = dict(data=adata)
    cellucid.prepare(job["out"], format=job["format"], **given, **job["kwargs"])
    print(job["out"], flush=True)
"""


@pytest.fixture(scope="module")
def upstream(inputs, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Upstream's store of each reference job in each container (one subprocess for all)."""
    python = reference_python()
    if python is None:
        pytest.skip("upstream cellucid 0.9.5 not found")
    folder = tmp_path_factory.mktemp("upstream")
    jobs, paths = [], {}
    for job, (file, loose, backed) in UPSTREAM_JOBS.items():
        shared = BIG_ARGUMENTS if file.startswith("big") else SMALL_ARGUMENTS
        for container, (output_format, zarr_format, name) in CONTAINERS.items():
            out = folder / job / container / name
            out.parent.mkdir(parents=True)
            kwargs = dict(shared, **({"zarr_format": zarr_format} if zarr_format else {}))
            jobs.append(
                {
                    "input": str(inputs[file]),
                    "backed": backed,
                    "loose": loose,
                    "out": str(out),
                    "format": output_format,
                    "kwargs": kwargs,
                }
            )
            paths[job, container] = out
    result = subprocess.run(
        [python, "-I", "-c", _UPSTREAM],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"upstream 0.9.5 failed:\n{result.stderr[-6000:]}")
    return paths


# -- our stores, written once per module ------------------------------------------------------


@pytest.fixture(scope="module")
def ours(inputs, tmp_path_factory) -> Callable[[str, str], Path]:
    """``ours(case, container)``: our store of an input case, written on first use."""
    folder = tmp_path_factory.mktemp("ours")
    written: dict[tuple[str, str], Path] = {}

    def store(case: str, container: str) -> Path:
        if (case, container) not in written:
            written[case, container] = write_ours(
                folder / case / container, container, given(case, inputs), SMALL_ARGUMENTS
            )
        return written[case, container]

    return store


# -- reading a store back ----------------------------------------------------------------------


def read_back(path: Path) -> anndata.AnnData:
    """A store read with anndata, into memory."""
    if path.suffix == ".h5ad":
        return anndata.read_h5ad(path)
    if path.name.endswith(".zip"):
        store = zarr.storage.ZipStore(path, mode="r")
        try:
            return anndata.read_zarr(store)
        finally:
            store.close()
    return anndata.read_zarr(path)


def read_input(file: Path) -> anndata.AnnData:
    return read_back(file)


def expected_x(file: Path, genes: list[str]) -> Any:
    """The input's X in store form: canonical CSC (or dense) float32 of ``genes``, in order."""
    adata = read_input(file)
    columns = adata.var_names.get_indexer(genes)
    if not sparse.issparse(adata.X):
        return np.asarray(adata.X)[:, columns].astype(np.float32)
    matrix = sparse.csc_matrix(adata.X)[:, columns].astype(np.float32)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def assert_x_equal(stored: Any, expected: Any) -> None:
    if sparse.issparse(expected):
        assert sparse.issparse(stored) and stored.format == "csc"
        assert stored.dtype == np.float32
        assert stored.shape == expected.shape
        np.testing.assert_array_equal(stored.indptr, expected.indptr)
        np.testing.assert_array_equal(stored.indices, expected.indices)
        np.testing.assert_array_equal(stored.data, expected.data)
    else:
        assert isinstance(stored, np.ndarray) and stored.dtype == np.float32
        np.testing.assert_array_equal(stored, expected)


def assert_contract(path: Path, file: Path, shared: dict[str, Any]) -> None:
    """The store holds the input, as anndata reads it, and validates clean."""
    source = read_input(file)
    stored = read_back(path)
    genes = shared["gene_identifiers"]
    assert list(stored.var_names) == genes
    assert_x_equal(stored.X, expected_x(file, genes))
    assert list(stored.obs_names) == list(source.obs_names)
    pd.testing.assert_series_equal(stored.obs["counts"], source.obs["counts"])
    pd.testing.assert_series_equal(stored.obs["flag"], source.obs["flag"])
    pd.testing.assert_series_equal(stored.obs["cell_type"], source.obs["cell_type"])
    assert list(stored.obs["donor"].astype(str)) == list(source.obs["donor"])
    for key in ("X_umap", "X_pca", "velocity_umap"):
        np.testing.assert_array_equal(stored.obsm[key], source.obsm[key])
    graph = stored.obsp["connectivities"]
    assert graph.format == "csr" and (graph != source.obsp["connectivities"]).nnz == 0
    assert stored.uns["cellucid"]["id"] == shared["dataset_id"]
    try:
        from cellucid.verify.store import validate_store
    except ImportError:
        return
    assert validate_store(path) == []


# -- 1. every input kind, every container -------------------------------------------------------


@requires_reference095
@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("case", list(CASES))
def test_same_store_as_upstream(case, container, ours, upstream):
    assert compare_stores(ours(case, container), upstream[CASES[case][2], container]) == []


@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("case", list(CASES))
def test_store_holds_the_input(case, container, ours, inputs):
    assert_contract(ours(case, container), inputs[CASES[case][0]], SMALL_ARGUMENTS)


# -- 2. X over several scan blocks, assembly groups and chunks ---------------------------------

#: Bytes of stored values and indices per scan block: ~270 rows of the big atlas, so its
#: 5,000 cells span about 20 blocks of 256 rows (MIN_BLOCK_ROWS).
SMALL_BLOCK_BYTES = 2**16
#: Bytes per assembly group: one chunk of 65,536 float32 values and int32 indices.
SMALL_GROUP_BYTES = 2**19


@pytest.fixture
def small_blocks(monkeypatch) -> list[csc.AssemblyPlan]:
    """Force small scan blocks and one-chunk assembly groups; the plans made are recorded.

    ``plan_assembly``'s ``group_bytes`` default is bound when csc.py is imported, so the
    group size is passed where run.py plans the assembly.
    """
    plans: list[csc.AssemblyPlan] = []

    def plan_assembly(scan: csc.ScanResult) -> csc.AssemblyPlan:
        plans.append(csc.plan_assembly(scan, group_bytes=SMALL_GROUP_BYTES))
        return plans[-1]

    monkeypatch.setattr(csc, "BLOCK_BYTES", SMALL_BLOCK_BYTES)
    monkeypatch.setattr(run, "plan_assembly", plan_assembly)
    return plans


def backed(file: Path) -> dict[str, Any]:
    return {"data": anndata.read_h5ad(file, backed="r")}


@pytest.mark.parametrize("container", list(CONTAINERS))
def test_x_over_many_blocks_and_groups(container, inputs, small_blocks, tmp_path, request):
    path = write_ours(tmp_path, container, backed(inputs["big"]), BIG_ARGUMENTS)
    (plan,) = small_blocks
    assert plan.layout.n_blocks >= 10
    assert len(plan.groups) >= 3 and plan.n_chunks >= 3
    assert_contract(path, inputs["big"], BIG_ARGUMENTS)
    if reference_python() is not None:
        theirs = request.getfixturevalue("upstream")["big-data", container]
        assert compare_stores(path, theirs) == []


@pytest.mark.parametrize("container", ["zarr-v2", "h5ad"])
def test_a_csc_matrix_on_disk_is_read_once(container, inputs, small_blocks, tmp_path, request):
    """anndata loads every column to read rows of a CSC matrix on disk: one block, not
    one whole read per block (and per thread)."""
    path = write_ours(tmp_path, container, backed(inputs["big-csc"]), BIG_ARGUMENTS)
    (plan,) = small_blocks
    assert plan.layout.n_blocks == 1 and len(plan.groups) >= 3
    assert_contract(path, inputs["big-csc"], BIG_ARGUMENTS)
    if reference_python() is not None:
        theirs = request.getfixturevalue("upstream")["big-data", container]
        assert compare_stores(path, theirs) == []


@pytest.mark.parametrize("container", list(CONTAINERS))
def test_dense_x_over_many_tiles(container, inputs, tmp_path, monkeypatch, request):
    """A dense X checked in many tiles and written in several strips of 52 genes."""
    plans: list[dense.DensePlan] = []

    def scan_dense(*args: Any, **kwargs: Any) -> dense.DensePlan:
        plans.append(dense.scan_dense(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(dense, "TILE_BYTES", 2**18)  # 6 of the 5,000 cells' columns a tile
    monkeypatch.setattr(run, "scan_dense", scan_dense)
    path = write_ours(tmp_path, container, backed(inputs["big-dense"]), BIG_ARGUMENTS)
    (plan,) = plans
    assert len(plan.tiles) >= 5 and plan.chunks == (BIG_CELLS, 2**18 // BIG_CELLS)
    assert_contract(path, inputs["big-dense"], BIG_ARGUMENTS)
    if reference_python() is not None:
        theirs = request.getfixturevalue("upstream")["big-dense-data", container]
        assert compare_stores(path, theirs) == []


# -- 3. a dask.distributed cluster writes the same bytes as threads ----------------------------


def digest(path: Path) -> dict[str, str]:
    """The SHA-256 of every file of a store (a folder's, relative path -> digest)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        str(file.relative_to(path) if path.is_dir() else file.name): hashlib.sha256(
            file.read_bytes()
        ).hexdigest()
        for file in files
    }


#: Inputs written on the cluster: (name, input file, how X is given, arguments).
CLUSTER_RUNS = [
    ("backed-csr", "big", "backed", BIG_ARGUMENTS),
    ("backed-dense", "dense", "backed", SMALL_ARGUMENTS),
    ("dask-sparse", "sparse", "dask", SMALL_ARGUMENTS),
    ("zarr-path", "sparse.zarr", "path", SMALL_ARGUMENTS),
    ("zip-path", "dense.zarr.zip", "path", SMALL_ARGUMENTS),
]


def cluster_arguments(file: Path, how: str) -> dict[str, Any]:
    if how == "backed":
        return backed(file)
    if how == "path":
        return {"data": str(file)}
    adata = anndata.read_h5ad(file)
    return loose_arguments(adata, dask_x(adata.X))


def _task_prefixes(dask_scheduler=None) -> list[str]:
    return [str(prefix) for prefix in dask_scheduler.task_prefixes]


def write_cluster_runs(folder: Path, inputs: dict[str, Path]) -> dict[tuple[str, str], Any]:
    """The digest of every CLUSTER_RUNS store in every container."""
    return {
        (name, container): digest(
            write_ours(
                folder / name / container, container, cluster_arguments(inputs[file], how), shared
            )
        )
        for name, file, how, shared in CLUSTER_RUNS
        for container in CONTAINERS
    }


def test_local_cluster_writes_the_same_bytes(inputs, small_blocks, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    threaded = write_cluster_runs(tmp_path / "threads", inputs)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = write_cluster_runs(tmp_path / "cluster", inputs)
        prefixes = set(client.run_on_scheduler(_task_prefixes))
        # an interrupted run cancels its tasks on the cluster and leaves nothing
        stopped = tmp_path / "stopped"
        with monkeypatch.context() as patch:
            Interrupted(patch, after=2)
            with pytest.raises(KeyboardInterrupt):
                write_ours(stopped, "zarr-v2", backed(inputs["big"]), BIG_ARGUMENTS)
        assert not stopped.exists()
    # the X tasks ran on the workers
    assert {"scan_block", "group_task", "check_tile", "dense_task"} <= prefixes, prefixes
    for key, files in threaded.items():
        assert on_cluster[key] == files, key


# -- 4. determinism, and failures leave nothing behind -----------------------------------------


@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("case", ["backed-csr", "dense"])
def test_two_runs_write_the_same_bytes(case, container, ours, inputs, tmp_path):
    again = write_ours(tmp_path, container, given(case, inputs), SMALL_ARGUMENTS)
    assert digest(again) == digest(ours(case, container))


def with_nan(file: Path) -> anndata.AnnData:
    """The atlas with one NaN in X (a stored value when sparse)."""
    adata = anndata.read_h5ad(file)
    if sparse.issparse(adata.X):
        adata.X.data[17] = np.nan
    else:
        adata.X[123, 45] = np.nan
    return adata


@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("file", ["sparse", "dense"])
def test_a_refused_x_writes_nothing(file, container, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExpressionValuesError, match="NaN"):
        write_ours(out, container, {"data": with_nan(inputs[file])}, SMALL_ARGUMENTS)
    assert sorted(out.iterdir()) == []
    # nor a folder the run would have made for it
    with pytest.raises(ExpressionValuesError, match="NaN"):
        write_ours(
            out / "new" / "folder", container, {"data": with_nan(inputs[file])}, SMALL_ARGUMENTS
        )
    assert sorted(out.iterdir()) == []


class Interrupted:
    """Makes the writer raise KeyboardInterrupt when X's chunk ``after`` arrives."""

    def __init__(self, monkeypatch, after: int) -> None:
        self.after, self.seen = after, 0
        self.write_store = run.write_store
        monkeypatch.setattr(run, "write_store", self)

    def stream(self, chunks):
        for chunk in chunks:
            if self.seen == self.after:
                raise KeyboardInterrupt
            self.seen += 1
            yield chunk

    def __call__(self, path, container, content, chunks, **options):
        return self.write_store(path, container, content, self.stream(chunks), **options)


@pytest.mark.parametrize("container", list(CONTAINERS))
def test_an_interrupted_write_leaves_nothing(
    container, inputs, small_blocks, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        interrupted = Interrupted(patch, after=3)
        with pytest.raises(KeyboardInterrupt):
            write_ours(out, container, backed(inputs["big"]), BIG_ARGUMENTS)
    assert interrupted.seen == 3
    assert not out.exists()  # nor the folder the run made for the store
    # no assembly task still runs (reading the spill that is gone)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("cellucid-store")]
    rerun = write_ours(out, container, backed(inputs["big"]), BIG_ARGUMENTS)
    clean = write_ours(tmp_path / "clean", container, backed(inputs["big"]), BIG_ARGUMENTS)
    assert digest(rerun) == digest(clean)
    assert [p.name for p in out.iterdir()] == [rerun.name]


def test_an_interrupted_scan_leaves_nothing(inputs, small_blocks, tmp_path, monkeypatch):
    """Ctrl+C in one scan task while others run: they finish before the spill is removed,
    and none writes into it afterwards."""
    scan_block = csc.scan_block

    def slow_or_interrupted(job, block):
        time.sleep(0.05 if block == 1 else 0.3)
        if block == 1:
            raise KeyboardInterrupt
        return scan_block(job, block)

    monkeypatch.setattr(csc, "scan_block", slow_or_interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_ours(out, "h5ad", backed(inputs["big"]), BIG_ARGUMENTS)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("cellucid-store")]
    time.sleep(0.5)
    assert not out.exists()


@pytest.mark.parametrize("file", ["sparse", "dense"])
def test_the_input_file_is_read_anew_and_let_go(file, tmp_path):
    """No handle on the input outlives prepare(): the file can be rewritten at once, and a
    second run reads the new file, not the old one through a cached handle."""
    path = tmp_path / "in.h5ad"
    make_atlas(N_CELLS, N_GENES, dense=file == "dense").write_h5ad(path)
    adata = anndata.read_h5ad(path, backed="r")
    write_ours(tmp_path / "first", "h5ad", {"data": adata}, SMALL_ARGUMENTS)
    adata.file.close()
    make_atlas(N_CELLS, N_GENES, dense=file == "dense", seed=9).write_h5ad(path)
    adata = anndata.read_h5ad(path, backed="r")
    second = write_ours(tmp_path / "second", "h5ad", {"data": adata}, SMALL_ARGUMENTS)
    adata.file.close()
    assert_x_equal(read_back(second).X, expected_x(path, SMALL_ARGUMENTS["gene_identifiers"]))


@pytest.mark.filterwarnings("ignore")  # anndata's notices about the old encodings
@pytest.mark.parametrize("encoding", ["pre07-sparse", "pre07-dense", "v07"])
def test_old_encodings_by_path_write_what_anndata_reads(encoding, tmp_path):
    """data= the path of an .h5ad in anndata's pre-0.7 or 0.7 encoding writes the store its
    backed AnnData writes."""
    from scipy.sparse import csr_matrix

    from .old_anndata_files import atlas_arrays, write_pre07, write_v07

    values = atlas_arrays()
    graph = csr_matrix(values["graph"] + values["graph"].T, dtype=np.float32)
    graph.setdiag(0)
    graph.eliminate_zeros()
    values["graph"] = graph
    file = tmp_path / "old.h5ad"
    if encoding == "v07":
        write_v07(file, values)
    else:
        write_pre07(file, values, sparse_x=encoding == "pre07-sparse")
    shared = {"dataset_id": "old", "dataset_name": "Old"}
    by_path = write_ours(tmp_path / "path", "h5ad", {"data": str(file)}, shared)
    adata = anndata.read_h5ad(file, backed="r")
    by_anndata = write_ours(tmp_path / "backed", "h5ad", {"data": adata}, shared)
    adata.file.close()
    assert compare_stores(by_path, by_anndata) == []
    stored = read_back(by_path).X
    np.testing.assert_array_equal(
        stored.toarray() if sparse.issparse(stored) else stored, values["dense"]
    )


@pytest.mark.parametrize("container", list(CONTAINERS))
def test_an_existing_store_is_refused_or_replaced(container, ours, inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    other = dict(SMALL_ARGUMENTS, dataset_id="another", gene_identifiers=["G1", "G2"])
    old = write_ours(out, container, given("dense", inputs), other)
    before = digest(old)
    with pytest.raises(FileExistsError, match="force=True"):
        write_ours(out, container, given("backed-csr", inputs), SMALL_ARGUMENTS)
    assert digest(old) == before
    with monkeypatch.context() as patch:  # a failed replacement keeps the old store
        Interrupted(patch, after=1)
        with pytest.raises(KeyboardInterrupt):
            write_ours(out, container, given("backed-csr", inputs), SMALL_ARGUMENTS, force=True)
    assert digest(old) == before
    new = write_ours(out, container, given("backed-csr", inputs), SMALL_ARGUMENTS, force=True)
    assert new == old and digest(new) == digest(ours("backed-csr", container))
    assert [p.name for p in out.iterdir()] == [new.name]
