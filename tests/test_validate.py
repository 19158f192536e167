"""`cellucid validate` accepts real exports and catches each corruption it claims to catch."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cellucid import validate_export, write_demo_export


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("valid")
    return {
        "gz": write_demo_export(root / "gz", n_cells=500, n_genes=20, quiet=True),
        "plain": write_demo_export(
            root / "plain",
            n_cells=500,
            n_genes=20,
            quiet=True,
            compression=None,
            var_quantization=None,
            obs_continuous_quantization=16,
        ),
    }


@pytest.fixture
def export(pristine, tmp_path, request) -> Path:
    kind = getattr(request, "param", "gz")
    copy = tmp_path / kind
    shutil.copytree(pristine[kind], copy)
    return copy


@pytest.mark.parametrize("export", ["gz", "plain"], indirect=True)
def test_real_exports_are_valid(export):
    report = validate_export(export)
    assert report.ok, report.format()
    assert report.checked_files > 20
    assert report.warnings == ()


def corrupt_and_check(export: Path, expected: str) -> None:
    report = validate_export(export)
    assert not report.ok
    assert any(expected in error for error in report.errors), report.format()


def test_truncated_file(export):
    path = export / "var" / "ENSG00000000003.values.u8.gz"
    path.write_bytes(path.read_bytes()[:-20])
    corrupt_and_check(export, "var/ENSG00000000003.values.u8.gz: truncated gzip")


def test_two_member_gzip(export):
    path = export / "points_2d.bin.gz"
    data = gzip.decompress(path.read_bytes())
    half = len(data) // 2
    path.write_bytes(gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0))
    corrupt_and_check(export, "points_2d.bin.gz: ")
    assert "after the first gzip member" in validate_export(export).format()


def test_code_out_of_range(export):
    path = export / "obs" / "cell_type.codes.u8.gz"
    codes = np.frombuffer(gzip.decompress(path.read_bytes()), np.uint8).copy()
    codes[42] = 17
    path.write_bytes(gzip.compress(codes.tobytes(), mtime=0))
    corrupt_and_check(export, "code 17 at cell 42 is neither a category")


def test_missing_file(export):
    (export / "obs" / "batch.outliers.f32.gz").unlink()
    corrupt_and_check(export, "obs/batch.outliers.f32.gz: missing")


def test_size_mismatch(export):
    path = export / "obs" / "n_counts.values.f32.gz"
    path.write_bytes(gzip.compress(b"\0" * 400, mtime=0))
    corrupt_and_check(export, "obs/n_counts.values.f32.gz: 400 bytes, expected 500 × 4")


def test_non_strict_json(export):
    path = export / "obs_manifest.json"
    path.write_text(
        path.read_text().replace(
            '"centroid_outlier_quantile": 0.95', '"centroid_outlier_quantile": NaN'
        )
    )
    corrupt_and_check(export, "obs_manifest.json: invalid JSON (non-strict JSON token NaN)")


def test_edges_out_of_order(export):
    manifest = json.loads((export / "connectivity_manifest.json").read_text())
    path = export / manifest["destinationsPath"]
    dst = np.frombuffer(gzip.decompress(path.read_bytes()), np.uint16).copy()
    dst[[0, 1]] = dst[[1, 0]]
    path.write_bytes(gzip.compress(dst.tobytes(), mtime=0))
    corrupt_and_check(export, "edges are not sorted")


def test_key_order(export):
    path = export / "var_manifest.json"
    manifest = json.loads(path.read_text())
    reordered = {"fields": manifest.pop("fields"), **manifest}
    path.write_text(json.dumps(reordered))
    corrupt_and_check(export, "var_manifest.json: keys out of order")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cellucid", "validate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exit_codes(export, tmp_path):
    ok = run_cli(str(export))
    assert ok.returncode == 0 and "valid" in ok.stdout
    (export / "var" / "ENSG00000000001.values.u8.gz").unlink()
    bad = run_cli(str(export))
    assert bad.returncode == 1 and "missing" in bad.stdout
    missing = run_cli(str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "not an export folder" in missing.stderr


def test_malformed_manifest_is_reported_not_raised(export):
    path = export / "var_manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["_varSchema"]["pathPattern"]
    path.write_text(json.dumps(manifest))
    corrupt_and_check(export, "var_manifest.json: malformed (KeyError")
