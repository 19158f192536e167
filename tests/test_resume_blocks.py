"""Resuming the gene phase block by block: SIGKILL mid-phase, rerun, same bytes.

Child processes export a small matrix on a small grid (256 cells per block, and 50 genes
per slab when dense) so the gene phase has many block tasks. Each child counts its calls
of ``write_block_pieces`` (one per encoded block) in a file, and may kill itself with
SIGKILL just before the N-th file whose name holds a marker is renamed into place.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cellucid.sinks.folder.context import GENE_SPILL_NAME, SPILL_DIRNAME
from cellucid.sinks.folder.gene_spill import PLAN_NAME

from .test_anndata_inputs import tree_digest

SRC = str(Path(__file__).parents[1] / "src")
N_CELLS, N_GENES, PIECE_CELLS, SLAB_GENES = 3000, 120, 256, 50
N_BLOCKS = -(-N_CELLS // PIECE_CELLS)
N_SLABS = {False: 1, True: -(-N_GENES // SLAB_GENES)}

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np, pandas as pd, scipy.sparse as sp
    import cellucid.engine.files as files
    import cellucid.sinks.folder.gene_spill as gene_spill
    import cellucid.engine.block_grid as grid
    from cellucid import prepare

    out, marker, nth, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    options = json.loads(sys.argv[5])
    cells, n_genes, piece_cells, slab_genes = (int(a) for a in sys.argv[6:10])
    grid.MIN_PIECE_CELLS = grid.MAX_PIECE_CELLS = piece_cells
    grid.GROUP_BYTES = piece_cells * 4 * slab_genes
    seen = 0
    real_replace, real_write = os.replace, gene_spill.write_block_pieces

    def replace(src, dst):
        global seen
        if marker in os.path.basename(str(dst)):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    def write_block_pieces(block, block_index, slab, job):
        fd = os.open(calls, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.write(fd, f"{block_index},{slab}\\n".encode())
        os.close(fd)
        return real_write(block, block_index, slab, job)

    files.os.replace = replace
    gene_spill.write_block_pieces = write_block_pieces
    dense = options.pop("dense")
    rng = np.random.default_rng(3)
    X = sp.random(cells, n_genes, density=0.2, format="csr", random_state=4, dtype=np.float32)
    prepare(
        latent_space=rng.normal(size=(cells, 5)), X_umap_2d=rng.normal(size=(cells, 2)),
        gene_expression=X.toarray() if dense else X,
        var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]),
        out_dir=out, var_quantization=8, progress=False, **options,
    )
    """
)


class Run:
    """One child export: its exit code, its output and the blocks it encoded."""

    def __init__(self, out: Path, marker: str = "never", nth: int = 0, **options) -> None:
        settings = {"dense": False, "compression": 6} | options
        calls = out.parent / f"calls-{len(list(out.parent.glob('calls-*')))}.txt"
        command = [sys.executable, "-c", CHILD, str(out), marker, str(nth), str(calls)]
        command += [json.dumps(settings), *map(str, (N_CELLS, N_GENES, PIECE_CELLS, SLAB_GENES))]
        env = dict(os.environ, PYTHONPATH=SRC, SOURCE_DATE_EPOCH="1700000000")
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        self.code, self.out, self.err = result.returncode, result.stdout, result.stderr
        lines = calls.read_text().split() if calls.exists() else []
        self.encoded = sorted(tuple(int(v) for v in line.split(",")) for line in lines)


def every_block(dense: bool) -> list[tuple[int, int]]:
    return [(k, s) for k in range(N_BLOCKS) for s in range(N_SLABS[dense])]


def committed(out: Path) -> list[tuple[int, int]]:
    """The (block, slab) of every block index in the kept gene spill."""
    names = (out / SPILL_DIRNAME / GENE_SPILL_NAME).glob("genes-*.npy")
    return sorted(tuple(int(v) for v in p.stem.split("-")[1:]) for p in names)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[bool, dict[str, str]]:
    """The tree of an uninterrupted export, sparse and dense input."""
    trees = {}
    for dense in (False, True):
        out = tmp_path_factory.mktemp("clean") / "export"
        run = Run(out, dense=dense, quiet=True)
        assert run.code == 0, run.err
        assert run.encoded == every_block(dense)
        trees[dense] = tree_digest(out)
    # the grid does not change the bytes of the files, only how many pieces they hold
    assert trees[False] == trees[True]
    return trees


