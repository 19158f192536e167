"""The export record says which input or setting differs when a rerun is refused (#22 item 10).

The record keeps a short digest per input (by parameter name) beside the fingerprint, so
"other inputs or settings" names them; the record stays deterministic (whole-tree tests).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import make_demo_anndata, prepare
from cellucid.errors import ExportMismatchError
from cellucid.sinks.folder.state import RECORD_NAME

N = 40


@pytest.fixture(autouse=True)
def no_stamps(monkeypatch):
    monkeypatch.setenv("CELLUCID_STAMP_DIR", "")


def _arguments(tmp_path, **change):
    rng = np.random.default_rng(2)
    arguments = {
        "latent_space": rng.normal(size=(N, 3)),
        "obs": pd.DataFrame({"kind": rng.choice(["a", "b"], N), "x": rng.random(N)}),
        "var": pd.DataFrame(index=[f"g{i}" for i in range(5)]),
        "gene_expression": sp.random(N, 5, density=0.4, format="csr", random_state=0),
        "X_umap_2d": rng.normal(size=(N, 2)),
        "out_dir": tmp_path / "export",
        "quiet": True,
    }
    return arguments | change


def _refused(arguments) -> str:
    with pytest.raises(ExportMismatchError) as caught:
        prepare(**arguments)
    return str(caught.value)


def test_record_names_each_input_by_its_parameter(tmp_path):
    out = prepare(**_arguments(tmp_path))
    record = json.loads((out / RECORD_NAME).read_text())
    assert sorted(record["inputs"]) == [
        "X_umap_2d", "exported genes", "gene_expression", "latent_space", "obs",
        "obs categories", "var",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "change, named",
    [
        ({"X_umap_3d": np.zeros((N, 3))}, "inputs differ: X_umap_3d (added))"),
        ({"gene_expression": None, "var": None}, "exported genes, gene_expression (not given now), "
         "var (not given now))"),
        ({"obs": pd.DataFrame({"kind": ["c"] * N, "x": np.ones(N)})}, "inputs differ: obs, "
         "obs categories)"),
        ({"gene_identifiers": ["g3", "g1"]}, "inputs differ: exported genes)"),
        ({"vector_fields": {"flow": np.zeros((N, 2))}},
         "inputs differ: vector_fields['flow'] (2D) (added))"),
    ],
    ids=["embedding added", "genes left out", "obs changed", "other genes", "vector field"],
)  # fmt: skip
def test_refusal_names_the_input_that_differs(tmp_path, change, named):
    prepare(**_arguments(tmp_path))
    text = _refused(_arguments(tmp_path, **change))
    assert "holds an export made from other inputs or settings (" in text
    assert named in text
    assert "choose another output folder" in text and "out_dir" not in text


def test_refusal_names_settings_and_inputs_together(tmp_path):
    prepare(**_arguments(tmp_path))
    text = _refused(_arguments(tmp_path, compression=6, X_umap_3d=np.zeros((N, 3))))
    assert "(settings differ: compression; inputs differ: X_umap_3d (added))" in text


def test_cli_names_the_output_folder_not_out_dir(tmp_path, capsys):
    from cellucid.cli import main

    source = tmp_path / "atlas.h5ad"
    make_demo_anndata(n_cells=200, n_genes=10).write_h5ad(source)
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    capsys.readouterr()
    assert main(["prepare", str(source), str(blocker / "sub"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "is an existing file, not a folder: choose another output folder" in err
    assert "out_dir" not in err


def test_explicit_embedding_does_not_warn_about_the_default(tmp_path, capsys):
    """--embedding-2d X_tsne says what to use: no warning that X_umap is not used (#22)."""
    from cellucid.cli import main

    adata = make_demo_anndata(n_cells=200, n_genes=10)
    adata.obsm["X_tsne"] = adata.obsm["X_umap"] * 2
    source = tmp_path / "atlas.h5ad"
    adata.write_h5ad(source)
    capsys.readouterr()
    assert main(["prepare", str(source), str(tmp_path / "tsne"), "--embedding-2d", "X_tsne"]) == 0
    out = capsys.readouterr().out
    assert "2D from obsm['X_tsne']" in out
    assert "X_umap']" not in out.replace("obsm['X_umap_3d']", "")
    # a key asked for by --embedding that loses is still named
    code = main(["prepare", str(source), str(tmp_path / "both"), "--embedding", "X_tsne",
                 "--embedding-2d", "X_umap"])  # fmt: skip
    assert code == 0
    assert "not obsm['X_tsne']" in capsys.readouterr().out
