"""validate refuses what the server refuses: unknown manifest keys, files outside the folder.

Each test tampers with a copy of a real export.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cellucid import validate_export, write_demo_export

GENE = "var/ENSG00000000003.values.u8.gz"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write_demo_export(
        tmp_path_factory.mktemp("valid") / "export", n_cells=300, n_genes=10, quiet=True
    )


@pytest.fixture
def export(pristine, tmp_path) -> Path:
    copy = tmp_path / "export"
    shutil.copytree(pristine, copy)
    assert validate_export(copy).ok
    return copy


def refused(export: Path, expected: str) -> None:
    report = validate_export(export)
    assert not report.ok
    assert any(expected in error for error in report.errors), report.format()
    cli = subprocess.run(
        [sys.executable, "-m", "cellucid", "validate", str(export)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1 and expected in cli.stdout, cli.stdout + cli.stderr


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    "name", ["obs_manifest.json", "var_manifest.json", "connectivity_manifest.json"]
)
def test_a_manifest_key_the_format_does_not_define(export, name):
    edit(export / name, lambda d: d.update(extra_key=1))
    refused(export, f"{name}: keys the format does not define ['extra_key']")


def test_a_points_file_outside_the_folder(export, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(export / "points_2d.bin.gz", outside / "points_2d.bin.gz")
    edit(
        export / "dataset_identity.json",
        lambda d: d["embeddings"]["files"].update({"2d": "../elsewhere/points_2d.bin.gz"}),
    )
    refused(export, "../elsewhere/points_2d.bin.gz: names a path outside the export folder")


def test_an_absolute_points_path(export, tmp_path):
    target = tmp_path / "points_2d.bin.gz"
    shutil.copy(export / "points_2d.bin.gz", target)
    edit(
        export / "dataset_identity.json",
        lambda d: d["embeddings"]["files"].update({"2d": str(target)}),
    )
    refused(export, f"{target}: names a path outside the export folder")


def test_a_gene_file_that_is_a_symlink_out_of_the_folder(export, tmp_path):
    target = tmp_path / "secret.values.u8.gz"
    shutil.move(export / GENE, target)
    (export / GENE).symlink_to(target)
    refused(export, f"{GENE}: {GENE} is a symlink to {target.resolve()}, outside the export folder")


def test_a_binary_folder_that_is_a_symlink_out_of_the_folder(export, tmp_path):
    shutil.move(export / "var", tmp_path / "var")
    (export / "var").symlink_to(tmp_path / "var")
    refused(export, "var is a symlink to")


def test_a_symlink_inside_the_folder_is_fine(export):
    kept = export / "var" / ".kept"
    shutil.move(export / GENE, kept)
    (export / GENE).symlink_to(kept.name)
    assert validate_export(export).ok
