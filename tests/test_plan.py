"""The planner alone: a pure function from an input summary and settings to a frozen plan."""

from __future__ import annotations

import builtins
import dataclasses
from pathlib import Path

import pytest

from cellucid.sinks.folder.plan import InputSummary, ObsFieldSummary, Settings, make_plan


def settings(**changes) -> Settings:
    base = Settings(
        out_dir=Path("/nowhere/export"),
        layout="key",
        compression=6,
        var_quantization=8,
        obs_continuous_quantization=None,
        obs_categorical_dtype="auto",
        centroid_outlier_quantile=0.95,
        centroid_min_points=10,
        obs_manifest_filename="obs_manifest.json",
        obs_binary_dirname="obs",
        var_manifest_filename="var_manifest.json",
        var_binary_dirname="var",
        connectivity_manifest_filename="connectivity_manifest.json",
        connectivity_binary_dirname="connectivity",
        var_gene_id_column="index",
        dataset_name=None,
        dataset_description=None,
        dataset_id=None,
        source={},
    )
    return dataclasses.replace(base, **changes)


SUMMARY = InputSummary(
    n_cells=70_000,
    dims=(2, 3),
    vector_dims={"velocity_umap": (2,), "drift_umap": (1, 3)},
    obs=(
        ObsFieldSummary("cell type", "categorical", "uint8"),
        ObsFieldSummary("score", "continuous"),
        ObsFieldSummary("many", "categorical", "uint16"),
    ),
    gene_ids=("CD3E", "MS4A1", "HLA-DRA"),
    n_matrix_genes=10,
    has_connectivity=True,
)


@pytest.fixture(autouse=True)
def no_io(monkeypatch):
    """The planner must not touch the file system."""

    def refuse(*args, **kwargs):
        raise AssertionError("the planner opened a file")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(Path, "exists", refuse)
    monkeypatch.setattr(Path, "mkdir", refuse)


def test_key_layout_names_files_by_safe_key():
    plan = make_plan(SUMMARY, settings())
    assert plan.points == ((2, "points_2d.bin.gz"), (3, "points_3d.bin.gz"))
    assert [f.paths for f in plan.obs] == [
        ("obs/cell_type.codes.u8.gz", "obs/cell_type.outliers.f32.gz"),
        ("obs/score.values.f32.gz",),
        ("obs/many.codes.u16.gz", "obs/many.outliers.f32.gz"),
    ]
    assert plan.genes.paths == (
        "var/CD3E.values.u8.gz",
        "var/MS4A1.values.u8.gz",
        "var/HLA-DRA.values.u8.gz",
    )
    assert [(v.field_id, v.paths, v.skipped_dims) for v in plan.vectors] == [
        ("drift_umap", ("vectors/drift_umap_3d.bin.gz",), (1,)),
        ("velocity_umap", ("vectors/velocity_umap_2d.bin.gz",), ()),
    ]
    assert plan.edges.index_dtype == "uint32"
    assert plan.obs_patterns["codes"] == "obs/{key}.codes.{ext}.gz"
    assert plan.files()[-4:] == (
        "obs_manifest.json",
        "var_manifest.json",
        "connectivity_manifest.json",
        "dataset_identity.json",
    )
    assert plan.folders() == ("obs", "var", "connectivity", "vectors")


def test_index_layout_numbers_fields_genes_and_vectors():
    plan = make_plan(SUMMARY, settings(layout="index", compression=None))
    assert [f.index for f in plan.obs] == [0, 1, 2]
    assert [f.paths for f in plan.obs] == [
        ("obs/0.codes.u8", "obs/0.outliers.f32"),
        ("obs/1.values.f32",),
        ("obs/2.codes.u16", "obs/2.outliers.f32"),
    ]
    assert plan.genes.paths == ("var/0.values.u8", "var/1.values.u8", "var/2.values.u8")
    assert plan.genes.pattern == "var/{index}.values.u8"
    assert [v.paths for v in plan.vectors] == [("vectors/0_3d.bin",), ("vectors/1_2d.bin",)]


def test_plan_is_frozen_and_lists_each_file_once():
    plan = make_plan(SUMMARY, settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.layout = "index"
    assert len(set(plan.files())) == len(plan.files())


def test_key_layout_refuses_keys_sharing_a_file_but_index_layout_takes_them():
    summary = dataclasses.replace(
        SUMMARY, obs=(ObsFieldSummary("a b", "continuous"), ObsFieldSummary("a_b", "continuous"))
    )
    with pytest.raises(ValueError, match="'a b' and 'a_b' would both be written as 'a_b'"):
        make_plan(summary, settings())
    plan = make_plan(summary, settings(layout="index"))
    assert [f.paths[0] for f in plan.obs] == ["obs/0.values.f32.gz", "obs/1.values.f32.gz"]


def test_index_layout_refuses_what_its_viewer_cannot_read():
    summary = dataclasses.replace(SUMMARY, gene_ids=("G1", " "))
    with pytest.raises(ValueError, match="non-empty gene id"):
        make_plan(summary, settings(layout="index"))
    with pytest.raises(ValueError, match="obs_manifest_filename must be 'obs_manifest.json'"):
        make_plan(SUMMARY, settings(layout="index", obs_manifest_filename="cells.json"))
    with pytest.raises(ValueError, match="needs source_name"):
        make_plan(SUMMARY, settings(layout="index", source={"url": "https://example.org"}))
    with pytest.raises(ValueError, match="Unknown layout 'tree'"):
        make_plan(SUMMARY, settings(layout="tree"))


def test_no_genes_no_graph_no_vectors():
    summary = dataclasses.replace(
        SUMMARY, gene_ids=None, has_connectivity=False, vector_dims={}, n_matrix_genes=0
    )
    plan = make_plan(summary, settings())
    assert plan.genes is None and plan.edges is None and plan.vectors == ()
    assert plan.files()[-2:] == ("obs_manifest.json", "dataset_identity.json")
    assert plan.folders() == ("obs",)
