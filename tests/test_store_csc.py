"""Streaming a sparse X into gene-major chunks: scan, spill, plan, assembly (sinks/anndata/csc)."""

from __future__ import annotations

import json
import operator
import pickle
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
from scipy import sparse

from cellucid.sinks.anndata import csc
from cellucid.sinks.anndata.spill import SpillError, read_spill, remove_spill, spill_path
from cellucid.sinks.anndata.x_values import ExpressionValuesError


def run_serial(tasks):
    return [task() for task in tasks]


def run_threads(tasks):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(operator.call, tasks))


def tricky_csr(
    seed: int,
    n_cells: int,
    n_genes: int,
    *,
    per_row: int = 6,
    dtype=np.float64,
    empty_rows: range = range(0),
    empty_genes: tuple[int, ...] = (),
    whole: bool = False,
) -> sparse.csr_matrix:
    """A CSR matrix as inputs come: duplicates, unsorted rows, stored zeros, empty parts."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 2 * per_row + 1, n_cells)
    lengths[list(empty_rows)] = 0
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    allowed = np.setdiff1d(np.arange(n_genes), empty_genes)
    # few columns per row, so duplicates within a row are common
    indices = rng.choice(allowed, int(indptr[-1]))
    values = rng.integers(-3, 6, int(indptr[-1])).astype(np.float64)
    if np.dtype(dtype).kind == "f" and not whole:
        values += rng.choice([0.0, 0.5, 0.25], values.size)
    return sparse.csr_matrix((values.astype(dtype), indices, indptr), shape=(n_cells, n_genes))


def reference(matrix, columns, dtype) -> sparse.csc_matrix:
    """What upstream 0.9.5 stores: canonical CSC, the columns chosen, the stored type."""
    whole = sparse.csc_matrix(matrix, copy=True)
    whole.sum_duplicates()
    whole.eliminate_zeros()
    chosen = sparse.csc_matrix(whole[:, columns])
    stored = sparse.csc_matrix(
        (chosen.data.astype(dtype), chosen.indices.copy(), chosen.indptr.copy()),
        shape=chosen.shape,
    )
    stored.eliminate_zeros()
    return stored


def stream(
    matrix, columns, tmp_path, *, block_rows, chunk=csc.CHUNK_ELEMENTS, group=None, run=run_serial
):
    spill = tmp_path / "spill"
    scan = csc.scan_sparse(
        matrix.shape[0],
        matrix.shape[1],
        columns,
        partial(csc.matrix_rows, matrix),
        spill,
        run,
        block_rows=block_rows,
    )
    plan = csc.plan_assembly(scan, chunk_elements=chunk, group_bytes=group or csc.GROUP_BYTES)
    return scan, plan


def gather(chunks, plan):
    """The assembled X/data and X/indices, every chunk checked for its index and length."""
    found = {"X/data": {}, "X/indices": {}}
    for path, index, values in chunks:
        assert index not in found[path], (path, index)
        found[path][index] = values.copy()
    size = plan.layout.chunk_elements
    for path in found:
        assert sorted(found[path]) == [(k,) for k in range(plan.n_chunks)]
        for (k,), values in found[path].items():
            assert len(values) == min(size, plan.nnz - k * size)
    data = [found["X/data"][(k,)] for k in range(plan.n_chunks)]
    indices = [found["X/indices"][(k,)] for k in range(plan.n_chunks)]
    dtype, index = np.dtype(plan.layout.stored_dtype), np.dtype(plan.layout.index_dtype)
    return (
        np.concatenate(data) if data else np.empty(0, dtype),
        np.concatenate(indices) if indices else np.empty(0, index),
    )


def assert_matches(scan, plan, matrix, columns, chunks=None):
    expected = reference(matrix, columns, scan.dtype)
    data, indices = gather(csc.iter_chunks(plan) if chunks is None else chunks, plan)
    np.testing.assert_array_equal(scan.indptr, expected.indptr)
    assert data.dtype == scan.dtype and indices.dtype == np.int32
    np.testing.assert_array_equal(data, expected.data)
    np.testing.assert_array_equal(indices, expected.indices)
    x = scan.sparse_x()
    assert x.shape == expected.shape and x.nnz == expected.nnz and x.dtype == scan.dtype


# --- assembled chunks equal scipy's CSC ------------------------------------------------


COLUMN_CHOICES = {
    "all": lambda n: np.arange(n),
    "shuffled-subset": lambda n: np.random.default_rng(5).permutation(n)[: n // 2],
    "reversed": lambda n: np.arange(n)[::-1].copy(),
    "one": lambda n: np.array([n // 3]),
}


@pytest.mark.parametrize("columns", sorted(COLUMN_CHOICES))
@pytest.mark.parametrize(
    ("block_rows", "chunk", "group"),
    [(37, 16, 16 * 12), (64, 100, 100 * 8 * 3), (1000, csc.CHUNK_ELEMENTS, None), (3, 7, 1)],
)
@pytest.mark.parametrize("canonical", [False, True])
def test_chunks_equal_scipy_csc(tmp_path, columns, block_rows, chunk, group, canonical):
    # 301 cells: not a multiple of any block size; rows 40..139 empty (whole empty blocks)
    matrix = tricky_csr(1, 301, 40, empty_rows=range(40, 140), empty_genes=(3, 17))
    if canonical:
        # sorted unique columns, stored zeros kept: the compiled path
        matrix.sum_duplicates()
        assert matrix.has_canonical_format and (matrix.data == 0).any()
    chosen = COLUMN_CHOICES[columns](40)
    scan, plan = stream(matrix, chosen, tmp_path, block_rows=block_rows, chunk=chunk, group=group)
    assert scan.counts.shape == (-(-301 // block_rows), len(chosen))
    assert_matches(scan, plan, matrix, chosen)


@pytest.mark.parametrize("canonical", [False, True])
def test_many_genes(tmp_path, canonical):
    matrix = tricky_csr(17, 500, 1300, per_row=200)
    if canonical:
        matrix.sum_duplicates()
    columns = np.random.default_rng(6).permutation(1300)[:1000]
    scan, plan = stream(matrix, columns, tmp_path, block_rows=128, chunk=1000)
    assert_matches(scan, plan, matrix, columns)


def test_groups_smaller_than_a_gene(tmp_path):
    # one gene of ~2000 values over blocks of 100 rows; groups of one 16-value chunk
    rng = np.random.default_rng(2)
    dense = np.where(rng.random((2500, 5)) < [0.9, 0.0, 0.05, 0.8, 0.01], 1.5, 0.0)
    matrix = sparse.csr_matrix(dense)
    scan, plan = stream(matrix, np.arange(5), tmp_path, block_rows=100, chunk=16, group=1)
    assert len(plan.groups) == plan.n_chunks > 100
    spans = [len(group.gene_starts) for group in plan.groups]
    assert max(spans) >= 2 and min(spans) == 1
    assert_matches(scan, plan, matrix, np.arange(5))


def test_input_kinds_and_the_readers_arrays(tmp_path):
    matrix = tricky_csr(3, 120, 9)
    columns = np.array([8, 0, 4])
    for kind, block in {
        "csr": matrix,
        "csc": sparse.csc_matrix(matrix),  # not canonical: summing must not touch the input
        "coo": matrix.tocoo(),
        "csr_array": sparse.csr_array(matrix),
        "dense": matrix.toarray(),
    }.items():
        before = pickle.dumps(block)
        reader = partial(_rows_as, block)
        scan = csc.scan_sparse(120, 9, columns, reader, tmp_path / kind, run_serial, block_rows=50)
        plan = csc.plan_assembly(scan, chunk_elements=32)
        assert_matches(scan, plan, matrix, columns)
        assert pickle.dumps(block) == before, kind


def _rows_as(block, start, stop):
    if isinstance(block, np.ndarray):
        return block[start:stop]
    return sparse.csr_matrix(block)[start:stop].asformat(block.format)


def test_duplicates_summed_in_stored_order(tmp_path):
    # three duplicates: (1e16 + 1) + 1 differs from 1e16 + (1 + 1) in float64
    matrix = sparse.csr_matrix(
        (np.array([1e16, 1.0, 1.0, 2.0, -2.0, 0.0]), np.array([1, 1, 1, 0, 0, 2]), [0, 3, 6]),
        shape=(2, 3),
    )
    scan, plan = stream(matrix, np.arange(3), tmp_path, block_rows=1)
    assert_matches(scan, plan, matrix, np.arange(3))
    # the cancelling pair and the stored zero are no values
    assert scan.nnz == 1


def test_no_genes_and_no_values(tmp_path):
    matrix = sparse.csr_matrix((50, 6))
    scan, plan = stream(matrix, np.arange(6), tmp_path, block_rows=16)
    assert scan.nnz == 0 and plan.groups == () and list(csc.iter_chunks(plan)) == []
    assert scan.dtype == np.float32
    scan, plan = stream(
        tricky_csr(4, 50, 6), np.array([], dtype=np.int64), tmp_path / "none", block_rows=16
    )
    assert scan.n_genes == 0 and scan.indptr.tolist() == [0] and plan.n_chunks == 0


def test_bad_columns_are_refused(tmp_path):
    matrix = tricky_csr(4, 10, 6)
    for columns in ([0, 0], [6], [-1], [[1]]):
        with pytest.raises(ValueError, match="columns"):
            stream(matrix, np.asarray(columns), tmp_path, block_rows=4)


# --- value rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [(np.nan, "1 NaN"), (np.inf, "1 +Inf"), (-np.inf, "1 -Inf"), (1e39, "1 beyond the float32")],
)
def test_refused_values(tmp_path, value, kind):
    matrix = tricky_csr(6, 200, 12).tolil()
    matrix[150, 7] = value
    matrix = matrix.tocsr()
    with pytest.raises(ExpressionValuesError, match=re.escape(kind)) as caught:
        stream(matrix, np.arange(12), tmp_path, block_rows=64)
    error = caught.value
    assert (error.count, error.cell, error.gene) == (1, 150, 7)
    assert "cell 150" in str(error) and "gene 7" in str(error)


def test_refusal_counts_every_gene_and_names_the_first_cell(tmp_path):
    matrix = tricky_csr(7, 300, 12).tolil()
    for row, column, value in [(250, 2, np.nan), (90, 11, np.inf), (90, 5, -1e300)]:
        matrix[row, column] = value
    matrix = matrix.tocsr()
    # gene 11 and 5 are not exported: still refused (upstream checks the whole input)
    with pytest.raises(ExpressionValuesError) as caught:
        stream(matrix, np.array([2, 0]), tmp_path, block_rows=64)
    faults = caught.value.faults
    assert (faults.nan, faults.positive_infinity, faults.beyond_float32) == (1, 1, 1)
    assert (faults.cell, faults.gene) == (90, 5)
    assert faults.total == reference(matrix, np.arange(12), np.float64).nnz


def test_refusal_sees_canonical_values(tmp_path):
    # 3e38 + 3e38 overflows float32 once summed; 1e39 - 1e39 is no value at all
    rows = (np.array([3e38, 3e38]), np.array([1, 1]), [0, 2])
    with pytest.raises(ExpressionValuesError):
        stream(sparse.csr_matrix(rows, shape=(1, 2)), np.arange(2), tmp_path, block_rows=1)
    cancel = (np.array([1e39, -1e39, 2.0]), np.array([1, 1, 0]), [0, 3])
    scan, _ = stream(
        sparse.csr_matrix(cancel, shape=(1, 2)), np.arange(2), tmp_path / "b", block_rows=1
    )
    assert scan.nnz == 1


def test_complex_values_are_refused(tmp_path):
    matrix = sparse.csr_matrix(np.array([[1 + 1j, 0]]))
    with pytest.raises(TypeError, match="real numbers"):
        stream(matrix, np.arange(2), tmp_path, block_rows=1)


BIG = 2**24 + 1


@pytest.mark.parametrize(
    ("dtype", "big", "exported", "stored"),
    [
        (np.int64, BIG, True, np.float64),
        (np.int32, 2**24, True, np.float32),  # 2^24 itself is exact in float32
        (np.float64, 2.0**25, True, np.float64),
        (np.float64, 2.0**25 + 0.5, True, np.float32),  # not whole: float32
        (np.float32, 2.0**25, True, np.float32),  # float32 input never widens
        (np.int64, -BIG, True, np.float64),
        (np.int64, BIG, False, np.float32),  # only the exported genes decide
    ],
)
def test_stored_type(tmp_path, dtype, big, exported, stored):
    matrix = tricky_csr(8, 90, 6, dtype=dtype, whole=True).tolil()
    matrix[33, 4] = big
    matrix = sparse.csr_matrix(matrix, dtype=dtype)
    columns = np.array([4, 1, 0]) if exported else np.array([1, 0])
    scan, plan = stream(matrix, columns, tmp_path, block_rows=20, chunk=50)
    assert scan.dtype == stored
    assert_matches(scan, plan, matrix, columns)


@pytest.mark.parametrize("canonical", [False, True])
@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint64, np.float32])
def test_value_types(tmp_path, dtype, canonical):
    # int8 duplicates wrap around as scipy sums them; booleans sum as "or"
    rng = np.random.default_rng(18)
    values = rng.integers(0, 100, 600).astype(dtype)
    matrix = sparse.csr_matrix(
        (values, rng.integers(0, 7, 600), np.arange(0, 601, 10)), shape=(60, 7)
    )
    if canonical:
        matrix.sum_duplicates()
    columns = np.array([6, 0, 3])
    scan, plan = stream(matrix, columns, tmp_path, block_rows=16, chunk=10)
    assert scan.dtype == np.float32
    assert_matches(scan, plan, matrix, columns)


def test_values_below_float32_are_dropped(tmp_path):
    matrix = sparse.csr_matrix(
        (np.array([1e-50, 3.0, -1e-46, 1e-40]), np.array([0, 1, 0, 2]), [0, 2, 4]), shape=(2, 3)
    )
    scan, plan = stream(matrix, np.arange(3), tmp_path, block_rows=1)
    assert scan.dtype == np.float32 and scan.indptr.tolist() == [0, 0, 1, 2]
    assert_matches(scan, plan, matrix, np.arange(3))


# --- plan and placement alone ---------------------------------------------------------------


def fake_scan(counts: np.ndarray) -> csc.ScanResult:
    counts = np.asarray(counts, dtype=np.int32)
    indptr = np.concatenate([[0], np.cumsum(counts.sum(axis=0))]).astype(np.int64)
    return csc.ScanResult(
        n_cells=10 * counts.shape[0],
        n_genes=counts.shape[1],
        indptr=indptr,
        dtype=np.dtype(np.float32),
        block_rows=10,
        counts=counts,
        value_dtypes=("<f8",) * counts.shape[0],
        spill_dir="/nowhere",
    )


def placement(group, block, before):
    """The group positions of each entry a block gives it, from its runs."""
    start, starts, lengths = csc.block_runs(group, block, before)
    destinations = [np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)]
    return start, np.concatenate(destinations or [np.empty(0, np.int64)]).astype(np.int64)


@pytest.mark.parametrize("per_group", [1, 2, 5])
def test_plan_covers_every_position_once(per_group):
    rng = np.random.default_rng(9)
    counts = rng.integers(0, 6, (4, 23)) * (rng.random((4, 23)) < 0.7)
    scan = fake_scan(counts)
    plan = csc.plan_assembly(scan, chunk_elements=8, group_bytes=8 * 8 * per_group)
    assert plan.groups[0].start == 0 and plan.groups[-1].stop == scan.nnz
    landed = np.zeros(scan.nnz, dtype=np.int64)
    for previous, group in zip(plan.groups, plan.groups[1:], strict=False):
        assert group.start == previous.stop and group.start % 8 == 0
    for group in plan.groups:
        assert group.first_chunk * 8 == group.start
        assert group.stop - group.start <= 8 * per_group
        first = group.first_gene
        assert scan.indptr[first] <= group.start < scan.indptr[first + 1]
        last = first + len(group.gene_starts) - 1
        assert scan.indptr[last] < group.stop <= scan.indptr[last + 1]
        before = np.zeros(len(group.gene_starts), dtype=np.int64)
        for block in range(4):
            start, destinations = placement(group, block, before)
            before += group.counts[block]
            landed[group.start + destinations] += 1
            # the spill range is the block's own entries
            assert 0 <= start and start + destinations.size <= counts[block].sum()
    assert (landed == 1).all()


def test_placement_orders_blocks_within_a_gene():
    # one gene: block 0 holds 3 values, block 1 none, block 2 holds 2
    scan = fake_scan(np.array([[3], [0], [2]]))
    (group,) = csc.plan_assembly(scan, chunk_elements=4, group_bytes=10**6).groups
    before = np.zeros(1, dtype=np.int64)
    placed = []
    for block in range(3):
        placed.append(placement(group, block, before))
        before += group.counts[block]
    assert [(s, d.tolist()) for s, d in placed] == [(0, [0, 1, 2]), (0, []), (0, [3, 4])]
    # a group starting inside the gene takes the later entries of the first block
    groups = csc.plan_assembly(scan, chunk_elements=2, group_bytes=1).groups
    second = groups[1]
    start, destinations = placement(second, 0, np.zeros(1, dtype=np.int64))
    assert (start, destinations.tolist()) == (2, [0])


def test_plan_is_pure_and_pickles():
    scan = fake_scan(np.ones((3, 5)))
    plan = csc.plan_assembly(scan, chunk_elements=4)
    again = pickle.loads(pickle.dumps(plan))
    assert again.layout == plan.layout and len(again.groups) == len(plan.groups)
    assert plan.layout.entries == (5, 5, 5) and plan.layout.index_dtype == "<i4"


def test_block_rows_from_the_data():
    assert csc.choose_block_rows(1000, 4) == 2**12  # 2^25 / 8000 -> 4,194 -> 4,096
    assert csc.choose_block_rows(0, 4) == csc.MAX_BLOCK_ROWS
    assert csc.choose_block_rows(10**7, 8) == csc.MIN_BLOCK_ROWS
    matrix = sparse.random(5000, 100, density=0.1, format="csr", random_state=0)
    rows = csc.sample_block_rows(partial(csc.matrix_rows, matrix), 5000)
    assert rows == csc.choose_block_rows(matrix[:4096].nnz / 4096, 8)


# --- tasks, executors, determinism, memory ------------------------------------------------------


def test_threads_tasks_and_emit_give_the_same_chunks(tmp_path):
    matrix = tricky_csr(10, 500, 30)
    columns = np.random.default_rng(1).permutation(30)[:20]
    scan, plan = stream(
        matrix, columns, tmp_path / "a", block_rows=64, chunk=64, group=64 * 16, run=run_threads
    )
    pickle.dumps(csc.assembly_tasks(plan))
    listed = [chunk for chunks in run_threads(csc.assembly_tasks(plan)) for chunk in chunks]
    assert_matches(scan, plan, matrix, columns, listed)
    emitted = []
    counts = run_serial(csc.assembly_tasks(plan, emit=_Collect(emitted)))
    assert sum(counts) == 2 * plan.n_chunks
    assert_matches(scan, plan, matrix, columns, emitted)


class _Collect:
    def __init__(self, into):
        self.into = into

    def __call__(self, path, index, values):
        self.into.append((path, index, values.copy()))


def test_same_bytes_on_every_run(tmp_path):
    matrix = tricky_csr(11, 700, 25, dtype=np.float32)
    runs = []
    for attempt in range(2):
        scan, plan = stream(
            matrix,
            np.arange(25)[::-1].copy(),
            tmp_path / str(attempt),
            block_rows=128,
            chunk=100,
            run=run_threads,
        )
        spills = [spill_path(scan.spill_dir, b).read_bytes() for b in range(scan.counts.shape[0])]
        chunks = [(p, i, v.tobytes()) for p, i, v in csc.iter_chunks(plan)]
        runs.append((scan.indptr.tobytes(), spills, chunks))
    assert runs[0] == runs[1]


def test_spill_reads_are_checked(tmp_path):
    matrix = tricky_csr(12, 40, 5)
    scan, plan = stream(matrix, np.arange(5), tmp_path, block_rows=16)
    entries = plan.layout.entries[0]
    row_dtype = plan.layout.row_dtype
    assert np.dtype(row_dtype) == np.uint16
    values, rows = read_spill(scan.spill_dir, 0, scan.value_dtypes[0], row_dtype, entries, 1, 3)
    assert len(values) == len(rows) == 2
    with pytest.raises(SpillError, match="bytes"):
        read_spill(scan.spill_dir, 0, scan.value_dtypes[0], row_dtype, entries + 1, 0, 1)
    remove_spill(scan.spill_dir)
    with pytest.raises(SpillError, match="missing"):
        list(csc.iter_chunks(plan))


_PEAK = """
import json, sys, tracemalloc
from functools import partial
from pathlib import Path
import numpy as np
from scipy import sparse
from cellucid.sinks.anndata import csc

