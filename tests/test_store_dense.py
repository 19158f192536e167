"""A dense X written dense, in strips read by tiles (sinks/anndata/dense)."""

from __future__ import annotations

import operator
import pickle
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest

from cellucid.sinks.anndata import dense
from cellucid.sinks.anndata.x_values import ExpressionValuesError


def run_serial(tasks):
    return [task() for task in tasks]


def run_threads(tasks):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(operator.call, tasks))


class Reader:
    """A ReadStrip over an array that records what it was asked for."""

    def __init__(self, matrix):
        self.matrix = matrix
        self.calls = []

    def __call__(self, start, stop, columns):
        assert columns.dtype == np.int64 and (np.diff(columns) > 0).all()
        self.calls.append((start, stop, len(columns)))
        return self.matrix[start:stop][:, columns]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 values and tiles of 2,000 bytes, so small inputs have many of each."""
    monkeypatch.setattr(dense, "WHOLE_CHUNK_ELEMENTS", 64)
    monkeypatch.setattr(dense, "TILE_BYTES", 2000)


def assemble(plan, chunks):
    out = np.full(plan.shape, np.nan, dtype=plan.dtype)
    rows, cols = plan.chunks
    seen = set()
    for path, (band, strip), values in chunks:
        assert path == "X" and (band, strip) not in seen
        seen.add((band, strip))
        assert values.flags.c_contiguous and values.dtype == plan.dtype
        r0, c0 = band * rows, strip * cols
        assert values.shape == (min(rows, plan.shape[0] - r0), min(cols, plan.shape[1] - c0))
        out[r0 : r0 + values.shape[0], c0 : c0 + values.shape[1]] = values
    assert len(seen) == -(-plan.shape[0] // rows) * -(-plan.shape[1] // cols)
    return out


def test_strip_chunks_follow_upstream():
    assert dense.strip_chunks(700, 765) == (700, 374)
    assert dense.strip_chunks(700, 100) == (700, 100)
    assert dense.strip_chunks(300_000, 5) == (2**18, 1)
    assert dense.strip_chunks(10, 0) == (10, 1)


@pytest.mark.parametrize("n_cells", [150, 40, 1])
@pytest.mark.parametrize("order", ["all", "shuffled-subset"])
def test_chunks_equal_the_matrix(small_chunks, n_cells, order):
    rng = np.random.default_rng(1)
    matrix = rng.integers(-5, 9, (n_cells, 23)).astype(np.float64) / 4
    columns = np.arange(23) if order == "all" else rng.permutation(23)[:15]
    reader = Reader(matrix)
    plan = dense.scan_dense(n_cells, 23, columns, reader, run_serial)
    assert plan.dtype == np.float32 and plan.dense_x().shape == (n_cells, len(columns))
    out = assemble(plan, dense.iter_dense_chunks(plan, reader))
    np.testing.assert_array_equal(out, matrix[:, columns].astype(np.float32))
    # no read is larger than a tile (counted at 8 bytes a value)
    assert reader.calls and all((stop - start) * n * 8 <= 2000 for start, stop, n in reader.calls)


def test_tasks_pickle_and_emit(small_chunks):
    rng = np.random.default_rng(2)
    matrix = rng.random((100, 12))
    columns = np.array([11, 3, 4, 0, 7])
    reader = partial(dense.read_dense_rows, matrix)
    plan = dense.scan_dense(100, 12, columns, reader, run_threads)
    tasks = dense.dense_tasks(plan, reader)
    assert len(tasks) == len(plan.tiles) > 1
    listed = [
        chunk for chunks in run_threads(pickle.loads(pickle.dumps(tasks))) for chunk in chunks
    ]
    expected = matrix[:, columns].astype(np.float32)
    np.testing.assert_array_equal(assemble(plan, listed), expected)
    emitted = []
    counts = run_serial(dense.dense_tasks(plan, reader, emit=lambda *chunk: emitted.append(chunk)))
    assert sum(counts) == len(listed)
    np.testing.assert_array_equal(assemble(plan, emitted), expected)


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        (np.nan, "nan"),
        (np.inf, "positive_infinity"),
        (-np.inf, "negative_infinity"),
        (-1e39, "beyond_float32"),
    ],
)
def test_refused_values_in_any_gene(small_chunks, value, attribute):
    matrix = np.ones((90, 10))
    matrix[70, 9] = value  # gene 9 is not exported: still refused, as upstream does
    matrix[80, 2] = value
    with pytest.raises(ExpressionValuesError) as caught:
        dense.scan_dense(90, 10, np.array([2, 0]), Reader(matrix), run_threads)
    faults = caught.value.faults
    assert getattr(faults, attribute) == 2 and faults.count == 2 and faults.total == 900
    assert (faults.cell, faults.gene) == (70, 9)


@pytest.mark.parametrize(
    ("dtype", "big", "exported", "stored"),
    [
        (np.int64, 2**24 + 1, True, np.float64),
        (np.int64, 2**24, True, np.float32),
        (np.float64, 2.0**25, True, np.float64),
        (np.float64, 2.0**25 + 0.5, True, np.float32),
        (np.float32, 2.0**25, True, np.float32),
        (np.int64, 2**24 + 1, False, np.float32),
        (np.bool_, True, True, np.float32),
    ],
)
def test_stored_type(small_chunks, dtype, big, exported, stored):
    matrix = np.zeros((50, 6), dtype=dtype)
    matrix[::3, 1] = 1
    matrix[20, 4] = big
    columns = np.array([4, 1]) if exported else np.array([1, 0])
    reader = Reader(matrix)
    plan = dense.scan_dense(50, 6, columns, reader, run_serial)
    assert plan.dtype == stored
    out = assemble(plan, dense.iter_dense_chunks(plan, reader))
    np.testing.assert_array_equal(out, matrix[:, columns].astype(stored))


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="real numbers"):
        dense.scan_dense(2, 2, [0], Reader(np.ones((2, 2), dtype=complex)), run_serial)
    with pytest.raises(ValueError, match="columns"):
        dense.scan_dense(2, 2, [0, 0], Reader(np.ones((2, 2))), run_serial)


def test_no_exported_genes():
    plan = dense.scan_dense(5, 3, np.array([], dtype=np.int64), Reader(np.ones((5, 3))), run_serial)
    assert plan.shape == (5, 0) and plan.tiles == ()


def test_same_bytes_on_every_run(small_chunks):
    matrix = np.random.default_rng(3).random((120, 9))
    runs = []
    for _ in range(2):
        reader = Reader(matrix)
        plan = dense.scan_dense(120, 9, np.arange(9)[::-1].copy(), reader, run_threads)
        runs.append([(i, v.tobytes()) for _, i, v in dense.iter_dense_chunks(plan, reader)])
    assert runs[0] == runs[1]


_UPSTREAM_X = """
import sys, numpy as np
from cellucid.prepare_data._inputs import resolve_expression, stored_expression
matrix = np.load(sys.argv[1])
columns = np.load(sys.argv[2])
np.save(sys.argv[3], stored_expression(resolve_expression(matrix, matrix.shape[0])[:, columns]))
"""


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint16])
def test_same_x_as_upstream(tmp_path, dtype):
    import subprocess

    from .reference095 import reference_python

    python = reference_python()
    if python is None:
        pytest.skip("upstream cellucid 0.9.5 not found")
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, 2**16, (70, 30)).astype(dtype)
    columns = rng.permutation(30)[:20]
    if dtype == np.float64:
        matrix[3, columns[4]] = 2.0**26  # whole numbers beyond 2^24: float64
    np.save(tmp_path / "x.npy", matrix)
    np.save(tmp_path / "columns.npy", columns)
    subprocess.run(
        [
            python,
            "-I",
            "-c",
            _UPSTREAM_X,
            *(str(tmp_path / f) for f in ("x.npy", "columns.npy", "theirs.npy")),
        ],
        check=True,
        timeout=300,
    )
    theirs = np.load(tmp_path / "theirs.npy")
    reader = Reader(matrix)
    plan = dense.scan_dense(70, 30, columns, reader, run_serial)
    assert plan.dtype == theirs.dtype
    np.testing.assert_array_equal(assemble(plan, dense.iter_dense_chunks(plan, reader)), theirs)
