"""Reruns recognise a finished export without reading the inputs; resumes reuse checksums.

The stamps live outside the export folder (``$CELLUCID_STAMP_DIR``), so a finished folder
stays byte-identical across runs (tests/test_whole_tree.py and test_determinism.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cellucid.exporter as exporter
from cellucid import prepare, prepare_anndata
from cellucid.demo import make_demo_arrays
from cellucid.engine.identity import input_identity
from cellucid.errors import ExportMismatchError
from cellucid.sinks.folder.state import read_record, write_record

N_CELLS, N_GENES = 600, 40


@pytest.fixture
def stamps(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "stamps"
    monkeypatch.setenv("CELLUCID_STAMP_DIR", str(folder))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return folder


@pytest.fixture(scope="module")
def arrays() -> dict:
    return make_demo_arrays(N_CELLS, N_GENES)


def _arguments(arrays: dict, out: Path, **change) -> dict:
    return {
        "latent_space": arrays["X_pca"],
        "obs": arrays["obs"],
        "var": arrays["var"],
        "gene_expression": arrays["X"],
        "connectivities": arrays["connectivities"],
        "X_umap_2d": arrays["X_umap_2d"],
        "X_umap_3d": arrays["X_umap_3d"],
        "vector_fields": {"velocity_umap_2d": arrays["velocity_umap_2d"]},
        "out_dir": out,
        "var_quantization": 8,
        "compression": 6,
    } | change


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file (hidden ones too): its digest and modification time."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _no_reading(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the inputs were read")

    monkeypatch.setattr(exporter, "check_inputs", refuse)
    monkeypatch.setattr(exporter, "input_checksums", refuse)


def test_finished_export_is_recognised_without_reading(
    stamps, arrays, tmp_path, capsys, monkeypatch
):
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    before = _tree(out)
    _no_reading(monkeypatch)
    assert prepare(**_arguments(arrays, out)) == out
    line = capsys.readouterr().out.strip()
    assert line == (
        f"✓ {out} already holds this export, finished, from the same inputs and settings "
        "(unchanged since): nothing to write. Use force=True to write it again."
    )
    assert _tree(out) == before  # not one file rewritten, nothing added
    # the stamp is outside the folder, and nothing in the folder names it
    assert [p.suffix for p in stamps.iterdir()] == [".json"]
    assert str(stamps) not in "".join(p.read_text("latin-1") for p in out.rglob("*") if p.is_file())


def test_two_runs_with_stamps_give_identical_folders(stamps, arrays, tmp_path):
    first = prepare(**_arguments(arrays, tmp_path / "a" / "export", quiet=True))
    second = prepare(**_arguments(arrays, tmp_path / "b" / "export", quiet=True))
    strip = {k: v[0] for k, v in _tree(first).items()}
    assert strip == {k: v[0] for k, v in _tree(second).items()}
    assert len(list(stamps.iterdir())) == 2


def test_changed_in_memory_input_is_read_and_refused(stamps, arrays, tmp_path):
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    latent = arrays["X_pca"].copy()
    latent[5, 0] += 1
    with pytest.raises(ExportMismatchError, match="latent_space changed in rows 0-65,535"):
        prepare(**_arguments(arrays, out, latent_space=latent, quiet=True))


def test_changed_settings_or_force_or_a_missing_file_take_the_full_path(
    stamps, arrays, tmp_path, monkeypatch
):
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    before = {k: v[0] for k, v in _tree(out).items()}
    calls = []
    real = exporter.check_inputs
    monkeypatch.setattr(exporter, "check_inputs", lambda *a, **k: calls.append(1) or real(*a, **k))
    gene = next((out / "var").iterdir())
    gene.unlink()
    prepare(**_arguments(arrays, out, quiet=True))  # a file missing: written again
    assert {k: v[0] for k, v in _tree(out).items()} == before
    prepare(**_arguments(arrays, out, quiet=True, force=True))
    assert len(calls) == 2
    prepare(**_arguments(arrays, out, quiet=True))  # finished again: the shortcut
    assert len(calls) == 2
    with pytest.raises(ExportMismatchError, match="settings differ: compression"):
        prepare(**_arguments(arrays, out, quiet=True, compression=5))


def test_resume_takes_the_record_checksums(stamps, arrays, tmp_path, monkeypatch):
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    expected = {k: v[0] for k, v in _tree(out).items()}
    # as if the run had stopped before its last files: record unfinished, files missing
    record = read_record(out)
    write_record(out, replace(record, complete=False))
    (out / "dataset_identity.json").unlink()
    for gene in list((out / "var").iterdir())[:5]:
        gene.unlink()
    monkeypatch.setattr(exporter, "input_checksums", lambda *a, **k: pytest.fail("read again"))
    prepare(**_arguments(arrays, out, quiet=True))
    assert {k: v[0] for k, v in _tree(out).items()} == expected


def test_without_stamps_every_rerun_checks(tmp_path, arrays, monkeypatch):
    monkeypatch.setenv("CELLUCID_STAMP_DIR", "")
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    calls = []
    real = exporter.input_checksums
    monkeypatch.setattr(
        exporter, "input_checksums", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    prepare(**_arguments(arrays, out, quiet=True))
    assert calls == [1]


def test_an_unwritable_stamp_folder_only_costs_the_shortcut(tmp_path, arrays, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CELLUCID_STAMP_DIR", str(blocker / "stamps"))
    out = prepare(**_arguments(arrays, tmp_path / "e", quiet=True))
    assert read_record(out).complete
    prepare(**_arguments(arrays, out, quiet=True))


def _write_h5ad(path: Path, arrays: dict, scale: float = 1.0) -> None:
    adata = ad.AnnData(
        X=arrays["X"] * scale,
        obs=arrays["obs"],
        var=arrays["var"],
        obsm={"X_umap": arrays["X_umap_2d"], "X_pca": arrays["X_pca"]},
        obsp={"connectivities": arrays["connectivities"]},
    )
    adata.write_h5ad(path)


def _close_store_handles() -> None:
    """The readers keep one handle per file and process; HDF5 cannot rewrite an open file."""
    from cellucid.inputs import store_arrays

    for handle in store_arrays._HANDLES.values():
        if isinstance(handle, h5py.File):
            handle.close()
    store_arrays._HANDLES.clear()


def test_file_input_is_told_by_its_stat(stamps, arrays, tmp_path, monkeypatch):
    source = tmp_path / "atlas.h5ad"
    _write_h5ad(source, arrays)
    out = prepare_anndata(source, tmp_path / "e", quiet=True)
    calls = []
    real = exporter.check_inputs
    monkeypatch.setattr(exporter, "check_inputs", lambda *a, **k: calls.append(1) or real(*a, **k))
    prepare_anndata(source, out, quiet=True)
    assert calls == []  # the file's stat is the stamp's: nothing read
    # the same bytes with another modification time: read and checked, then kept
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    prepare_anndata(source, out, quiet=True)
    assert calls == [1]
    prepare_anndata(source, out, quiet=True)
    assert calls == [1]
    # other values in the file, same size and modification time: the change time differs
    _close_store_handles()
    _write_h5ad(source, arrays, scale=2.0)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(ExportMismatchError, match="gene_expression changed"):
        prepare_anndata(source, out, quiet=True)


def test_identities_see_every_change_and_know_what_they_cannot_tell(tmp_path):
    dense = np.arange(12, dtype=np.float32).reshape(4, 3)
    changed = dense.copy()
    changed[3, 2] = -1
    assert input_identity(dense) != input_identity(changed)
    assert input_identity(sp.csr_matrix(dense)) != input_identity(sp.csr_matrix(changed))
    frame = pd.DataFrame({"kind": pd.Categorical(["a", "b"], categories=["a", "b"])})
    reordered = pd.DataFrame({"kind": pd.Categorical(["a", "b"], categories=["b", "a"])})
    assert input_identity(frame) != input_identity(reordered)
    assert input_identity(["g1", "g2"]) != input_identity(["g2", "g1"])
    import dask.array as da

    assert input_identity(da.zeros((4, 3))) is None
    assert input_identity({"v": da.zeros((4, 2))}) is None
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["x"] = dense
    with h5py.File(path, "r+") as f:
        assert input_identity(f["x"]) is None  # open for writing: no stat can tell
    with h5py.File(path, "r") as f:
        first = input_identity(f["x"])
        assert json.loads(first)[:3] == ["h5", os.path.realpath(path), "/x"]


def test_a_strided_array_is_told_in_slices_as_its_copy(monkeypatch):
    from cellucid.engine import identity

    values = np.random.default_rng(0).normal(size=(500, 7))
    monkeypatch.setattr(identity, "_SLICE_BYTES", 100)
    assert input_identity(values.T) == input_identity(values.T.copy())
    assert input_identity(values[::3]) == input_identity(values[::3].copy())
