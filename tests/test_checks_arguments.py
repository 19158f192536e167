"""prepare()'s input checks: the latent space only when needed, errors in documented order.

docs/validation.md documents the order: embeddings, obs, latent space (only for
categorical obs fields), genes with var, connectivities, vector fields. A missing latent
space must never hide another input's own error.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare
from cellucid.verify import assert_valid_export

N = 30


def _arguments(tmp_path, **change):
    rng = np.random.default_rng(3)
    arguments = {
        "obs": pd.DataFrame({"x": rng.random(N), "y": rng.random(N)}),
        "X_umap_2d": rng.normal(size=(N, 2)),
        "out_dir": tmp_path / "export",
        "quiet": True,
    }
    return arguments | change


def _refused(arguments, kind=ValueError) -> str:
    with pytest.raises(kind) as caught:
        prepare(**arguments)
    assert not arguments["out_dir"].exists()
    return caught.value.args[0] if kind is KeyError else str(caught.value)


def test_no_categorical_field_needs_no_latent_space(tmp_path):
    out = prepare(**_arguments(tmp_path))
    assert_valid_export(out)
    manifest = json.loads((out / "obs_manifest.json").read_text())
    assert [f[0] for f in manifest["_continuousFields"]] == ["x", "y"]
    record = json.loads((out / ".cellucid-export.json").read_text())
    assert "latent_space" not in record["checksums"]


def test_no_obs_and_no_quantile_need_no_latent_space(tmp_path):
    out = prepare(**_arguments(tmp_path, obs=None, centroid_outlier_quantile=None))
    assert_valid_export(out)


def test_categorical_field_without_latent_space_names_the_field(tmp_path):
    obs = pd.DataFrame({"kind": np.repeat(["a", "b", "c"], N // 3), "x": np.ones(N)})
    # outlier quantiles do not depend on centroid_outlier_quantile: still needed
    text = _refused(_arguments(tmp_path, obs=obs, centroid_outlier_quantile=None))
    assert text.startswith("latent_space is required for outlier quantile calculation.")
    assert "field 'kind' gets outlier quantiles" in text
    assert "obs_keys" in text
    # leaving the field out is the other way
    out = prepare(**_arguments(tmp_path, obs=obs, obs_keys=["x"]))
    assert_valid_export(out)


def test_latent_space_given_but_unused_is_checked_not_recorded(tmp_path, monkeypatch):
    # the identity's creation time is written by each run: fixed, so that the two runs may
    # straddle a second and still compare equal
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    bad = np.ones((N - 1, 3))
    text = _refused(_arguments(tmp_path, latent_space=bad))
    assert "latent_space must have shape (n_cells, n_dims) with 30 rows" in text
    out = prepare(**_arguments(tmp_path, latent_space=np.ones((N, 3))))
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # the same export without the unused latent space is the same export: it resumes
    prepare(**_arguments(tmp_path))
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("categorical", [False, True], ids=["continuous obs", "categorical obs"])
def test_obs_rows_error_comes_before_the_latent_space(tmp_path, categorical):
    values = np.repeat(["a", "b"], (N - 1) // 2 + 1)[: N - 1] if categorical else np.ones(N - 1)
    text = _refused(_arguments(tmp_path, obs=pd.DataFrame({"k": values})))
    assert text == f"obs has {N - 1} rows, but embeddings have {N} cells."


def test_genes_without_var_get_their_own_error(tmp_path):
    text = _refused(_arguments(tmp_path, gene_expression=np.ones((N, 4))))
    assert text == "var is required if gene_expression is provided"


def test_vector_field_of_four_components_gets_its_own_error(tmp_path):
    arguments = _arguments(tmp_path, vector_fields={"flow": np.zeros((N, 4))})
    text = _refused(arguments)
    assert text == f"Vector field 'flow' must have 1/2/3 components, got shape ({N}, 4)"


def test_errors_come_in_the_documented_order(tmp_path):
    """Every input wrong at once: fixing them one by one meets them in the docs' order."""
    rng = np.random.default_rng(4)
    good = {
        "obs": pd.DataFrame({"kind": rng.choice(["a", "b"], N)}),
        "latent_space": rng.normal(size=(N, 3)),
        "var": pd.DataFrame(index=[f"g{i}" for i in range(4)]),
        "connectivities": sp.eye(N, format="csr"),
        "vector_fields": {"flow": np.zeros((N, 2))},
        "X_umap_2d": rng.normal(size=(N, 2)),
    }
    bad = {
        "X_umap_2d": ("X_umap_2d", np.zeros((N, 3)), "X_umap_2d must have shape (n_cells, 2)"),
        "obs": ("obs", pd.DataFrame({"kind": ["a"] * (N + 1)}), "obs has 31 rows"),
        "latent_space": ("latent_space", None, "latent_space is required"),
        "var": ("var", None, "var is required if gene_expression is provided"),
        "connectivities": ("connectivities", sp.eye(N + 1, format="csr"), "square matrix"),
        "vector_fields": ("vector_fields", {"flow": np.zeros((N, 4))}, "1/2/3 components"),
    }
    arguments = _arguments(tmp_path, gene_expression=np.ones((N, 4)))
    arguments |= {name: value for name, value, _ in bad.values()}
    for name, _, fragment in bad.values():
        assert fragment in _refused(arguments)
        arguments[name] = good[name]
    assert_valid_export(prepare(**arguments))