def peak(folder, n_cells):
    rng = np.random.default_rng(13)
    matrix = sparse.random(
        n_cells, 400, density=0.05, format="csr", dtype=np.float32, random_state=rng
    )
    matrix.data[:] = rng.integers(1, 9, matrix.nnz)
    size = matrix.data.nbytes + matrix.indices.nbytes
    run = lambda tasks: [task() for task in tasks]
    tracemalloc.start()
    try:
        scan = csc.scan_sparse(
            n_cells, 400, np.arange(400), partial(csc.matrix_rows, matrix), folder, run,
            block_rows=1024,
        )
        for _ in csc.iter_chunks(csc.plan_assembly(scan, group_bytes=2**19)):
            pass
        found = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return found, size

root = Path(sys.argv[1])
peak(root / "warm", 2_000)  # compiled kernels loaded before anything is measured
print(json.dumps([peak(root / "small", 20_000), peak(root / "large", 80_000)]))
"""


def test_memory_stays_flat(tmp_path):
    # a process of its own: tracemalloc counts every thread's allocations, and threads that
    # other tests leave running (servers, exports in the background) would be counted too
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(tmp_path)], capture_output=True, text=True, check=True
    )
    (small, _), (large, large_size) = json.loads(done.stdout)
    # the large matrix is 4x the small one; one task holds a block or a group, not X
    assert large < 0.2 * large_size
    assert large < 1.5 * small


# --- a dask.distributed cluster: the tasks pickle and give the same chunks --------------------


def test_local_cluster_gives_the_same_chunks(tmp_path):
    distributed = pytest.importorskip("distributed")
    matrix = tricky_csr(14, 400, 20)
    columns = np.random.default_rng(3).permutation(20)[:15]
    scan, plan = stream(
        matrix,
        columns,
        tmp_path / "threads",
        block_rows=50,
        chunk=40,
        group=40 * 24,
        run=run_threads,
    )
    expected = [(p, i, v.tobytes()) for p, i, v in csc.iter_chunks(plan)]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):

        def run_cluster(tasks):
            return client.gather(client.map(operator.call, tasks, pure=False))

        on_cluster, cluster_plan = stream(
            matrix,
            columns,
            tmp_path / "cluster",
            block_rows=50,
            chunk=40,
            group=40 * 24,
            run=run_cluster,
        )
        chunks = [c for chunks in run_cluster(csc.assembly_tasks(cluster_plan)) for c in chunks]
    assert np.array_equal(on_cluster.indptr, scan.indptr)
    assert [(p, i, v.tobytes()) for p, i, v in chunks] == expected


# --- upstream 0.9.5's own functions on the same input ---------------------------------------

_UPSTREAM_X = """
import sys, numpy as np
from scipy import sparse
from cellucid.prepare_data._inputs import resolve_expression, stored_expression
matrix = sparse.load_npz(sys.argv[1])
columns = np.load(sys.argv[2])
chosen = sparse.csc_matrix(resolve_expression(matrix, matrix.shape[0])[:, columns])
x = stored_expression(chosen)
np.savez(sys.argv[3], data=x.data, indices=x.indices, indptr=x.indptr)
"""


@pytest.mark.parametrize(
    ("dtype", "whole"),
    [(np.float64, False), (np.float64, True), (np.int64, True), (np.float32, True)],
)
def test_same_x_as_upstream(tmp_path, dtype, whole):
    import subprocess

    from .reference095 import reference_python

    python = reference_python()
    if python is None:
        pytest.skip("upstream cellucid 0.9.5 not found")
    matrix = tricky_csr(
        15, 400, 30, dtype=dtype, empty_rows=range(100, 180), empty_genes=(4,), whole=whole
    )
    columns = np.random.default_rng(4).permutation(30)[:24]
    matrix = matrix.tolil()
    # a whole-number count beyond float32: float64 unless the input is float32
    matrix[7, columns[5]] = 2**24 + 3
    matrix = sparse.csr_matrix(matrix, dtype=dtype)
    # duplicates again, as tolil() summed them
    matrix = sparse.vstack([matrix, tricky_csr(16, 50, 30, dtype=dtype, whole=whole)], format="csr")
    sparse.save_npz(tmp_path / "x.npz", matrix, compressed=False)
    np.save(tmp_path / "columns.npy", columns)
    subprocess.run(
        [
            python,
            "-I",
            "-c",
            _UPSTREAM_X,
            str(tmp_path / "x.npz"),
            str(tmp_path / "columns.npy"),
            str(tmp_path / "theirs.npz"),
        ],
        check=True,
        timeout=300,
    )
    theirs = np.load(tmp_path / "theirs.npz")
    scan, plan = stream(matrix, columns, tmp_path, block_rows=64, chunk=100)
    data, indices = gather(csc.iter_chunks(plan), plan)
    assert (
        data.dtype
        == theirs["data"].dtype
        == (np.float64 if whole and dtype != np.float32 else np.float32)
    )
    np.testing.assert_array_equal(data, theirs["data"])
    np.testing.assert_array_equal(indices, theirs["indices"])
    np.testing.assert_array_equal(scan.indptr, theirs["indptr"])
