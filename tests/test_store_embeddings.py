"""obsm: embeddings, vector fields, and the embeddings the viewer shows on opening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from cellucid.sinks.anndata.display import best_guess_order, default_slots, shown_embeddings
from cellucid.sinks.anndata.embeddings import (
    cell_matrix,
    convert_embeddings,
    parse_vector_field_key,
    split_obsm,
)
from cellucid.sinks.anndata.vectors import convert_vector_fields


def test_cell_matrix_shapes_and_types():
    assert cell_matrix(np.arange(3), "e").shape == (3, 1)
    dense = cell_matrix(sparse.csr_matrix(np.eye(3)), "e")
    assert dense.dtype == np.float32 and dense.flags.c_contiguous
    assert cell_matrix(np.array([[True], [False]]), "e").dtype == np.float32
    with pytest.raises(ValueError, match="e must be a vector or a 2-D array"):
        cell_matrix(np.zeros((2, 2, 2)), "e")
    with pytest.raises(TypeError, match="e must hold real numbers"):
        cell_matrix(np.array(["a"]), "e")
    with pytest.raises(ValueError, match=r"1 NaN, 1 \+Inf, 1 beyond float32.*First at \(0, 0\)"):
        cell_matrix(np.array([[np.nan, np.inf, 1e39, 0.0]]), "e")


def test_embeddings_keep_order_and_agree_on_cells():
    matrices, n_cells = convert_embeddings({"X_b": np.zeros((4, 2)), "X_a": np.ones(4)})
    assert list(matrices) == ["X_b", "X_a"] and n_cells == 4
    with pytest.raises(ValueError, match="'X_b' has 4 rows while 'X_c' has 3"):
        convert_embeddings({"X_b": np.zeros((4, 2)), "X_c": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="no columns"):
        convert_embeddings({"X_b": np.zeros((4, 0))})
    with pytest.raises(ValueError, match="at least one cell"):
        convert_embeddings({"X_b": np.zeros((0, 2))})
    with pytest.raises(TypeError, match="embeddings must map"):
        convert_embeddings([np.zeros((2, 2))])
    with pytest.raises(ValueError, match="at least one embedding"):
        convert_embeddings({})


@pytest.mark.parametrize(
    ("key", "keys", "parsed"),
    [
        ("velocity_umap", {"X_umap"}, ("velocity", "X_umap")),
        ("velocity_umap_3d", {"X_umap_3d", "X_3d"}, ("velocity", "X_umap_3d")),
        ("T_fwd_branches", {"X_branches", "X_fwd_branches"}, ("T", "X_fwd_branches")),
        ("X_umap", {"X_umap"}, None),
        ("velocity_", {"X_"}, None),
        ("velocity_pca", {"X_umap"}, None),
    ],
)
def test_vector_field_key_rule(key, keys, parsed):
    assert parse_vector_field_key(key, keys) == parsed


def test_split_obsm_as_data_lends_it():
    obsm = {
        "X_umap": np.zeros((3, 2)),
        "velocity_umap": np.zeros((3, 2)),
        "wide_umap": np.zeros((3, 3)),
        "mask": np.zeros((3, 2), dtype=bool),
        "table": pd.DataFrame({"a": [1, 2, 3]}),
        "X_sparse": sparse.csr_matrix(np.zeros((3, 2))),
    }
    embeddings, fields = split_obsm(obsm)
    assert list(embeddings) == ["X_umap", "wide_umap", "X_sparse"]
    assert list(fields) == ["velocity"] and list(fields["velocity"]) == ["X_umap"]


def test_vector_fields_stored_under_scvelo_keys():
    matrices = {"X_umap": np.zeros((3, 2), np.float32), "X_pca": np.zeros((3, 4), np.float32)}
    arrays, names = convert_vector_fields(
        {"velocity": {"X_umap": np.ones((3, 2)), "X_pca": np.ones((3, 4))}}, matrices, 3
    )
    assert list(arrays) == ["velocity_umap", "velocity_pca"] and names == ["velocity"]
    assert arrays["velocity_umap"].dtype == np.float32


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("x", "vector_fields must map"),
        ({"v": {}}, r"vector_fields\['v'\] must map"),
        ({"v": {"X_none": np.ones((3, 2))}}, "none of the embeddings"),
        ({"v": {"umap": np.ones((3, 2))}}, "'X_<basis>' key"),
        ({"v": {"X_umap": np.ones((3, 3))}}, "one component per embedding column"),
        ({"v": {"X_umap": np.ones((2, 2))}}, "one row per cell"),
        ({"X_v": {"X_umap": np.ones((3, 2))}}, "reads as an embedding"),
        ({"a_b": {"X_umap": np.ones((3, 2))}}, "reads as the field 'a'"),
        ({"Umap": {"X_x": np.ones((3, 2))}}, "also|key of an embedding"),
    ],
)
def test_vector_field_refusals(fields, message):
    matrices = {
        "X_umap": np.zeros((3, 2), np.float32),
        "umap": np.zeros((3, 2), np.float32),
        "X_b_umap": np.zeros((3, 2), np.float32),
        "X_x": np.zeros((3, 2), np.float32),
        "Umap_x": np.zeros((3, 2), np.float32),
    }
    with pytest.raises((TypeError, ValueError), match=message):
        convert_vector_fields(fields, matrices, 3)


def test_vector_keys_differing_in_case_refused():
    matrices = {"X_umap": np.zeros((3, 2), np.float32)}
    fields = {"v": {"X_umap": np.ones((3, 2))}, "V": {"X_umap": np.ones((3, 2))}}
    with pytest.raises(ValueError, match="differ only in letter case"):
        convert_vector_fields(fields, matrices, 3)


def test_default_display_rule():
    assert default_slots({"X_umap_3d": 3, "X_umap": 2}) == {
        "1d": None,
        "2d": None,
        "3d": "X_umap_3d",
    }
    assert default_slots({"X_UMAP": 2, "X_wnn.umap": 3})["2d"] == "X_UMAP"
    assert default_slots({"X_umap": 5, "X_ref.umap": 1})["1d"] == "X_ref.umap"
    assert best_guess_order(["X_pca", "b", "X_tsne", "a_UMAP"]) == [
        "a_UMAP",
        "X_tsne",
        "b",
        "X_pca",
    ]


def test_shown_embeddings():
    widths = {"X_umap": 2, "velocity_umap": 2, "X_pca": 50, "X_spatial": 2}
    assert shown_embeddings(widths, {}, "X_pca") == {"X_umap", "X_spatial"}
    assert shown_embeddings({"X_pca": 50, "X_scvi": 10}, {}, None) == {"X_pca"}
    assert shown_embeddings({"X_pca": 50}, {"2d": "X_pca"}, "X_pca") == {"X_pca"}
