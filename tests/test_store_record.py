"""uns['cellucid'] and uns['title']: identity, citation, source, launch defaults."""

from __future__ import annotations

import numpy as np
import pytest

from cellucid.sinks.anndata.defaults import DEFAULTS_ORDER, Stored, launch_defaults
from cellucid.sinks.anndata.record import (
    identity,
    record_arguments,
    require_dataset_id,
    stored_value,
)

STORED = Stored(
    obsm={"X_umap": 2, "X_pca": 30, "velocity_umap": 2, "X_umap_3d": 3},
    obs_columns=frozenset({"cell_type", "batch"}),
    var_columns=frozenset({"symbol"}),
)


def test_identity_key_order_and_optional_parts():
    record = identity(
        {
            "dataset_id": "a.b_c-1",
            "dataset_name": "Atlas",
            "dataset_description": "",
            "source_name": "GEO",
            "source_url": "https://www.ncbi.nlm.nih.gov/geo/",
            "citation_text": "X et al.",
        }
    )
    assert list(record) == ["schema", "id", "name", "description", "citation", "source"]
    assert record["schema"] == 1 and type(record["schema"]) is int
    assert record["citation"] == {"text": "X et al."}
    assert list(record["source"]) == ["name", "url"]
    assert list(identity({"dataset_id": "a", "dataset_name": "A"})) == ["schema", "id", "name"]


@pytest.mark.parametrize("value", ["", "-a", "a.", "a b", "é", "x" * 181, "NUL", "com1.data"])
def test_dataset_id_refusals(value):
    with pytest.raises(ValueError, match="dataset_id"):
        require_dataset_id(value)
    with pytest.raises(TypeError, match="dataset_id"):
        require_dataset_id(3)
    assert require_dataset_id("x" * 180) == "x" * 180


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dataset_name": " Atlas"}, "dataset_name .*U\\+0020 SPACE"),
        ({"dataset_name": "A\x07"}, "dataset_name .*control character"),
        ({"dataset_name": ""}, "dataset_name must not be empty"),
        ({"dataset_description": "\ufeffText"}, "dataset_description .*ZERO WIDTH NO-BREAK"),
        ({"citation_url": "https://x.org"}, "citation_url needs citation_text"),
        ({"source_name": "S", "source_url": "ftp://x.org"}, "source_url must be an absolute"),
        ({"source_name": "S", "source_url": "https://"}, "source_url must be an absolute"),
    ],
)
def test_text_refusals(changes, message):
    with pytest.raises(ValueError, match=message):
        identity({"dataset_id": "a", "dataset_name": "A", **changes})


def test_defaults_follow_the_documented_order():
    defaults = launch_defaults(
        {
            "centroid_min_points": 4,
            "obs_keys": ["batch"],
            "normalize_embeddings": True,
            "vector_field_default": "velocity",
            "latent_key": "X_pca",
            "var_gene_id_column": "symbol",
            "embedding_defaults": {"3d": "X_umap_3d", "2d": ("X_pca", [3, 1]), "1d": "X_umap"},
        },
        STORED,
    )
    assert list(defaults) == [key for key in DEFAULTS_ORDER if key != "modality"]
    assert defaults["embedding3d"] == "X_umap_3d"
    assert defaults["embedding2d"] == {"key": "X_pca", "columns": [3, 1]}
    assert defaults["embedding1d"] == "X_umap"
    stored = stored_value(defaults)
    assert stored["obsKeys"].dtype == object
    assert stored["embedding2d"]["columns"].dtype == np.int64
    assert launch_defaults({}, STORED) == {}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"embedding_defaults": "X_umap"}, TypeError, "embedding_defaults must map"),
        ({"embedding_defaults": {"2D": "X_umap"}}, ValueError, "embedding_defaults keys"),
        ({"embedding_defaults": {"2d": ["X_pca", [0, 1]]}}, TypeError, "tuple"),
        ({"embedding_defaults": {"2d": ("X_pca", "01")}}, TypeError, "sequence of integers"),
        ({"embedding_defaults": {"2d": ("X_pca", [0, 30])}}, ValueError, "no column 30"),
        ({"embedding_defaults": {"2d": ("X_pca", [0, np.int64(1)])}}, ValueError, "Python int"),
        ({"embedding_defaults": {"2d": ("X_pca", [0])}}, ValueError, "reads 2 columns"),
        ({"embedding_defaults": {"3d": "X_umap"}}, ValueError, "needs 3 columns"),
        ({"embedding_defaults": {"2d": ""}}, ValueError, "must name an obsm key"),
        ({"latent_key": " "}, ValueError, "latent_key must be None or a non-blank"),
        ({"var_gene_id_column": "id"}, ValueError, "var_gene_id_column names var"),
        ({"vector_field_default": "drift"}, ValueError, "vector_field_default names the field"),
        ({"obs_keys": "batch"}, TypeError, "obs_keys must be None or a sequence"),
        ({"obs_keys": []}, ValueError, "obs_keys must name at least one"),
        ({"obs_keys": ["batch", "batch"]}, ValueError, "more than once"),
        ({"obs_keys": ["nope"]}, ValueError, "obs_keys names obs"),
        ({"normalize_embeddings": np.True_}, TypeError, "normalize_embeddings must be exactly"),
        ({"centroid_min_points": True}, TypeError, "centroid_min_points must be a Python int"),
        ({"centroid_min_points": -1}, ValueError, "centroid_min_points must be 1 or more"),
        ({"modality": "rna"}, ValueError, "modality names 'rna'"),
    ],
)
def test_default_refusals(arguments, error, message):
    with pytest.raises(error, match=message):
        launch_defaults(arguments, STORED)


def test_vector_field_default_must_be_drawn():
    hidden = Stored(
        obsm={"X_pca": 30, "velocity_pca": 30, "X_umap": 2},
        obs_columns=frozenset(),
        var_columns=frozenset(),
    )
    with pytest.raises(ValueError, match="would not be drawn"):
        launch_defaults({"vector_field_default": "velocity"}, hidden)
    shown = launch_defaults(
        {"vector_field_default": "velocity", "embedding_defaults": {"2d": "X_pca"}}, hidden
    )
    assert shown["vectorFieldDefault"] == "velocity"


def test_record_arguments_from_a_prepared_dataset():
    uns = {
        "cellucid": {
            "schema": np.int64(1),
            "id": np.str_("old"),
            "name": "Old",
            "citation": {"text": "T", "url": "https://t.org"},
            "source": {"name": "S"},
            "defaults": {
                "embedding2d": {"key": "X_pca", "columns": np.array([1, 0])},
                "embedding3d": "X_umap_3d",
                "normalizeEmbeddings": np.bool_(False),
                "centroidMinPoints": np.int64(4),
                "obsKeys": np.array(["batch"], dtype=object),
            },
            "outlierQuantiles": {"fields": {"x": np.zeros(3)}},
        }
    }
    assert record_arguments(uns) == {
        "dataset_id": "old",
        "dataset_name": "Old",
        "citation_text": "T",
        "citation_url": "https://t.org",
        "source_name": "S",
        "embedding_defaults": {"2d": ("X_pca", [1, 0]), "3d": "X_umap_3d"},
        "obs_keys": ["batch"],
        "normalize_embeddings": False,
        "centroid_min_points": 4,
    }
    assert type(record_arguments(uns)["centroid_min_points"]) is int
    assert record_arguments({}) == {}
    with pytest.raises(TypeError, match="uns\\['cellucid'\\] must be a mapping"):
        record_arguments({"cellucid": "x"})
