"""Paths that are not AnnData end in one line naming the path and what to do: a ValueError
or FileNotFoundError subclass from prepare_anndata(), exit code 1 from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pytest
import zarr

from cellucid.anndata_input import prepare_anndata
from cellucid.cli import main
from cellucid.errors import InputFileError, InputNotFoundError, OutputPathError


def plain_folder(tmp: Path) -> Path:
    folder = tmp / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a store\n")
    return folder


def text_file(tmp: Path) -> Path:
    path = tmp / "atlas.h5ad"
    path.write_text("<html>404 Not Found</html>\n")
    return path


def small_h5ad(tmp: Path) -> Path:
    path = tmp / "small.h5ad"
    rng = np.random.default_rng(0)
    adata = ad.AnnData(X=rng.random((60, 8)).astype(np.float32))
    adata.obsm["X_umap"] = rng.random((60, 2))
    adata.write_h5ad(path)
    return path


def truncated_h5ad(tmp: Path) -> Path:
    path = small_h5ad(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def other_hdf5(tmp: Path) -> Path:
    path = tmp / "weights.h5"
    with h5py.File(path, "w") as f:
        f["layer1/kernel"] = np.zeros((3, 3))
    return path


def other_zarr(tmp: Path) -> Path:
    path = tmp / "images.zarr"
    zarr.open_group(path, mode="w").create_array("pixels", shape=(4, 4), dtype="f4")
    return path


def missing(tmp: Path) -> Path:
    return tmp / "nope.h5ad"


CASES: list[tuple[Callable[[Path], Path], type[Exception], str]] = [
    (plain_folder, InputFileError, "is a folder but not a Zarr store"),
    (text_file, InputFileError, "is not an HDF5 file"),
    (truncated_h5ad, InputFileError, "truncated or damaged"),
    (other_hdf5, InputFileError, "is an HDF5 file but not an AnnData"),
    (other_zarr, InputFileError, "is a Zarr store but not an AnnData"),
    (missing, InputNotFoundError, "Input not found"),
]
IDS = [case[0].__name__ for case in CASES]


@pytest.mark.parametrize(("make", "error", "words"), CASES, ids=IDS)
def test_python_error(make, error, words, tmp_path):
    path = make(tmp_path)
    with pytest.raises(error) as raised:
        prepare_anndata(path, tmp_path / "out", quiet=True)
    message = str(raised.value)
    assert words in message and str(path) in message and "\n" not in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("make", "error", "words"), CASES, ids=IDS)
def test_cli_error(make, error, words, tmp_path, capsys):
    path = make(tmp_path)
    assert main(["prepare", str(path), str(tmp_path / "out"), "--quiet"]) == 1
    stderr = capsys.readouterr().err.strip()
    assert stderr.startswith("cellucid prepare: error: ") and words in stderr
    assert "\n" not in stderr and str(path) in stderr
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file(tmp_path, capsys):
    source = small_h5ad(tmp_path)
    target = tmp_path / "export"
    target.write_text("keep me\n")
    with pytest.raises(OutputPathError, match="is an existing file"):
        prepare_anndata(source, target, quiet=True)
    assert main(["prepare", str(source), str(target), "--quiet"]) == 1
    stderr = capsys.readouterr().err.strip()
    assert "is an existing file" in stderr and str(target) in stderr and "\n" not in stderr
    assert target.read_text() == "keep me\n"


def test_error_classes_are_the_builtin_kinds():
    assert issubclass(InputFileError, ValueError)
    assert issubclass(OutputPathError, ValueError)
    assert issubclass(InputNotFoundError, FileNotFoundError)
