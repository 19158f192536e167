"""Inputs accepted silently or refused with unclear words (#21 items 6 and 7).

Each case runs for real into ``tmp_path``: a refusal names the parameter or file and the
fix, and leaves nothing written; what is now accepted is compared with the plain input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anndata as ad
import dask.array as da
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import ExportMismatchError, prepare, prepare_anndata
from cellucid.cli import main

N, G = 40, 6


def _arrays(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    return {
        "latent_space": rng.normal(size=(N, 3)),
        "obs": pd.DataFrame({"kind": rng.choice(["a", "b"], N), "x": rng.random(N)}),
        "var": pd.DataFrame(index=[f"g{i}" for i in range(G)]),
        "gene_expression": sp.random(N, G, density=0.3, format="csr", random_state=0),
        "X_umap_2d": rng.normal(size=(N, 2)),
        "out_dir": tmp_path / "export",
        "quiet": True,
    }


def _adata() -> ad.AnnData:
    rng = np.random.default_rng(2)
    adata = ad.AnnData(
        X=sp.csr_matrix(rng.uniform(0, 5, (N, G)).astype(np.float32)),
        obs=pd.DataFrame({"score": rng.normal(size=N)}, index=[f"c{i}" for i in range(N)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(G)]),
    )
    adata.obsm["X_umap"] = rng.normal(size=(N, 2)).astype(np.float32)
    adata.obsm["X_pca"] = rng.normal(size=(N, 4)).astype(np.float32)
    return adata


def _store(tmp_path: Path, **arguments) -> Path:
    base = {"embeddings": {"X_umap": np.zeros((N, 2))}, "dataset_id": "a", "dataset_name": "a"}
    return prepare(tmp_path / "store.zarr", format="zarr", **(base | arguments))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "dataset_identity.json"
    }


# -- item 6 ----------------------------------------------------------------------------------


def test_one_vector_field_under_two_spellings_is_refused(tmp_path):
    fields = {"velocity": np.zeros((N, 2)), "velocity_2d": np.ones((N, 2))}
    with pytest.raises(ValueError, match="holds 'velocity' and 'velocity_2d', both the 2D"):
        prepare(**_arrays(tmp_path), vector_fields=fields)
    assert not (tmp_path / "export").exists()
    # a 3D one beside a 2D one is two fields
    prepare(**_arrays(tmp_path), vector_fields={"velocity": np.zeros((N, 3)), "velocity_2d": 1 +
            np.zeros((N, 2))}, X_umap_3d=np.zeros((N, 3)))  # fmt: skip
    assert (tmp_path / "export" / "vectors").is_dir()


def test_two_obsm_spellings_of_a_vector_field_are_refused(tmp_path, capsys):
    adata = _adata()
    adata.obsm["velocity_umap"] = np.zeros((N, 2))
    adata.obsm["velocity_umap_2d"] = np.ones((N, 2))
    path = tmp_path / "atlas.h5ad"
    adata.write_h5ad(path)
    with pytest.raises(ValueError, match="obsm\\['velocity_umap'\\] and obsm\\['velocity_umap_2d'"):
        prepare_anndata(path, tmp_path / "out", quiet=True)
    assert main(["prepare", str(path), str(tmp_path / "out"), "--no-progress"]) == 1
    assert "are both the 2D vector field 'velocity_umap'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_two_obsm_keys_mapped_to_one_field_name_are_refused(tmp_path):
    adata = _adata()
    adata.obsm["drift_a"] = np.zeros((N, 2))
    adata.obsm["drift_b"] = np.ones((N, 2))
    keys = {"drift_a": "drift_umap", "drift_b": "drift_umap"}
    with pytest.raises(ValueError, match="obsm\\['drift_a'\\] and obsm\\['drift_b'\\] to the same"):
        prepare_anndata(adata, tmp_path / "out", quiet=True, vector_keys=keys)
    # a mapped name that an obsm key found by itself also takes
    adata.obsm["velocity_umap"] = np.ones((N, 2))
    with pytest.raises(ValueError, match="field 'velocity_umap'"):
        prepare_anndata(
            adata, tmp_path / "out", quiet=True, vector_keys={"drift_a": "velocity_umap"}
        )
    assert not (tmp_path / "out").exists()


def _no_x_with_layer(tmp_path: Path) -> Path:
    adata = _adata()
    adata.layers["counts"] = adata.X.copy()
    adata.X = None
    path = tmp_path / "layered.h5ad"
    adata.write_h5ad(path)
    with h5py.File(path, "r") as file:
        assert "X" not in file
    return path


def test_no_x_but_a_layer_names_layer_in_python_and_on_the_cli(tmp_path, capsys):
    path = _no_x_with_layer(tmp_path)
    with pytest.raises(ValueError, match="has no X, so no gene would be exported") as info:
        prepare_anndata(path, tmp_path / "out", quiet=True)
    assert "layer='counts' to export that layer, or include_genes=False" in str(info.value)
    assert main(["prepare", str(path), str(tmp_path / "out"), "--no-progress"]) == 1
    assert "pass --layer counts to export that layer, or --no-genes" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    out = prepare_anndata(path, tmp_path / "out", layer="counts", quiet=True)
    assert len(list((out / "var").iterdir())) == G
    prepare_anndata(path, tmp_path / "none", include_genes=False, quiet=True)


def test_no_x_and_no_layer_is_said(tmp_path, capsys):
    adata = _adata()
    adata.X = None
    path = tmp_path / "bare.h5ad"
    adata.write_h5ad(path)
    out = prepare_anndata(path, tmp_path / "out")
    said = capsys.readouterr().out
    assert f"⚠ the h5ad file {path} has no X: no gene expression is exported" in said
    assert not (out / "var").exists()


def test_no_x_but_a_layer_is_said_for_a_store(tmp_path, capsys):
    path = _no_x_with_layer(tmp_path)
    store = prepare_anndata(path, tmp_path / "s.zarr")
    out = capsys.readouterr().out
    assert "⚠ data has no X, so the store holds no gene expression; its layers (counts)" in out
    assert "gene_expression=adata.layers['counts']" in out
    assert ad.read_zarr(store).n_vars == 0


class _Changing:
    """An array whose values differ at every read (as a dask graph of random numbers)."""

    shape, dtype, ndim = (N, G), np.dtype(np.float32), 2

    def __init__(self) -> None:
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return np.full(self.shape, float(self.reads), dtype=np.float32)[key]


@pytest.mark.parametrize("bits", [8, None])
def test_values_that_change_between_two_reads_are_refused(tmp_path, bits):
    changing = da.from_array(_Changing(), chunks=(10, G), asarray=True)
    arguments = _arrays(tmp_path) | {"gene_expression": changing, "var_quantization": bits}
    with pytest.raises(ExportMismatchError, match="gave other values in rows 0-39") as info:
        prepare(**arguments)
    assert "x = x.persist()" in str(info.value)
    # no gene file, no kept block a rerun could take
    assert list((tmp_path / "export" / "var").iterdir()) == []
    assert not list((tmp_path / "export").rglob("*.pieces*"))


def test_values_that_change_between_two_reads_are_refused_by_the_store(tmp_path):
    changing = da.from_array(_Changing(), chunks=(10, G), asarray=True)
    var = pd.DataFrame(index=[f"g{i}" for i in range(G)])
    with pytest.raises(ValueError, match="gave other values in rows 0-39") as info:
        _store(tmp_path, gene_expression=changing, var=var)
    assert "nothing was written" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# -- item 7 ----------------------------------------------------------------------------------


def test_gene_identifiers_listed_twice_are_named(tmp_path, capsys):
    with pytest.raises(ValueError, match="gene_identifiers lists 'g1' more than once") as info:
        prepare(**_arrays(tmp_path), gene_identifiers=["g1", "g2", "g1"])
    assert "var" not in str(info.value)
    with pytest.raises(ValueError, match="gene_identifiers names a gene more than once \\('g1'\\)"):
        _store(tmp_path, gene_expression=np.ones((N, G)), var=_arrays(tmp_path)["var"],
               gene_identifiers=["g1", "g1"])  # fmt: skip
    path = tmp_path / "atlas.h5ad"
    _adata().write_h5ad(path)
    for out in ("cli", "cli.zarr"):
        code = main(["prepare", str(path), str(tmp_path / out), "--genes", "g2", "g2"])
        assert code == 1
        assert "--genes" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.h5ad"]


@pytest.mark.parametrize("kind", ["dataframe", "sparse"])
def test_dataframe_or_sparse_embeddings_and_latent_are_taken_by_value(tmp_path, kind):
    plain = _arrays(tmp_path)
    reference = prepare(**plain | {"out_dir": tmp_path / "plain" / "export"})

    def given(x):
        return pd.DataFrame(x) if kind == "dataframe" else sp.csr_matrix(x)

    out = prepare(
        **plain
        | {"X_umap_2d": given(plain["X_umap_2d"]), "latent_space": given(plain["latent_space"])},
        vector_fields={"velocity_2d": given(plain["X_umap_2d"] / 10)},
    )
    assert (out / "vectors").is_dir()
    reference_with_vectors = prepare(
        **plain | {"out_dir": tmp_path / "vec" / "export"},
        vector_fields={"velocity_2d": plain["X_umap_2d"] / 10},
    )
    assert _files(out) == _files(reference_with_vectors)
    assert (reference / "points_2d.bin").read_bytes() == (out / "points_2d.bin").read_bytes()
    stored = _store(tmp_path, embeddings={"X_umap": given(plain["X_umap_2d"])})
    assert np.allclose(ad.read_zarr(stored).obsm["X_umap"], plain["X_umap_2d"])


def test_a_dataframe_of_text_as_embedding_is_refused_by_name(tmp_path):
    frame = pd.DataFrame({"x": np.zeros(N), "label": ["a"] * N})
    with pytest.raises(TypeError, match="X_umap_2d is a DataFrame with columns that are not"):
        prepare(**_arrays(tmp_path) | {"X_umap_2d": frame})
    assert not (tmp_path / "export").exists()


def _unknown_chunks(x: np.ndarray) -> da.Array:
    array = da.from_array(x, chunks=10)
    return array[array[:, 0] > -np.inf]


@pytest.mark.parametrize("parameter", ["X_umap_2d", "latent_space", "gene_expression"])
def test_dask_arrays_of_unknown_chunk_sizes_name_the_parameter(tmp_path, parameter):
    arguments = _arrays(tmp_path)
    value = arguments[parameter]
    value = value.toarray() if sp.issparse(value) else value
    arguments[parameter] = _unknown_chunks(value)
    with pytest.raises(ValueError, match=f"{parameter} is a dask array with unknown chunk"):
        prepare(**arguments)
    assert not (tmp_path / "export").exists()
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        _store(tmp_path, gene_expression=_unknown_chunks(np.ones((N, G))))
    assert not (tmp_path / "store.zarr").exists()


def test_a_store_reads_embeddings_of_unknown_chunk_sizes_whole(tmp_path):
    points = np.random.default_rng(1).normal(size=(N, 2))
    store = _store(tmp_path, embeddings={"X_umap": _unknown_chunks(points)})
    assert np.allclose(ad.read_zarr(store).obsm["X_umap"], points)


def test_xarray_obs_with_a_second_dimension_is_refused(tmp_path):
    xr = pytest.importorskip("xarray")
    wide = xr.Dataset({"a": (("cell", "k"), np.zeros((N, 2))), "b": (("cell",), np.zeros(N))})
    with pytest.raises(ValueError, match="dimensions \\['cell', 'k'\\], and variable 'a' is 2-D"):
        prepare(**_arrays(tmp_path) | {"obs": wide})
    two = xr.Dataset({"a": (("cell",), np.zeros(N)), "g": (("gene",), np.zeros(G))})
    with pytest.raises(ValueError, match="ds.drop_dims\\(\\['gene'\\]\\)"):
        prepare(**_arrays(tmp_path) | {"obs": two})
    assert not (tmp_path / "export").exists()
    with pytest.raises(TypeError, match="Convert an xarray Dataset with .to_dataframe"):
        _store(tmp_path, obs=wide)
    assert not (tmp_path / "store.zarr").exists()


def test_h5py_dataset_of_a_closed_file_is_named(tmp_path):
    with h5py.File(tmp_path / "points.h5", "w") as file:
        file["umap"] = np.zeros((N, 2))
        dataset = file["umap"]
    with pytest.raises(ValueError, match="X_umap_2d is an h5py dataset of a closed file"):
        prepare(**_arrays(tmp_path) | {"X_umap_2d": dataset})
    with pytest.raises(ValueError, match="Embedding 'X_umap' is an h5py dataset of a closed"):
        _store(tmp_path, embeddings={"X_umap": dataset})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.h5"]


def test_processes_scheduler_with_a_backed_x_is_refused_before_writing(tmp_path):
    path = tmp_path / "atlas.h5ad"
    _adata().write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        arguments = _arrays(tmp_path) | {"gene_expression": backed.X, "var": backed.var}
        with pytest.raises(ValueError, match="scheduler='processes' sends every task") as info:
            prepare(**arguments, scheduler="processes")
        assert "gene_expression is read through an open HDF5 file" in str(info.value)
    finally:
        backed.file.close()
    assert not (tmp_path / "export").exists()


def test_numpy_integer_options_are_taken_as_numbers(tmp_path):
    options = {"var_quantization": 8, "compression": 6, "centroid_min_points": 5}
    plain = prepare(**_arrays(tmp_path) | {"out_dir": tmp_path / "a" / "export"}, **options)
    numpy = prepare(**_arrays(tmp_path), **{k: np.int64(v) for k, v in options.items()},
                    centroid_outlier_quantile=np.float64(0.95))  # fmt: skip
    assert _files(numpy) == _files(plain)
    settings = json.loads((numpy / "dataset_identity.json").read_text())["export_settings"]
    assert settings["var_quantization"] == 8
    store = _store(tmp_path, zarr_format=np.int64(3), centroid_min_points=np.int64(4))
    assert (store / "zarr.json").is_file()


def test_lazy_anndata_exports_like_the_one_in_memory(tmp_path):
    read_lazy = pytest.importorskip("anndata.experimental").read_lazy
    adata = _adata()
    adata.write_zarr(tmp_path / "atlas.zarr")
    lazy = read_lazy(tmp_path / "atlas.zarr")
    assert len(lazy.var) == 0  # the trap: len() counts columns
    eager = prepare_anndata(adata, tmp_path / "eager" / "atlas", quiet=True)
    out = prepare_anndata(lazy, tmp_path / "lazy" / "atlas", quiet=True)
    assert _files(out) == _files(eager)
    store = prepare_anndata(lazy, tmp_path / "lazy.zarr", quiet=True)
    assert ad.read_zarr(store).n_vars == G


def test_obsm_dataframe_group_in_an_h5ad_is_read(tmp_path):
    adata = _adata()
    meta = pd.DataFrame({"u": np.arange(N, dtype=float), "v": np.ones(N)}, index=adata.obs_names)
    adata.obsm["meta"] = meta
    path = tmp_path / "atlas.h5ad"
    adata.write_h5ad(path)
    with h5py.File(path, "r") as file:
        assert file["obsm/meta"].attrs["encoding-type"] == "dataframe"
    out = prepare_anndata(path, tmp_path / "out", latent_key="meta", quiet=True)
    backed = prepare_anndata(adata, tmp_path / "mem" / "out", latent_key="meta", quiet=True)
    assert _files(out) == _files(backed)
    # a store keeps the numeric obsm arrays; the table is left out, as for an AnnData
    store = prepare_anndata(path, tmp_path / "atlas.zarr", quiet=True)
    assert sorted(ad.read_zarr(store).obsm) == ["X_pca", "X_umap"]


def test_processes_check_runs_in_a_fresh_interpreter(tmp_path):
    """The refusal comes before any worker process starts (spawned workers re-import main)."""
    path = tmp_path / "atlas.h5ad"
    _adata().write_h5ad(path)
    script = (
        "import anndata as ad, numpy as np, sys\n"
        "from cellucid import prepare\n"
        "b = ad.read_h5ad(sys.argv[1], backed='r')\n"
        "try:\n"
        "    prepare(X_umap_2d=b.obsm['X_umap'], latent_space=b.obsm['X_pca'], var=b.var,\n"
        "            gene_expression=b.X, out_dir=sys.argv[2], scheduler='processes', quiet=True)\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "scheduler='processes' sends every task" in result.stdout, result.stderr
    assert not (tmp_path / "out").exists()
