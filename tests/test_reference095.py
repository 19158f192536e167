"""compare_stores on stores upstream 0.9.5 wrote: equal runs agree, every tampering is named."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import zarr

from .reference095 import (  # the fixture is registered by its import
    compare_stores,
    reference095_fixture,  # noqa: F401
    reference_python,
    requires_reference095,
    write_reference_stores,
)

pytestmark = requires_reference095

N_CELLS = 150
N_GENES = 24
ARGUMENTS = {"dataset_id": "tiny", "dataset_name": "Tiny atlas", "latent_key": "X_pca"}
# (store name, format, extra arguments); each written twice from the same input
STORES = {
    "v2.zarr": ("zarr", {}),
    "v3.zarr": ("zarr", {"zarr_format": 3}),
    "v2.zarr.zip": ("zarr.zip", {}),
    "file.h5ad": ("h5ad", {}),
}


def _tiny_atlas(path: Path) -> Path:
    """A small AnnData with each kind of column, an embedding, a vector field and a graph."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, N_CELLS)
    obs = pd.DataFrame(
        {
            "cell type": pd.Categorical(np.array(list("abcd"))[labels]),
            "name": [f"n{i}" for i in range(N_CELLS)],
            "score": rng.normal(0, 1, N_CELLS),
            "count": rng.integers(0, 500, N_CELLS),
            "flag": rng.random(N_CELLS) > 0.5,
        },
        index=[f"c{i}" for i in range(N_CELLS)],
    )
    obs.loc["c3", "score"] = np.nan
    x = sp.random(N_CELLS, N_GENES, density=0.3, format="csr", random_state=3, dtype=np.float32)
    graph = sp.random(N_CELLS, N_CELLS, density=0.04, format="csr", random_state=4)
    graph = graph.maximum(graph.T).astype(np.float32).tolil()
    graph.setdiag(0)
    graph = graph.tocsr()
    graph.eliminate_zeros()
    umap = rng.normal(0, 5, (N_CELLS, 2)).astype(np.float32)
    adata = ad.AnnData(
        X=x,
        obs=obs,
        var=pd.DataFrame(index=[f"G{i}" for i in range(N_GENES)]),
        obsm={
            "X_umap": umap,
            "X_pca": rng.normal(0, 1, (N_CELLS, 6)),
            "velocity_umap": rng.normal(0, 0.1, (N_CELLS, 2)),
        },
        obsp={"connectivities": graph},
    )
    adata.write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Each store of STORES written twice by upstream, in one subprocess."""
    folder = tmp_path_factory.mktemp("reference095")
    atlas = _tiny_atlas(folder / "atlas.h5ad")
    jobs = []
    for name, (format, extra) in STORES.items():
        for run in ("a", "b"):
            jobs.append((folder / run / name, format, {**ARGUMENTS, **extra}))
    written = write_reference_stores(atlas, jobs)
    return {name: (written[2 * i], written[2 * i + 1]) for i, name in enumerate(STORES)}


def _copy(source: Path, target: Path) -> Path:
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def _edit_json(path: Path, edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document, indent=2))


def test_reference_python_is_version_095():
    assert reference_python() is not None


@pytest.mark.parametrize("name", list(STORES))
def test_two_runs_of_upstream_are_equal(stores, name):
    first, second = stores[name]
    assert compare_stores(first, second) == []


def test_a_store_and_another_container_differ(stores):
    assert compare_stores(stores["v2.zarr"][0], stores["file.h5ad"][0]) == [
        "container: ours zarr, theirs h5ad"
    ]


def _has(lines: list[str], *pieces: str) -> bool:
    return any(all(piece in line for piece in pieces) for line in lines)


def test_tampered_zarr_v2_folder(stores, tmp_path):
    theirs = stores["v2.zarr"][0]
    ours = _copy(theirs, tmp_path / "ours.zarr")
    zarr.open_array(store=str(ours), path="obs/score", mode="r+")[5] = 123.0
    _edit_json(ours / "X" / "data" / ".zarray", lambda d: d["compressor"].update(level=5))
    _edit_json(ours / "obs" / ".zattrs", lambda d: d.update({"column-order": ["name"]}))
    # this one consolidated too, as a writer would
    _edit_json(
        ours / ".zmetadata",
        lambda d: d["metadata"]["obs/.zattrs"].update({"column-order": ["name"]}),
    )
    (ours / "X" / "indptr" / "0").unlink()
    shutil.rmtree(ours / "obsm" / "X_umap")
    lines = compare_stores(ours, theirs)
    assert _has(lines, "obs/score", "values differ in 1 of", "(5,)", "123.0")
    assert _has(lines, "X/data/.zarray", "compressor.level", "ours 5", "theirs 6")
    assert _has(lines, "obs/.zattrs", "column-order")
    assert _has(lines, "X/indptr", "chunks only in theirs", "0")
    # a missing chunk reads as the fill value
    assert _has(lines, "X/indptr", "values differ in 24 of 25")
    assert _has(lines, "obsm/X_umap", "array only in theirs")
    assert _has(lines, ".zmetadata", "metadata.obs/.zattrs.column-order", '["name"]')
    # the rest of the consolidated metadata was left as it was: equal to theirs
    assert len(lines) == 7, lines


def test_tampered_zarr_v3_folder(stores, tmp_path):
    theirs = stores["v3.zarr"][0]
    ours = _copy(theirs, tmp_path / "ours.zarr")
    blosc = ["codecs", 1, "configuration"]

    def lower_level(document):
        document[blosc[0]][blosc[1]][blosc[2]]["clevel"] = 5

    _edit_json(ours / "X" / "indices" / "zarr.json", lower_level)
    zarr.open_array(store=str(ours), path="obs/_index", mode="r+")[0] = "renamed"
    lines = compare_stores(ours, theirs)
    assert _has(lines, "X/indices/zarr.json", "codecs[1].configuration.clevel", "ours 5")
    assert _has(lines, "obs/_index", "values differ in 1 of 150", "'renamed'", "'c0'")
    assert len(lines) == 2, lines


def test_tampered_zarr_zip(stores, tmp_path):
    theirs = stores["v2.zarr.zip"][0]
    ours = tmp_path / "ours.zarr.zip"
    with zipfile.ZipFile(theirs) as source, zipfile.ZipFile(ours, "w") as target:
        entries = source.infolist()
        # the first two entries swapped, and one entry dated otherwise
        for index, info in enumerate([entries[1], entries[0], *entries[2:]]):
            if index == 5:
                info.date_time = (2024, 1, 1, 0, 0, 0)
            target.writestr(info, source.read(info.filename))
    lines = compare_stores(ours, theirs)
    assert _has(lines, "zip entry order", "common entry 0")
    assert _has(lines, "zip entries stored differently", "date_time")
    assert len(lines) == 2, lines


def test_tampered_h5ad(stores, tmp_path):
    theirs = stores["file.h5ad"][0]
    ours = _copy(theirs, tmp_path / "ours.h5ad")
    with h5py.File(ours, "r+") as file:
        file["obs/count"][7] = -1
        file["uns"].attrs["encoding-version"] = "9.9.9"
        values = file["obsm/X_umap"][...]
        attributes = dict(file["obsm/X_umap"].attrs)
        del file["obsm/X_umap"]
        again = file["obsm"].create_dataset(
            "X_umap", data=values, chunks=(N_CELLS, 2), compression="gzip", compression_opts=4
        )
        again.attrs.update(attributes)
    lines = compare_stores(ours, theirs)
    assert _has(lines, "obs/count", "values differ in 1 of 150", "(7,)")
    assert _has(lines, "uns attribute 'encoding-version'", "'9.9.9'", "'0.1.0'")
    assert _has(lines, "obsm/X_umap", "compression_opts", "ours 4", "theirs 6")
    assert _has(lines, "obsm/X_umap", "shuffle", "ours False", "theirs True")
    # the rewritten array's values now lie after every other array's
    assert _has(lines, "h5ad storage order")
    assert len(lines) == 5, lines


def test_the_fixture_gives_the_interpreter(reference095):
    assert reference095 == reference_python()
