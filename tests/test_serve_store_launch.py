"""Launch choices given when a store is served (serving/stores/launch.py): checked against
the store's metadata, published in upstream 0.9.5's keys and order, compared with upstream's
server choosing the same for the same store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import anndata
import pytest

import cellucid
from cellucid.serving.stores.launch import launch_defaults_for, read_metadata

from .reference095 import TIMEOUT, reference095_fixture  # noqa: F401 - the fixture
from .test_store_prepare import make_atlas

#: choice sets both servers accept, and what each publishes
ACCEPTED = [
    {},
    {"latent_key": "X_pca"},
    {"obs_keys": ["cell_type", "score"], "centroid_min_points": 3},
    {"embedding_keys": {"2d": "X_umap"}},
    {"embedding_keys": {"2d": ("X_pca", [2, 0]), "3d": "X_pca"}},
    {"knn_key": "connectivities"},
    {"expression_source": "layer:counts", "gene_id_column": "symbol"},
    {"expression_source": "raw"},
    {"expression_source": "X", "normalize_embeddings": False},
    {"vector_field_default": "velocity", "embedding_keys": {"2d": "X_umap"}},
]
#: choice sets both refuse (naming the keyword)
REFUSED = [
    ({"latent_key": "X_nope"}, "latent_key"),
    ({"obs_keys": ["missing"]}, "obs_keys"),
    ({"knn_key": "distances"}, "knn_key"),
    ({"expression_source": "layer:nope"}, "expression_source"),
    ({"expression_source": "spliced"}, "expression_source"),
    ({"gene_id_column": "nope"}, "gene_id_column"),
    ({"embedding_keys": {"2d": ("X_pca", [0, 9])}}, "embedding_keys"),
    ({"centroid_min_points": 0}, "centroid_min_points"),
    ({"modality": "rna"}, "modality"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store our writer made, then given a layer and raw (which another tool may write
    into a Cellucid-ready .h5ad; the writer itself carries neither)."""
    folder = tmp_path_factory.mktemp("launch")
    written = cellucid.prepare(
        folder / "written.h5ad",
        format="h5ad",
        data=make_atlas(150, 12),
        dataset_name="atlas",
        dataset_id="atlas",
    )
    adata = anndata.read_h5ad(written)
    adata.layers["counts"] = adata.X.copy()
    adata.raw = adata.copy()
    adata.write_h5ad(folder / "atlas.h5ad")
    return folder / "atlas.h5ad"


def test_the_metadata_is_read_without_the_matrices(store):
    metadata = read_metadata(store)
    assert metadata.stored.obsm == {"X_umap": 2, "X_pca": 8, "velocity_umap": 2}
    assert {"cell_type", "score"} <= metadata.stored.obs_columns
    assert "symbol" in metadata.stored.var_columns
    assert metadata.obsp == {"connectivities"}
    assert metadata.layers == {"counts"}
    assert metadata.has_x and metadata.raw_var_columns is not None


def test_nothing_chosen_publishes_nothing(store):
    assert launch_defaults_for(store, {}) == {}
    assert launch_defaults_for(store, {"latent_key": None}) == {}


def test_choices_in_the_apps_keys_and_order(store):
    found = launch_defaults_for(
        store,
        {
            "obs_keys": ["score"],
            "latent_key": "X_pca",
            "knn_key": "connectivities",
            "embedding_keys": {"2d": "X_umap"},
            "expression_source": "layer:counts",
        },
    )
    assert list(found) == ["embedding2d", "knn", "expression", "latentKey", "obsKeys"]
    assert found["embedding2d"] == {"key": "X_umap", "columns": [0, 1]}
    assert found["expression"] == "layers/counts"


@pytest.mark.parametrize(("choices", "keyword"), REFUSED)
def test_a_choice_the_store_cannot_take_names_its_keyword(store, choices, keyword):
    with pytest.raises((TypeError, ValueError), match=keyword):
        launch_defaults_for(store, choices)


def test_an_unknown_choice_is_refused(store):
    with pytest.raises(TypeError, match="compression"):
        launch_defaults_for(store, {"compression": 6})


# Runs in upstream's interpreter: the defaults its server publishes for each choice set,
# or the class of the error it raises.
_UPSTREAM = """
import json, sys
from cellucid.anndata_server import AnnDataServer
spec = json.load(sys.stdin)
def tupled(choices):
    keys = choices.get("embedding_keys")
    if keys:
        choices["embedding_keys"] = {s: tuple(v) if isinstance(v, list) else v
                                     for s, v in keys.items()}
    return choices
answers = []
for choices in spec["choices"]:
    try:
        server = AnnDataServer(spec["path"], port=0, quiet=True, serve_web_ui=False,
                               **tupled(choices))
        document = server._datasets_document()["datasets"][0]
        answers.append({"defaults": document["anndata"]["defaults"]})
    except (TypeError, ValueError) as error:
        answers.append({"error": type(error).__name__, "message": str(error)})
print(json.dumps(answers))
"""


def _upstream(python: str, store: Path, choice_sets: list[dict]) -> list[dict]:
    spec = json.dumps({"path": str(store), "choices": choice_sets})
    result = subprocess.run(
        [python, "-I", "-c", _UPSTREAM],
        input=spec,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _json(value):
    return json.loads(json.dumps(value))


def test_the_same_defaults_as_upstreams_server(reference095, store):
    theirs = _upstream(reference095, store, ACCEPTED)
    for choices, answer in zip(ACCEPTED, theirs, strict=True):
        assert "defaults" in answer, (choices, answer)
        ours = launch_defaults_for(store, choices)
        assert list(ours) == list(answer["defaults"]), choices
        assert _json(ours) == answer["defaults"], choices


def test_upstreams_server_refuses_the_same_choices(reference095, store):
    theirs = _upstream(reference095, store, [choices for choices, _ in REFUSED])
    for (choices, keyword), answer in zip(REFUSED, theirs, strict=True):
        assert "error" in answer, (choices, answer)
        assert keyword in answer["message"], (choices, answer)
