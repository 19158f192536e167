"""Small AnnData files in old on-disk encodings, written with h5py directly.

``write_pre07`` follows what anndata <0.7 (and the h5ad bundled with scanpy) holds:
obs/var/obsm as compound datasets, categorical codes with ``uns/<col>_categories``,
sparse groups marked ``h5sparse_format``, the KNN graph in ``uns/neighbors`` and
``raw.X`` / ``raw.var``. ``write_v07`` follows anndata 0.7: dataframe groups whose
categorical columns point to ``__categories/<col>`` by an object reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

CELL_TYPES = ["B cell", "T cell", "NK", "Monocyte"]
BATCHES = [3, 7]


def atlas_arrays(n_cells: int = 300, n_genes: int = 40, seed: int = 0) -> dict:
    """Per-cell, per-gene and cells × genes values shared by the old-encoding writers."""
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.6, size=(n_cells, n_genes)).astype(np.float32)
    graph = sp.random(n_cells, n_cells, density=0.03, random_state=seed, format="csr")
    codes = rng.integers(0, len(CELL_TYPES), n_cells).astype(np.int8)
    codes[:3] = -1  # missing values
    return {
        "cells": np.array([f"cell-{i:04d}" for i in range(n_cells)], dtype="S"),
        "genes": np.array([f"GENE{i}" for i in range(n_genes)], dtype="S"),
        "cell_type": codes,
        "batch": rng.integers(0, len(BATCHES), n_cells).astype(np.int8),
        "n_counts": dense.sum(axis=1),
        "is_doublet": rng.random(n_cells) < 0.1,
        "means": dense.mean(axis=0),
        "dense": dense,
        "umap": rng.normal(size=(n_cells, 2)),
        "pca": rng.normal(size=(n_cells, 5)).astype(np.float32),
        "velocity": rng.normal(size=(n_cells, 2)),
        "graph": graph.astype(np.float64),
    }


def _compound(columns: list[tuple[str, np.ndarray]]) -> np.ndarray:
    dtype = [(name, values.dtype, values.shape[1:]) for name, values in columns]
    table = np.empty(len(columns[0][1]), dtype=dtype)
    for name, values in columns:
        table[name] = values
    return table


def _h5sparse(parent: h5py.Group, name: str, matrix: sp.spmatrix) -> None:
    group = parent.create_group(name)
    group.attrs["h5sparse_format"] = matrix.format
    group.attrs["h5sparse_shape"] = np.array(matrix.shape)
    for part in ("data", "indices", "indptr"):
        group.create_dataset(part, data=getattr(matrix, part))


def write_pre07(path: Path, values: dict, *, sparse_x: bool) -> Path:
    """An .h5ad as anndata <0.7 wrote it (no encoding attributes anywhere)."""
    with h5py.File(path, "w") as f:
        f["obs"] = _compound(
            [
                ("index", values["cells"]),
                ("cell_type", values["cell_type"]),
                ("batch", values["batch"]),
                ("n_counts", values["n_counts"]),
                ("is_doublet", values["is_doublet"]),
            ]
        )
        f["var"] = _compound([("index", values["genes"]), ("means", values["means"])])
        f["obsm"] = _compound(
            [
                ("X_pca", values["pca"]),
                ("X_umap", values["umap"]),
                ("velocity_umap", values["velocity"]),
            ]
        )
        if sparse_x:
            _h5sparse(f, "X", sp.csr_matrix(values["dense"]))
            _h5sparse(f.create_group("layers"), "counts", sp.csr_matrix(values["dense"] * 2))
        else:
            f["X"] = values["dense"]
        f["uns/cell_type_categories"] = np.array(CELL_TYPES, dtype="S")
        f["uns/batch_categories"] = np.array(BATCHES, dtype=np.int64)
        f["uns/cell_type_colors"] = np.array(["#ff0000"] * len(CELL_TYPES), dtype="S")
        _h5sparse(f, "uns/neighbors/connectivities", values["graph"])
        f["uns/neighbors/params/n_neighbors"] = np.array([15])
        _h5sparse(f, "raw.X", sp.csr_matrix(values["dense"]))
        f["raw.var"] = _compound([("index", values["genes"])])
    return path


def _v07_frame(f: h5py.File, name: str, index: np.ndarray, columns: dict) -> None:
    strings = h5py.string_dtype("utf-8")
    group = f.create_group(name)
    group.attrs["encoding-type"] = "dataframe"
    group.attrs["encoding-version"] = "0.1.0"
    group.attrs["_index"] = "index"
    group.attrs["column-order"] = np.array(list(columns), dtype=strings)
    group.create_dataset("index", data=index.astype(str).astype(object), dtype=strings)
    for column, (data, categories) in columns.items():
        group[column] = data
        if categories is not None:
            stored = group.create_dataset(
                f"__categories/{column}", data=np.array(categories, dtype=object), dtype=strings
            )
            stored.attrs["ordered"] = False
            group[column].attrs["categories"] = stored.ref


def _csr_v07(parent: h5py.Group, name: str, matrix: sp.csr_matrix) -> None:
    group = parent.create_group(name)
    group.attrs["encoding-type"] = "csr_matrix"
    group.attrs["encoding-version"] = "0.1.0"
    group.attrs["shape"] = np.array(matrix.shape)
    for part in ("data", "indices", "indptr"):
        group.create_dataset(part, data=getattr(matrix, part))


def write_v07(path: Path, values: dict) -> Path:
    """An .h5ad as anndata 0.7 wrote it (categories in ``__categories``)."""
    with h5py.File(path, "w") as f:
        obs = {
            "cell_type": (values["cell_type"], CELL_TYPES),
            "n_counts": (values["n_counts"], None),
        }
        _v07_frame(f, "obs", values["cells"], obs)
        _v07_frame(f, "var", values["genes"], {"means": (values["means"], None)})
        _csr_v07(f, "X", sp.csr_matrix(values["dense"]))
        f["obsm/X_umap"] = values["umap"]
        f["obsm/X_pca"] = values["pca"]
        _csr_v07(f, "obsp/connectivities", values["graph"])
    return path


def _zarr_v2_array(root: Path, name: str, values: np.ndarray) -> None:
    # zarr-python 3 cannot create structured arrays, so the v2 metadata is written by hand
    folder = root / name
    folder.mkdir(parents=True)
    dtype = values.dtype.descr if values.dtype.names else values.dtype.str
    meta = {
        "zarr_format": 2,
        "shape": list(values.shape),
        "chunks": list(values.shape),
        "dtype": dtype,
        "compressor": None,
        "fill_value": None,
        "order": "C",
        "filters": None,
    }
    (folder / ".zarray").write_text(json.dumps(meta))
    (folder / ".".join(["0"] * values.ndim)).write_bytes(np.ascontiguousarray(values).tobytes())


def _zarr_v2_group(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".zgroup").write_text(json.dumps({"zarr_format": 2}))


def write_pre07_zarr(path: Path, values: dict) -> Path:
    """A Zarr v2 store with anndata <0.7 tables: structured obs/var, uns categories."""
    _zarr_v2_group(path)
    obs = [("index", values["cells"]), ("cell_type", values["cell_type"])]
    _zarr_v2_array(path, "obs", _compound([*obs, ("n_counts", values["n_counts"])]))
    _zarr_v2_array(path, "var", _compound([("index", values["genes"]), ("means", values["means"])]))
    _zarr_v2_array(path, "X", values["dense"])
    for group in ("obsm", "uns"):
        _zarr_v2_group(path / group)
    _zarr_v2_array(path, "obsm/X_umap", values["umap"])
    _zarr_v2_array(path, "uns/cell_type_categories", np.array(CELL_TYPES, dtype="S"))
    return path
