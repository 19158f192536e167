"""Key-layout exports follow the strict contract of the BSD viewer build b343877."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from cellucid import prepare
from cellucid.sinks.folder.plan.build import edge_index_dtype
from cellucid.verify import validate_export

from .decode import read_array
from .golden import golden_atlas


@pytest.fixture(scope="module")
def strict_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("strict") / "export"
    return prepare(**golden_atlas(), out_dir=out, compression=6, var_quantization=8, quiet=True)


def test_index_dtype_is_the_smallest_that_fits():
    assert edge_index_dtype(65536) == "uint16"
    assert edge_index_dtype(65537) == "uint32"


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf])
def test_bad_connectivity_values_are_refused_before_writing(tmp_path, bad):
    atlas = golden_atlas()
    graph = atlas["connectivities"].tolil()
    graph[5, 9] = bad
    atlas["connectivities"] = sp.csr_matrix(graph)
    with pytest.raises(ValueError, match=r"entry \(5, 9\) is"):
        prepare(**atlas, out_dir=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()


def test_identity_lists_obs_fields_in_manifest_order(strict_export):
    identity = json.loads((strict_export / "dataset_identity.json").read_text())
    manifest = json.loads((strict_export / "obs_manifest.json").read_text())
    keys = [f["key"] for f in identity["obs_fields"]]
    assert keys == [e[0] for e in manifest["_continuousFields"]] + [
        e[0] for e in manifest["_categoricalFields"]
    ]
    assert validate_export(strict_export).ok


def test_validator_refuses_strict_violations(strict_export, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(strict_export, broken)
    identity = json.loads((broken / "dataset_identity.json").read_text())
    identity["obs_fields"].reverse()
    (broken / "dataset_identity.json").write_text(json.dumps(identity, indent=2))
    manifest = json.loads((broken / "connectivity_manifest.json").read_text())
    weights = read_array(broken / manifest["weightsPath"], "float64").copy()
    weights[0] = 0.0
    import gzip

    (broken / manifest["weightsPath"]).write_bytes(gzip.compress(weights.tobytes(), mtime=0))
    del manifest["weight_bytes"]
    (broken / "connectivity_manifest.json").write_text(json.dumps(manifest))
    errors = "\n".join(validate_export(broken).errors)
    assert "obs_fields must list the obs manifest's fields in its order" in errors
    assert "every edge weight must be finite and > 0" in errors
    assert "missing keys ['weight_bytes']" in errors


def test_keys_the_viewer_cannot_name_are_refused(tmp_path):
    atlas = golden_atlas()
    atlas["obs"]["!!!"] = 1.0
    with pytest.raises(ValueError, match=r"'!!!' has no letter, digit"):
        prepare(**atlas, out_dir=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()


def test_source_without_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="needs source_name"):
        prepare(**golden_atlas(), out_dir=tmp_path / "x", source_url="https://x.org", quiet=True)


def test_graph_too_large_for_the_viewer_is_refused(tmp_path, monkeypatch):
    import cellucid.sinks.folder.plan.build

    monkeypatch.setattr(cellucid.sinks.folder.plan.build, "MAX_GRAPH_BYTES", 10_000)
    with pytest.raises(ValueError, match="the Cellucid viewer loads a graph only while"):
        prepare(**golden_atlas(), out_dir=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()


def test_n_genes_counts_the_exported_genes(tmp_path):
    out = prepare(
        **golden_atlas(), out_dir=tmp_path / "x", gene_identifiers=["Gene-3", "Gene-1"], quiet=True
    )
    identity = json.loads((out / "dataset_identity.json").read_text())
    assert identity["stats"]["n_genes"] == 2
    assert validate_export(out).ok


def test_validator_refuses_identity_the_viewer_refuses(strict_export, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(strict_export, broken)
    identity = json.loads((broken / "dataset_identity.json").read_text())
    identity["stats"]["n_genes"] = 41
    del identity["vector_fields"]["fields"]["drift_umap"]["basis"]
    identity["source"] = {"url": "https://x.org"}
    (broken / "dataset_identity.json").write_text(json.dumps(identity, indent=2))
    errors = "\n".join(validate_export(broken).errors)
    assert "stats.n_genes is 41 but the var manifest lists 40 genes" in errors
    assert "vector field 'drift_umap' must have exactly" in errors
    assert "source needs a non-empty name" in errors


def test_categories_that_read_the_same_are_refused(tmp_path):
    import pandas as pd

    atlas = golden_atlas()
    mixed = pd.Categorical([1, "1"] * (len(atlas["obs"]) // 2), categories=[1, "1"])
    atlas["obs"]["mixed"] = mixed
    with pytest.raises(ValueError, match="categories 1 and '1', which are the same text"):
        prepare(**atlas, out_dir=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()
