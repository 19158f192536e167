"""The sparse DEFLATE encoder: every piece and file decodes with zlib/gzip to the column."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare
from cellucid.engine import block_grid
from cellucid.engine.jit import njit_cached
from cellucid.sinks.folder.format.gzip_pieces import MemberAssembler, compress_piece
from cellucid.sinks.folder.format.huffman import code_lengths
from cellucid.sinks.folder.format.quantize import quantize_rows
from cellucid.sinks.folder.format.sparse_deflate import compress_column_piece, deflate_column

from .decode import assert_single_member, read_json

SRC = Path(__file__).resolve().parents[1] / "src"
RUNS = [1, 2, 3, 4, 5, 257, 258, 259, 260, 261, 262, 516, 517, 518, 777]


def random_column(seed: int, dtype: str, background: float | int) -> np.ndarray:
    """Alternating background runs (lengths from RUNS or random) and other items."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(rng.integers(1, 30)):
        run = int(rng.choice(RUNS)) if rng.random() < 0.7 else int(rng.integers(0, 2000))
        parts.append(np.full(run, background, dtype=dtype))
        n = int(rng.integers(0, 6))
        if dtype == "float32":
            other = rng.lognormal(0, 2, n).astype(dtype)
            other[rng.random(n) < 0.2] = np.nan
            other[rng.random(n) < 0.1] = -0.0
        else:
            top = np.iinfo(dtype).max
            other = rng.integers(0, top + 1, n).astype(dtype)
            other[rng.random(n) < 0.2] = top  # the NaN marker code
        parts.append(other)
    if rng.random() < 0.5:
        parts.reverse()  # columns that start with other items, and end in background
    return np.concatenate(parts).astype(dtype)


def inflate_piece(data: bytes) -> bytes:
    """Decode a raw piece, requiring it to be byte-aligned, complete and not final."""
    decoder = zlib.decompressobj(-15)
    out = decoder.decompress(data)
    assert not decoder.eof, "a piece must not be the final block"
    assert decoder.unconsumed_tail == b""
    tail = decoder.decompress(b"\x03\x00")  # a final empty block right after the piece
    assert decoder.eof and decoder.unused_data == b"", "piece did not end byte-aligned"
    return out + tail


def gzip_file(pieces: list) -> bytes:
    assembler = MemberAssembler(compressed=True)
    parts = [assembler.start()]
    parts += [bytes(assembler.add(p.data, p.crc32, p.raw_length)) for p in pieces]
    return b"".join(parts) + assembler.finish()


def decode_file(raw: bytes) -> bytes:
    assert_single_member(raw, "test")
    return gzip.decompress(raw)


BACKGROUNDS = [("uint8", 0), ("uint8", 3), ("uint16", 0), ("uint16", 0x0107)]
BACKGROUNDS += [("uint16", 0x4242), ("float32", 0.0), ("float32", 1.5)]


@pytest.mark.parametrize(("dtype", "background"), BACKGROUNDS)
def test_generated_columns_round_trip(dtype, background):
    for seed in range(25):
        column = random_column(seed, dtype, background)
        data, others = deflate_column(column, background)
        assert inflate_piece(data) == column.tobytes()
        as_bits = column.view(f"u{column.itemsize}")
        assert others == int(
            np.count_nonzero(as_bits != np.array(background, dtype).view(f"u{column.itemsize}"))
        )
        # the file made of this column cut into pieces is one gzip member of the column
        cuts = sorted(np.random.default_rng(seed).integers(0, len(column), 3))
        pieces = [compress_column_piece(part, background, 6) for part in np.split(column, cuts)]
        assert decode_file(gzip_file(pieces)) == column.tobytes()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_edge_columns(dtype):
    background = np.array(0, dtype)
    other = np.array(np.nan if dtype == "float32" else np.iinfo(dtype).max, dtype)
    columns = {
        "empty": np.zeros(0, dtype),
        "one background cell": np.zeros(1, dtype),
        "one other cell": np.full(1, other),
        "all background": np.zeros(70_000, dtype),
        "all other": np.full(5000, other),
        "every cell non-zero": np.arange(1, 3001).astype(dtype),
        "single non-zero": np.where(np.arange(100_000) == 54_321, other, background),
        "single non-zero first": np.where(np.arange(600) == 0, other, background),
    }
    for name, column in columns.items():
        data, _ = deflate_column(column, background)
        assert inflate_piece(data) == column.tobytes(), name
        for level in range(1, 10):
            piece = compress_column_piece(column, background, level)
            assert piece.raw_length == column.nbytes
            assert piece.crc32 == zlib.crc32(column.tobytes())
            assert decode_file(gzip_file([piece])) == column.tobytes(), (name, level)


