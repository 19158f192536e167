"""`cellucid prepare` and `cellucid demo` run as real commands in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cellucid import make_demo_anndata


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cellucid", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "atlas.h5ad"
    make_demo_anndata(n_cells=800, n_genes=40).write_h5ad(path)
    return path


def test_prepare_exports_h5ad(h5ad, tmp_path):
    out = tmp_path / "export"
    result = run_cli(
        "prepare",
        str(h5ad),
        str(out),
        "--compression",
        "6",
        "--var-quantization",
        "16",
        "--obs-key",
        "cell_type",
        "--obs-key",
        "n_counts",
        "--dataset-name",
        "CLI atlas",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "✓ Wrote dataset identity" in result.stdout
    identity = json.loads((out / "dataset_identity.json").read_text())
    assert identity["name"] == "CLI atlas"
    assert identity["stats"]["n_cells"] == 800
    assert identity["stats"]["n_genes"] == 40
    assert identity["stats"]["has_connectivity"] is True
    assert identity["export_settings"]["var_quantization"] == 16
    # the obs manifest's order: continuous fields, then categorical ones
    assert [f["key"] for f in identity["obs_fields"]] == ["n_counts", "cell_type"]
    assert sorted(identity["vector_fields"]["fields"]) == ["velocity_umap"]
    assert len(list((out / "var").glob("*.values.u16.gz"))) == 40
    assert run_cli("validate", str(out)).returncode == 0


def test_missing_file_is_one_line_error(tmp_path):
    result = run_cli("prepare", str(tmp_path / "nope.h5ad"), str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "Input not found" in result.stderr and "nope.h5ad" in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_obsm_key_is_one_line_error(h5ad, tmp_path):
    result = run_cli("prepare", str(h5ad), str(tmp_path / "out"), "--embedding", "X_tsne")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "X_tsne" in result.stderr and "X_umap" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--var-quantization", "12", "8, 16 or none"),
        ("--compression", "11", "0-9"),
        ("--centroid-outlier-quantile", "1.5", "between 0 and 1"),
    ],
)
def test_bad_option_is_one_line_error(h5ad, tmp_path, flag, value, words):
    result = run_cli("prepare", str(h5ad), str(tmp_path / "out"), flag, value)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert flag in result.stderr and words in result.stderr
    assert not (tmp_path / "out").exists()


def test_help_lists_every_prepare_option():
    result = run_cli("prepare", "--help")
    assert result.returncode == 0
    for flag in (
        "--compression",
        "--var-quantization",
        "--obs-continuous-quantization",
        "--obs-categorical-dtype",
        "--centroid-outlier-quantile",
        "--centroid-min-points",
        "--var-gene-id-column",
        "--genes-file",
        "--layer",
        "--latent-key",
        "--force",
        "--dataset-name",
        "--dataset-description",
        "--dataset-id",
        "--source-name",
        "--source-url",
        "--source-citation",
        "--obs-manifest-filename",
        "--connectivity-binary-dirname",
    ):
        assert flag in result.stdout


def test_demo_command(tmp_path):
    result = run_cli("demo", "exports/demo", "--n-cells", "500", "--n-genes", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "exports" / "demo"
    identity = json.loads((out / "dataset_identity.json").read_text())
    assert identity["stats"]["n_cells"] == 500
    assert "cellucid serve" in result.stdout
