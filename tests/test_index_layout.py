"""The index layout of upstream cellucid 0.9.1, exported, read back and validated."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from cellucid import prepare
from cellucid.sinks.folder.layouts import detect_layout, unregister_layout
from cellucid.verify import validate_export

from .decode import read_array, read_json
from .golden import golden_atlas


def export(tmp_path, name, **options):
    atlas = golden_atlas()
    atlas["obs"]["stage"] = pd.Categorical(np.arange(len(atlas["obs"])) % 3)
    return prepare(
        **atlas,
        out_dir=tmp_path / name,
        dataset_name="golden",
        quiet=True,
        compression=6,
        var_quantization=8,
        **options,
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return export(root, "key"), export(root, "index", layout="index")


def test_index_export_validates_with_the_index_rules(pair):
    _, index = pair
    report = validate_export(index)
    assert report.ok, report.format()
    assert report.layout == "index"
    assert detect_layout(index) == "index" and detect_layout(pair[0]) == "key"


def test_tuples_paths_and_identity_follow_upstream_0_9_1(pair):
    _, index = pair
    obs = read_json(index / "obs_manifest.json")
    assert obs["_obsSchemas"]["continuous"]["pathPattern"] == "obs/{index}.values.f32.gz"
    assert obs["_obsSchemas"]["categorical"]["codesPathPattern"] == "obs/{index}.codes.{ext}.gz"
    keys = ["cell type", "batch", "flag", "score", "n_counts", "many", "stage"]
    assert [e[:2] for e in obs["_continuousFields"]] == [[3, "score"], [4, "n_counts"]]
    categorical = {e[1]: e for e in obs["_categoricalFields"]}
    assert [e[0] for e in obs["_categoricalFields"]] == [0, 1, 2, 5, 6]
    assert all(len(e) == 6 for e in obs["_categoricalFields"])
    # categories are JSON scalars, not strings
    assert categorical["stage"][2] == [0, 1, 2]
    assert categorical["flag"][2] == [False, True]
    assert {c["category"] for c in categorical["stage"][5]["2"]} == {0, 1, 2}
    var = read_json(index / "var_manifest.json")
    assert var["var_gene_id_column"] is None
    assert var["fields"][0][:2] == [0, "Gene-0"] and len(var["fields"][0]) == 4
    identity = read_json(index / "dataset_identity.json")
    assert identity["stats"]["n_genes"] == 40
    assert identity["export_settings"]["obs_categorical_dtype"] == "uint16"
    fields = identity["vector_fields"]["fields"]
    assert fields["drift_umap"]["files"] == {"3d": "vectors/0_3d.bin.gz"}
    assert fields["velocity_umap"]["label"] == "velocity_umap"
    assert {f["basis"] for f in fields.values()} == {"umap"}
    assert sorted(p.name for p in (index / "obs").iterdir())[:3] == [
        "0.codes.u8.gz",
        "0.outliers.f32.gz",
        "1.codes.u8.gz",
    ]
    assert keys[5] == "many" and (index / "obs" / "5.codes.u16.gz").exists()


def test_payloads_hold_the_same_values_in_both_layouts(pair):
    key, index = pair
    for i in (0, 17, 39):
        a = read_array(key / "var" / f"Gene-{i}.values.u8.gz", "uint8")
        b = read_array(index / "var" / f"{i}.values.u8.gz", "uint8")
        assert np.array_equal(a, b)
    a = read_array(key / "obs" / "cell_type.codes.u8.gz", "uint8")
    assert np.array_equal(a, read_array(index / "obs" / "0.codes.u8.gz", "uint8"))
    assert (key / "points_3d.bin.gz").read_bytes() == (index / "points_3d.bin.gz").read_bytes()


def test_validator_finds_broken_index_rules(pair, tmp_path):
    import shutil

    _, index = pair
    broken = tmp_path / "broken"
    shutil.copytree(index, broken)
    path = broken / "var_manifest.json"
    manifest = json.loads(path.read_text())
    manifest["fields"][1][0] = 0
    manifest["_varSchema"]["pathPattern"] = "var/gene-{index}.values.u8.gz"
    path.write_text(json.dumps(manifest))
    errors = "\n".join(validate_export(broken).errors)
    assert "not an index-layout pattern" in errors
    assert "field indices are not exactly 0..39" in errors


def test_a_new_layout_needs_only_its_module(tmp_path):
    """A layout written in a module of its own, registered, exports and validates."""
    module_path = tmp_path / "prefixed_layout.py"
    module_path.write_text(
        textwrap.dedent(
            """
            from cellucid.sinks.folder.format.naming import safe_name
            from cellucid.sinks.folder.layouts.key import KeyLayout
            from cellucid.sinks.folder.layouts.registry import register_layout

            class PrefixedLayout(KeyLayout):
                name = "prefixed"
                token = "{field}"

                def stem(self, key, index):
                    return "k_" + safe_name(key)

            register_layout(PrefixedLayout())
            """
        )
    )
    spec = importlib.util.spec_from_file_location("prefixed_layout", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["prefixed_layout"] = module
    try:
        spec.loader.exec_module(module)
        out = export(tmp_path, "prefixed", layout="prefixed")
        assert (out / "var" / "k_Gene-0.values.u8.gz").exists()
        assert (out / "obs" / "k_cell_type.codes.u8.gz").exists()
        report = validate_export(out)
        assert report.ok and report.layout == "prefixed", report.format()
    finally:
        unregister_layout("prefixed")
        sys.modules.pop("prefixed_layout", None)