def test_long_codes_are_limited_to_15_bits():
    # Fibonacci counts make an optimal Huffman tree as deep as there are symbols
    fibonacci = [1, 1]
    while len(fibonacci) < 40:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    freqs = np.zeros(286, dtype=np.int64)
    freqs[:40] = fibonacci
    lengths = code_lengths(freqs, 15).astype(np.int64)
    used = lengths[freqs > 0]
    assert used.max() == 15 and (lengths[freqs == 0] == 0).all()
    assert sum(2.0**-used) == 1.0  # complete code
    # the most frequent symbol has the shortest code
    assert lengths[39] == used.min()
    # a column with such skewed byte counts still decodes (its 15-bit codes are in use)
    column = np.repeat(np.arange(1, 25, dtype=np.uint8), fibonacci[:24])
    column = np.random.default_rng(0).permutation(column)
    data, _ = deflate_column(column, 0)
    assert inflate_piece(data) == column.tobytes()


@pytest.mark.parametrize("n_large", [0, 1, 5, 16, 17, 120])
def test_symbols_are_ordered_by_count_then_symbol(n_large):
    """Huffman codes are built on symbols ordered by count, ties by symbol number."""
    from cellucid.sinks.folder.format.huffman import _by_count

    rng = np.random.default_rng(n_large)
    freqs = np.zeros(286, dtype=np.int64)
    freqs[rng.choice(286, 150, replace=False)] = rng.integers(1, 255, 150)
    # counts of 255 and more (few or many) are ordered apart from the rest
    big = rng.choice(np.flatnonzero(freqs), n_large, replace=False)
    freqs[big] = rng.choice([255, 256, 300, 70_000], n_large)
    used = np.flatnonzero(freqs)
    expected = used[np.lexsort((used, freqs[used]))]
    assert (_by_count(freqs, used) == expected).all()


def test_smaller_than_zlib_ng_level_9_on_sparse_codes():
    rng = np.random.default_rng(5)
    total_sparse = total_zlib = 0
    for rate in [0.005, 0.02, 0.05, 0.3]:
        values = rng.lognormal(0, 1, 65536) * (rng.random(65536) < rate)
        codes = quantize_rows(values, np.float64(0), values.max(), 8)
        total_sparse += len(compress_column_piece(codes, 0, 6).data)
        total_zlib += len(compress_piece(codes.tobytes(), 9).data)
    assert total_sparse < total_zlib


def test_dense_float_counts_fall_back_to_zlib_ng():
    counts = np.random.default_rng(1).poisson(0.5, 20_000).astype(np.float32)
    piece = compress_column_piece(counts, 0.0, 6)
    assert piece.data == compress_piece(counts.tobytes(), 6).data
    assert len(piece.data) < len(deflate_column(counts, 0.0)[0])
    sparse = np.where(np.arange(20_000) % 500 == 0, counts, 0).astype(np.float32)
    assert compress_column_piece(sparse, 0.0, 6).data == deflate_column(sparse, 0.0)[0]


def test_no_compression_keeps_the_column_raw():
    column = np.arange(10, dtype=np.uint16)
    assert compress_column_piece(column, 0, None).data == column.tobytes()
    assert compress_column_piece(column, 0, 0).data == column.tobytes()


