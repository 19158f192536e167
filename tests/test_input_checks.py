"""Every input check: exception type, message, and out_dir left untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare
from cellucid.verify import assert_valid_export

N = 50


@pytest.fixture
def base(tmp_path):
    rng = np.random.default_rng(0)
    out = tmp_path / "export"
    return {
        "latent_space": rng.normal(size=(N, 4)),
        "obs": pd.DataFrame({"kind": rng.choice(["a", "b"], N), "x": rng.random(N)}),
        "var": pd.DataFrame(
            {"sym": [f"s{i}" for i in range(6)]}, index=[f"g{i}" for i in range(6)]
        ),
        "gene_expression": sp.random(N, 6, density=0.3, format="csr", random_state=0),
        "connectivities": sp.random(N, N, density=0.05, format="csr", random_state=1),
        "X_umap_2d": rng.normal(size=(N, 2)),
        "out_dir": out,
        "quiet": True,
    }


CASES = [
    (
        {"X_umap_2d": None},
        ValueError,
        "At least one dimensional embedding must be provided. "
        "Use X_umap_1d, X_umap_2d, or X_umap_3d.",
    ),
    (
        {"X_umap_4d": np.zeros((N, 4))},
        NotImplementedError,
        "4D visualization is not yet implemented.",
    ),
    (
        {"X_umap_3d": np.zeros((N + 1, 3))},
        ValueError,
        "All embeddings must have the same number of cells.",
    ),
    ({"X_umap_3d": np.zeros((N, 2))}, ValueError, "X_umap_3d must have shape (n_cells, 3)"),
    (
        {"obs": pd.DataFrame({"a": range(N - 1)})},
        ValueError,
        f"obs has {N - 1} rows, but embeddings have {N} cells.",
    ),
    (
        {"latent_space": None},
        ValueError,
        "latent_space is required for outlier quantile calculation. The categorical obs "
        "field 'kind' gets outlier quantiles measured in it",
    ),
    (
        {"latent_space": np.zeros((N - 2, 3))},
        ValueError,
        "latent_space must have shape (n_cells, n_dims)",
    ),
    ({"var": None}, ValueError, "var is required if gene_expression is provided"),
    (
        {"gene_expression": np.zeros((N, 7))},
        ValueError,
        "var has 6 rows, but gene_expression has 7 genes",
    ),
    (
        {"gene_expression": np.zeros((N + 3, 6))},
        ValueError,
        "gene_expression must have shape (n_cells, n_genes)",
    ),
    (
        {"connectivities": sp.eye(N + 1, format="csr")},
        ValueError,
        "connectivities must be a square matrix",
    ),
    (
        {"vector_fields": {"flow": np.zeros((N, 4))}},
        ValueError,
        f"Vector field 'flow' must have 1/2/3 components, got shape ({N}, 4)",
    ),
    (
        {"vector_fields": {"flow": np.zeros((N - 1, 2))}},
        ValueError,
        "Vector field 'flow' has 49 rows",
    ),
    ({"vector_fields": {"flow_2d": np.zeros((N, 3))}}, ValueError, "is named 2D but has shape"),
    ({"vector_fields": {"my flow": np.zeros((N, 2))}}, ValueError, "rename it to 'my_flow'"),
    ({"vector_fields": [np.zeros((N, 2))]}, TypeError, "vector_fields must be a mapping"),
    ({"obs_keys": ["kind", "nope"]}, KeyError, "Available columns: ['kind', 'x']"),
    (
        {"var_gene_id_column": "ensembl"},
        KeyError,
        "var_gene_id_column 'ensembl' is not a column of var",
    ),
    ({"var_quantization": 12}, ValueError, "var_quantization must be None, 8 or 16, got 12"),
    (
        {"obs_continuous_quantization": 4},
        ValueError,
        "obs_continuous_quantization must be None, 8 or 16",
    ),
    ({"compression": 10}, ValueError, "compression must be None or a gzip level from 0 to 9"),
    ({"compression": -1}, ValueError, "compression must be None or a gzip level from 0 to 9"),
    (
        {"obs_categorical_dtype": "int8"},
        ValueError,
        "obs_categorical_dtype must be 'auto', 'uint8' or 'uint16'",
    ),
    ({"centroid_outlier_quantile": 1.0}, ValueError, "strictly between 0 and 1"),
    ({"centroid_outlier_quantile": 0}, ValueError, "strictly between 0 and 1"),
    ({"centroid_min_points": 0}, ValueError, "centroid_min_points must be a positive integer"),
]


def _apply(base, change):
    args = dict(base)
    args.update(change)
    return {k: v for k, v in args.items() if v is not None or k in ("latent_space", "var")}


@pytest.mark.parametrize("change, kind, message", CASES, ids=[str(i) for i in range(len(CASES))])
def test_bad_input(base, change, kind, message):
    with pytest.raises(kind) as caught:
        prepare(**_apply(base, change))
    text = caught.value.args[0] if kind is KeyError else str(caught.value)
    assert message in text
    assert not base["out_dir"].exists()


def test_non_finite_embedding_names_array_and_row(base):
    points = base["X_umap_2d"].copy()
    points[17, 1] = np.nan
    points[30, 0] = np.inf
    with pytest.raises(ValueError, match=r"X_umap_2d holds NaN or Inf values \(first at row 17\)"):
        prepare(**{**base, "X_umap_2d": points})
    assert not base["out_dir"].exists()


def test_colliding_obs_keys(base):
    obs = pd.DataFrame({"a b": range(N), "a/b": range(N)})
    with pytest.raises(ValueError, match="'a b' and 'a/b' would both be written as 'a_b'"):
        prepare(**{**base, "obs": obs})
    assert not base["out_dir"].exists()


def test_colliding_and_duplicate_genes(base):
    var = pd.DataFrame(index=["g 1", "g/1", "g2", "g3", "g4", "g5"])
    with pytest.raises(ValueError, match="'g 1' and 'g/1' would both be written as 'g_1'"):
        prepare(**{**base, "var": var})
    var = pd.DataFrame({"sym": ["A", "B", "A", "C", "D", "E"]}, index=[f"g{i}" for i in range(6)])
    with pytest.raises(ValueError, match=r"Gene ids must be unique, but \['A'\]"):
        prepare(**{**base, "var": var, "var_gene_id_column": "sym"})
    assert not base["out_dir"].exists()


def test_too_many_categories_for_uint8(base):
    obs = pd.DataFrame(
        {
            "many": pd.Categorical(
                [f"c{i}" for i in range(N)], categories=[f"c{i}" for i in range(300)]
            )
        }
    )
    with pytest.raises(ValueError, match="300 categories do not fit uint8 codes"):
        prepare(**{**base, "obs": obs, "obs_categorical_dtype": "uint8"})
    assert not base["out_dir"].exists()


def test_failed_call_leaves_existing_folder_unchanged(base):
    out = base["out_dir"]
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError):
        prepare(**{**base, "compression": 11})
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_unknown_gene_ids_are_dropped_with_a_warning(base, capsys):
    out = prepare(**{**base, "gene_identifiers": ["g3", "zz", "g1"], "quiet": False})
    assert (
        "1 of the 3 requested genes are not in var and are skipped: 'zz'" in capsys.readouterr().out
    )
    import json

    manifest = json.loads((out / "var_manifest.json").read_text())
    assert_valid_export(out)
    assert [f[0] for f in manifest["fields"]] == ["g3", "g1"]
    assert sorted(p.name for p in (out / "var").iterdir()) == ["g1.values.f32", "g3.values.f32"]


def test_signature_matches_the_documented_api():
    import inspect

    documented = (
        'latent_space=None, obs=None, var=None, gene_expression=None, var_gene_id_column="index", '
        "gene_identifiers=None, connectivities=None, out_dir=None, obs_keys=None, "
        "centroid_outlier_quantile=0.95, centroid_min_points=10, "
        'obs_manifest_filename="obs_manifest.json", obs_binary_dirname="obs", '
        'var_manifest_filename="var_manifest.json", var_binary_dirname="var", '
        'connectivity_manifest_filename="connectivity_manifest.json", '
        'connectivity_binary_dirname="connectivity", force=False, var_quantization=None, '
        'obs_continuous_quantization=None, obs_categorical_dtype="auto", compression=None, '
        "dataset_name=None, dataset_description=None, dataset_id=None, source_name=None, "
        "source_url=None, source_citation=None, X_umap_1d=None, X_umap_2d=None, X_umap_3d=None, "
        "X_umap_4d=None, vector_fields=None"
    )
    parameters = inspect.signature(prepare).parameters
    positional = [p for p in parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    rendered = ", ".join(f"{p.name}={p.default!r}".replace("'", '"') for p in positional)
    assert rendered == documented
    assert [p.name for p in parameters.values() if p.kind is p.KEYWORD_ONLY] == [
        "chunk_size",
        "progress",
        "quiet",
        "scheduler",
        "layout",
        # upstream 0.9.5's store keywords (prepare(out_path, format=..., ...)) beside them
        "out_path",
        "format",
        "data",
        "embeddings",
        "modalities",
        "citation_text",
        "citation_url",
        "embedding_defaults",
        "latent_key",
        "vector_field_default",
        "normalize_embeddings",
        "modality",
        "zarr_format",
    ]


def test_default_out_dir_is_exports_under_the_current_directory(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = {k: v for k, v in base.items() if k != "out_dir"}
    assert prepare(**args) == tmp_path / "exports"
    assert (tmp_path / "exports" / "dataset_identity.json").exists()