@pytest.mark.parametrize("dense", [False, True])
def test_kill_among_the_blocks_then_only_the_rest_are_encoded(tmp_path, clean, dense):
    out = tmp_path / "export"
    n_tasks = len(every_block(dense))
    # killed just before the 6th block's index is committed: its pieces are in place,
    # its index is a temporary file, other blocks may be half-written in the scratch
    killed = Run(out, ".npy", 6, dense=dense, quiet=True)
    assert killed.code == -signal.SIGKILL, killed.err
    done = committed(out)
    assert 5 <= len(done) < n_tasks
    spill = out / SPILL_DIRNAME / GENE_SPILL_NAME
    assert list(spill.glob(".genes-*.npy.part-*")), "the interrupted commit left its temp file"
    # no gene file: only placeholders under temporary names (made while blocks encode)
    assert not [p for p in (out / "var").iterdir() if ".part-" not in p.name]

    rerun = Run(out, dense=dense)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == sorted(set(every_block(dense)) - set(done))
    (kept,) = [line for line in rerun.out.splitlines() if line.startswith("↻ Kept ")]
    assert f" and {len(done)} of {n_tasks} encoded gene blocks of the earlier run" in kept
    assert kept.endswith("Use force=True to write everything again.")
    assert tree_digest(out) == clean[dense]
    assert not (out / SPILL_DIRNAME).exists()
    assert not list(out.rglob(".*.part-*"))


def test_kill_among_the_gene_files_encodes_nothing_again(tmp_path, clean):
    out = tmp_path / "export"
    killed = Run(out, ".values.u8.gz", 41, quiet=True)
    assert killed.code == -signal.SIGKILL, killed.err
    assert len(committed(out)) == N_BLOCKS
    rerun = Run(out)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == []
    lines = rerun.out.splitlines()
    (kept,) = [line for line in lines if line.startswith("↻ Kept ")]
    assert f" and {N_BLOCKS} of {N_BLOCKS} encoded gene blocks of the earlier run" in kept
    assert kept.endswith(" and 40 gene files. Use force=True to write everything again.")
    assert f"✓ Wrote {N_GENES - 40} gene files" in rerun.out
    assert tree_digest(out) == clean[False]
    assert not (out / SPILL_DIRNAME).exists()


def test_other_settings_never_reuse_blocks(tmp_path, clean):
    out = tmp_path / "export"
    assert Run(out, ".npy", 4, quiet=True).code == -signal.SIGKILL
    done = committed(out)
    # refused without force=True, and the kept blocks are left alone
    refused = Run(out, compression=9, quiet=True)
    assert refused.code == 1 and "ExportMismatchError" in refused.err
    assert refused.encoded == [] and committed(out) == done
    rerun = Run(out, compression=9, force=True)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == every_block(False)
    assert "↻ Kept" not in rerun.out
    assert not (out / SPILL_DIRNAME).exists()
    # and back to the first settings, with force=True: the same bytes as a clean export
    assert Run(out, force=True, quiet=True).code == 0
    assert tree_digest(out) == clean[False]


def test_force_with_the_same_settings_encodes_every_block(tmp_path):
    out = tmp_path / "export"
    assert Run(out, ".npy", 4, quiet=True).code == -signal.SIGKILL
    assert committed(out)
    rerun = Run(out, force=True)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == every_block(False)
    assert "↻ Kept" not in rerun.out
    assert not (out / SPILL_DIRNAME).exists()


def test_blocks_that_do_not_check_out_are_encoded_again(tmp_path, clean):
    out = tmp_path / "export"
    assert Run(out, ".values.u8.gz", 1, quiet=True).code == -signal.SIGKILL
    spill = out / SPILL_DIRNAME / GENE_SPILL_NAME
    # a truncated pieces file, an index of the wrong shape and a missing index
    with open(spill / "genes-000001-00000.bin", "r+b") as handle:
        handle.truncate(handle.seek(0, os.SEEK_END) - 1)
    np.save(spill / "genes-000002-00000.npy", np.zeros((3, 3), dtype=np.int64))
    (spill / "genes-000003-00000.npy").unlink()
    rerun = Run(out)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == [(1, 0), (2, 0), (3, 0)]
    assert tree_digest(out) == clean[False]


def test_a_spill_of_another_plan_is_not_reused(tmp_path, clean):
    out = tmp_path / "export"
    assert Run(out, ".values.u8.gz", 1, quiet=True).code == -signal.SIGKILL
    plan_file = out / SPILL_DIRNAME / GENE_SPILL_NAME / PLAN_NAME
    plan = json.loads(plan_file.read_text())
    plan["spill_version"] = 0  # as if written by an older encoder
    plan_file.write_text(json.dumps(plan))
    rerun = Run(out)
    assert rerun.code == 0, rerun.err
    assert rerun.encoded == every_block(False)
    assert tree_digest(out) == clean[False]
