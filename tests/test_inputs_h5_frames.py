"""obs/var of an .h5ad read with h5py alone: the same DataFrame as anndata reads."""

from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from anndata.io import read_elem

from cellucid.inputs.h5_frames import read_h5_frame


def _obs(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "cell_type": pd.Categorical(["T", "B", "NK"] * (n // 3), categories=["NK", "T", "B"]),
            "stage": pd.Categorical(["early", "late"] * (n // 2), ordered=True),
            "numeric_groups": pd.Categorical([1, 2, 3, 4] * (n // 4)),
            "n_counts": rng.random(n).astype(np.float32),
            "n_genes": rng.integers(0, 1000, n),
            "is_doublet": rng.random(n) > 0.5,
            "maybe": pd.array([1, None, 3] * (n // 3), dtype="Int64"),
            "flag": pd.array([True, None, False] * (n // 3), dtype="boolean"),
            "label": [f"cell {i} é" for i in range(n)],
        },
        index=[f"c{i}" for i in range(n)],
    )
    frame.loc["c0", "n_counts"] = np.nan
    return frame


def _write(path, obs: pd.DataFrame, var: pd.DataFrame | None = None) -> None:
    var = var if var is not None else pd.DataFrame(index=[f"g{i}" for i in range(3)])
    ad.AnnData(obs=obs, var=var, X=np.zeros((len(obs), len(var)), np.float32)).write_h5ad(path)


@pytest.mark.parametrize("name", ["obs", "var"])
def test_tables_read_as_anndata_reads_them(tmp_path, name):
    var = pd.DataFrame(
        {"gene_symbols": ["A", "B", "C"], "highly_variable": [True, False, True]},
        index=pd.Index(["g0", "g1", "g2"], name="gene_ids"),
    )
    _write(tmp_path / "a.h5ad", _obs(), var)
    with h5py.File(tmp_path / "a.h5ad", "r") as f:
        ours = read_h5_frame(f[name])
        theirs = read_elem(f[name])
    assert ours is not None
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.index.name == theirs.index.name


def test_a_table_without_columns(tmp_path):
    _write(tmp_path / "a.h5ad", pd.DataFrame(index=[f"c{i}" for i in range(5)]))
    with h5py.File(tmp_path / "a.h5ad", "r") as f:
        ours = read_h5_frame(f["obs"])
        theirs = read_elem(f["obs"])
    assert ours is not None and list(ours.index) == [f"c{i}" for i in range(5)]
    pd.testing.assert_frame_equal(ours, theirs)


def test_an_unknown_encoding_is_left_to_anndata(tmp_path):
    _write(tmp_path / "a.h5ad", _obs())
    with h5py.File(tmp_path / "a.h5ad", "r+") as f:
        f["obs/cell_type"].attrs["encoding-type"] = "some-future-encoding"
    with h5py.File(tmp_path / "a.h5ad", "r") as f:
        assert read_h5_frame(f["obs"]) is None
        assert read_h5_frame(f["obs/n_counts"]) is None  # not a table at all


def test_an_older_dataframe_version_is_left_to_anndata(tmp_path):
    _write(tmp_path / "a.h5ad", _obs())
    with h5py.File(tmp_path / "a.h5ad", "r+") as f:
        f["obs"].attrs["encoding-version"] = "0.1.0"
    with h5py.File(tmp_path / "a.h5ad", "r") as f:
        assert read_h5_frame(f["obs"]) is None
