"""The matrix's checksums are taken by the genes' pass one when no earlier record needs them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cellucid.sinks.folder.sections.genes as gene_section
from cellucid import prepare
from cellucid.engine.checksums import MATRIX
from cellucid.errors import ExportMismatchError
from cellucid.sinks.folder.state import RECORD_NAME

from .test_anndata_inputs import tree_digest

N_CELLS, N_GENES = 2500, 60


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the identity's created_at


def _arguments(out, matrix, **extra):
    rng = np.random.default_rng(3)
    return {
        "latent_space": rng.normal(size=(N_CELLS, 5)).astype(np.float32),
        "X_umap_2d": rng.normal(size=(N_CELLS, 2)).astype(np.float32),
        "gene_expression": matrix,
        "var": pd.DataFrame(index=[f"g{i}" for i in range(N_GENES)]),
        "out_dir": out,
        "compression": 6,
        "var_quantization": 8,
        "quiet": True,
        "progress": False,
    } | extra


def _matrix(seed=0):
    values = sp.random(N_CELLS, N_GENES, density=0.2, format="csr", random_state=seed)
    return values.astype(np.float32)


def _record(out):
    return json.loads((out / RECORD_NAME).read_text())


def _up_front(arguments, out):
    """The checksums of a run that takes them all before it starts (float genes: no pass one)."""
    prepare(**(arguments | {"out_dir": out, "var_quantization": None}))
    return _record(out)["checksums"]


@pytest.mark.parametrize(
    "matrix",
    [_matrix(), _matrix().toarray()],
    ids=["sparse", "dense"],
)
def test_pass_one_takes_the_same_checksums_as_a_separate_read(tmp_path, matrix):
    genes = [f"g{i}" for i in range(0, N_GENES, 3)]
    arguments = _arguments(tmp_path / "export", matrix, gene_identifiers=genes)
    prepare(**arguments)
    recorded = _record(tmp_path / "export")["checksums"]
    assert recorded == _up_front(arguments, tmp_path / "float")
    assert recorded[MATRIX]["blocks"] and "pending" not in recorded[MATRIX]


def test_a_run_stopped_before_pass_one_resumes_with_a_changed_matrix(tmp_path, monkeypatch):
    out = tmp_path / "export"

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(gene_section, "gene_ranges", stop)
        with pytest.raises(KeyboardInterrupt):
            prepare(**_arguments(out, _matrix(seed=0)))
    assert _record(out)["checksums"][MATRIX] == {"pending": True}
    assert not list(out.rglob("*.values.u8.gz")), "no gene file before pass one"
    # nothing was made from the old matrix, so the new one may be used: no error
    prepare(**_arguments(out, _matrix(seed=1)))
    clean = tmp_path / "clean" / "export"  # the same folder name: the identity holds it
    prepare(**_arguments(clean, _matrix(seed=1)))
    assert tree_digest(out) == tree_digest(clean)


def test_a_changed_matrix_after_pass_one_is_still_refused(tmp_path, monkeypatch):
    out = tmp_path / "export"
    real = gene_section.write_gene_files

    def stop_after_pass_one(ctx):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(gene_section, "write_gene_files", stop_after_pass_one)
        with pytest.raises(KeyboardInterrupt):
            prepare(**_arguments(out, _matrix(seed=0)))
    assert gene_section.write_gene_files is real
    assert "pending" not in _record(out)["checksums"][MATRIX]
    changed = _matrix(seed=0).tolil()
    changed[N_CELLS - 1, 0] = 7.0
    with pytest.raises(ExportMismatchError, match="gene_expression changed in rows"):
        prepare(**_arguments(out, changed.tocsr()))


def test_no_exported_gene_means_no_read_of_the_matrix(tmp_path, monkeypatch):
    """With an empty gene list nothing is made from the matrix: no pass one, no checksums."""
    import cellucid.engine.block_grid as block_grid

    def never(*args, **kwargs):
        raise AssertionError("the matrix was read block by block")

    monkeypatch.setattr(block_grid, "_block_stats", never)
    monkeypatch.setattr("cellucid.engine.checksums.pass_one_blocks", never)
    out = tmp_path / "export"
    prepare(**_arguments(out, _matrix(), gene_identifiers=[]))
    assert MATRIX not in _record(out)["checksums"]
    assert json.loads((out / "var_manifest.json").read_text())["fields"] == []