def test_jit_without_a_cache_location_still_compiles():
    namespace: dict = {}
    # a function with no source file: numba has nowhere to cache it
    exec("def twice(x):\n    return 2 * x\n", namespace)
    assert njit_cached(namespace["twice"])(21) == 42


@pytest.mark.parametrize(("bits", "dtype"), [(8, "uint8"), (16, "uint16"), (None, "float32")])
def test_exported_gene_files_decode_to_the_codes(tmp_path, monkeypatch, bits, dtype):
    # small blocks, so each gene file is assembled from several pieces
    monkeypatch.setattr(block_grid, "MIN_PIECE_CELLS", 256)
    monkeypatch.setattr(block_grid, "BLOCK_BYTES", 256 * 12)
    n_cells, n_genes = 1500, 12
    rng = np.random.default_rng(11)
    rates = np.array([0, 0.001, 0.01, 0.03, 0.1, 0.5, 1.0, 0.02, 0.02, 0.2, 0.05, 0.9])
    X = rng.lognormal(0, 1, (n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < rates)
    X[:, 8] *= -1  # negative values: 0 is not code 0
    X[7, 9] = np.nan
    out = prepare(
        latent_space=rng.normal(0, 1, (n_cells, 3)),
        gene_expression=sp.csr_matrix(X.astype(np.float32)),
        var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]),
        X_umap_2d=rng.normal(0, 1, (n_cells, 2)),
        out_dir=tmp_path / "export",
        compression=6,
        var_quantization=bits,
        quiet=True,
    )
    manifest = read_json(out / "var_manifest.json")
    pattern = manifest["_varSchema"]["pathPattern"]
    assert len(manifest["fields"]) == n_genes
    for i, entry in enumerate(manifest["fields"]):
        path = out / pattern.replace("{key}", entry[0])
        stored = np.frombuffer(decode_file(path.read_bytes()), dtype=dtype)
        column = X[:, i].astype(np.float32)
        if bits is None:
            np.testing.assert_array_equal(stored, column)
        else:
            expected = quantize_rows(column, np.float64(entry[1]), np.float64(entry[2]), bits)
            np.testing.assert_array_equal(stored, expected)


def test_unusable_cache_dir_does_not_break_the_encoder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    script = (
        "import numpy as np, zlib\n"
        "from cellucid.sinks.folder.format.sparse_deflate import deflate_column\n"
        "column = np.full(100, 7, np.uint16)\n"
        "data, _ = deflate_column(column, 7)\n"
        "assert zlib.decompress(data + b'\\x03\\x00', -15) == column.tobytes()\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("n_items", [1, 7, 8, 9, 100, 517, 1000, 4096])
def test_byte_rows_in_one_call_equal_column_by_column(n_items):
    """The batched 8-bit path gives each row the same bytes as deflate_column."""
    from cellucid.sinks.folder.format.sparse_deflate import deflate_byte_rows, deflate_column

    rng = np.random.default_rng(n_items)
    rows = np.zeros((12, n_items), dtype=np.uint8)
    rows[1] = 255  # every item the NaN code
    rows[2, n_items // 2] = 3  # a single non-zero
    rows[3] = rng.integers(0, 256, n_items)  # dense
    for row, run in zip(range(4, 10), (1, 4, 257, 262, 516, 600), strict=True):
        rows[row, :: max(1, run + 1)] = 9  # background runs of `run` items between them
    rows[10] = 7  # all background 7
    # sparse, as genes are: differing items alone, in pairs, anywhere in a 64-item group
    rows[11] = np.where(rng.random(n_items) < 0.06, rng.integers(0, 256, n_items), 2)
    backgrounds = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 2], dtype=np.uint8)
    pieces, ends = deflate_byte_rows(rows, backgrounds)
    starts = np.concatenate([[0], ends[:-1]])
    for row in range(rows.shape[0]):
        piece = bytes(pieces[starts[row] : ends[row]])
        assert piece == deflate_column(rows[row], int(backgrounds[row]))[0], row
        assert zlib.decompressobj(-15).decompress(piece) == rows[row].tobytes(), row
