"""`cellucid validate` on Cellucid-ready AnnData stores: valid ones pass, each tampering is named.

Valid stores come from two writers: upstream cellucid 0.9.5's ``prepare()`` run in its own
interpreter (skipped when absent), and a small hand-written store that follows the contract
(tests/validate_store_builder.py), so the validator is tested without upstream too. Every
tampering is applied to a copy of each store kind it applies to.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cellucid.cli import main as cli_main
from cellucid.verify import store as store_validation
from cellucid.verify.store import context as context_module
from cellucid.verify.store import is_store_path, validate_store
from cellucid.verify.store.context import Context
from cellucid.verify.store.graph import check_graph
from cellucid.verify.store.read import open_store

from . import validate_store_builder as builder
from .reference095 import reference_python

KINDS = ("zarr2", "zarr3", "zip2", "zip3", "h5ad")
ZARR_KINDS = ("zarr2", "zarr3", "zip2", "zip3")


UPSTREAM_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd, anndata as ad, scipy.sparse as sp
    from cellucid import prepare

    out = sys.argv[1]
    rng = np.random.default_rng(0)
    n, g = 60, 25
    x = sp.random(n, g, density=0.3, format="csr", random_state=1, dtype=np.float32)
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(rng.choice(["a", "b", "c"], n)),
         "batch": rng.choice(["x", "y"], n), "score": rng.random(n),
         "flag": rng.random(n) > 0.5},
        index=[f"c{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(g)]))
    adata.obsm["X_umap"] = rng.random((n, 2)).astype(np.float32)
    adata.obsm["X_pca"] = rng.random((n, 5)).astype(np.float32)
    graph = sp.random(n, n, density=0.1, random_state=2, format="csr")
    graph = (graph + graph.T).tolil()
    graph.setdiag(0)
    graph = graph.tocsr()
    graph.eliminate_zeros()
    adata.obsp["connectivities"] = graph
    common = dict(data=adata, dataset_id="demo-1", dataset_name="Demo", latent_key="X_pca")
    for name, fmt, version in [
        ("zarr2", "zarr", 2), ("zarr3", "zarr", 3), ("zip2", "zarr.zip", 2),
        ("zip3", "zarr.zip", 3), ("h5ad", "h5ad", None),
    ]:
        suffix = {"zarr": ".zarr", "zarr.zip": ".zarr.zip", "h5ad": ".h5ad"}[fmt]
        extra = {} if version is None else {"zarr_format": version}
        prepare(f"{out}/{name}/store{suffix}", format=fmt, **common, **extra)
    """
)


@pytest.fixture(scope="module")
def upstream_stores(tmp_path_factory) -> dict[str, Path]:
    python = reference_python()
    if python is None:
        pytest.skip("upstream cellucid 0.9.5 not found (tests/reference095.py)")
    root = tmp_path_factory.mktemp("upstream")
    subprocess.run(
        [str(python), "-c", UPSTREAM_SCRIPT, str(root)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return {kind: _only_store(root / kind) for kind in KINDS}


@pytest.fixture(scope="module")
def built_stores(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("built")
    stores = {}
    for kind in KINDS:
        folder = root / kind
        folder.mkdir()
        stores[kind] = builder.write_store(folder, kind)
    return stores


def _only_store(folder: Path) -> Path:
    (path,) = [item for item in folder.iterdir() if item.name.startswith("store")]
    return path


def _copy(source: Path, target_folder: Path) -> Path:
    target = target_folder / source.name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
    return target


def _run_cli(path: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "cellucid", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


# =============================================================================
# Valid stores
# =============================================================================


@pytest.mark.parametrize("kind", KINDS)
def test_hand_written_store_is_valid(built_stores, kind):
    assert validate_store(built_stores[kind]) == []


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_store_is_valid(upstream_stores, kind):
    assert validate_store(upstream_stores[kind]) == []


def test_cli_accepts_every_upstream_store(upstream_stores):
    # One process per store, started together: the interpreter's start-up dominates.
    processes = {
        kind: subprocess.Popen(
            [sys.executable, "-m", "cellucid", "validate", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind, path in upstream_stores.items()
    }
    for kind, process in processes.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, (kind, output)
        assert "valid Cellucid-ready AnnData" in output


def test_streaming_in_small_blocks_finds_the_same(built_stores, tmp_path, monkeypatch):
    monkeypatch.setattr(context_module, "BLOCK_ENTRIES", 5)
    assert validate_store(built_stores["zarr2"]) == []
    store = _copy(built_stores["h5ad"], tmp_path)
    TAMPERS["unsorted_indices"][1](store)
    lines = validate_store(store)
    assert any(
        line.startswith("X/indices: ") and "not strictly increasing" in line for line in lines
    ), lines


# =============================================================================
# Tampering
# =============================================================================


def _is_zip(path: Path) -> bool:
    return path.name.endswith(".zarr.zip")


def _edit_zarr(path: Path, edit: Callable[[Path], None]) -> None:
    """Edit a .zarr folder in place, or a .zarr.zip by unpacking, editing and repacking it."""
    if not _is_zip(path):
        edit(path)
        return
    folder = path.with_name("unpacked.zarr")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    edit(folder)
    path.unlink()
    builder.zip_store(folder, path)
    shutil.rmtree(folder)


def _set_values(path: Path, array: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    if path.name.endswith(".h5ad"):
        import h5py

        with h5py.File(path, "r+") as file:
            file[array][...] = change(file[array][...])
        return

    def edit(folder: Path) -> None:
        import zarr
        from zarr.storage import LocalStore

        target = zarr.open_array(LocalStore(folder), path=array, mode="r+")
        target[...] = change(target[...])

    _edit_zarr(path, edit)


def _consolidated(folder: Path) -> tuple[Path, dict, dict]:
    """The consolidated document, parsed, and its entry map."""
    if (folder / ".zmetadata").is_file():
        document = json.loads((folder / ".zmetadata").read_text())
        return folder / ".zmetadata", document, document["metadata"]
    document = json.loads((folder / "zarr.json").read_text())
    return folder / "zarr.json", document, document["consolidated_metadata"]["metadata"]


def _array_document(folder: Path, array: str) -> tuple[Path, str]:
    """The array's own metadata file and its key in the consolidated metadata."""
    if (folder / ".zmetadata").is_file():
        return folder / array / ".zarray", f"{array}/.zarray"
    return folder / array / "zarr.json", array


def _edit_array_document(
    folder: Path,
    array: str,
    change: Callable[[dict], None],
    *,
    own: bool = True,
    listed: bool = True,
) -> None:
    own_path, key = _array_document(folder, array)
    if own:
        document = json.loads(own_path.read_text())
        change(document)
        own_path.write_text(json.dumps(document))
    if listed:
        path, consolidated, entries = _consolidated(folder)
        change(entries[key])
        path.write_text(json.dumps(consolidated))


def _level_9(document: dict) -> None:
    if "compressor" in document:
        document["compressor"]["level"] = 9
        return
    for codec in document["codecs"]:
        if codec["name"] == "gzip":
            codec["configuration"]["level"] = 9
        if codec["name"] == "blosc":
            codec["configuration"]["clevel"] = 9


def tamper_unsorted_indices(path: Path) -> None:
    with open_store(path) as store:
        indptr = store.read("X/indptr")
    gene = int(np.flatnonzero(np.diff(indptr) >= 2)[0])
    first = int(indptr[gene])

    def swap(values: np.ndarray) -> np.ndarray:
        values[first], values[first + 1] = values[first + 1], values[first]
        return values

    _set_values(path, "X/indices", swap)


def tamper_indptr_end(path: Path) -> None:
    def shorten(values: np.ndarray) -> np.ndarray:
        values[-1] -= 1
        return values

    _set_values(path, "X/indptr", shorten)


def tamper_codec_level(path: Path) -> None:
    if path.name.endswith(".h5ad"):
        import h5py

        with h5py.File(path, "r+") as file:
            old = file["obs/score"]
            values, attrs, chunks = old[...], dict(old.attrs), old.chunks
            del file["obs/score"]
            new = file["obs"].create_dataset(
                "score",
                data=values,
                chunks=chunks,
                compression="gzip",
                compression_opts=9,
                shuffle=True,
            )
            new.attrs.update(attrs)
        return
    _edit_zarr(path, lambda folder: _edit_array_document(folder, "obs/score", _level_9))


def tamper_consolidated_missing(path: Path) -> None:
    def edit(folder: Path) -> None:
        consolidated_path, document, entries = _consolidated(folder)
        del entries[_array_document(folder, "obs/score")[1]]
        consolidated_path.write_text(json.dumps(document))

    _edit_zarr(path, edit)


def tamper_consolidated_differs(path: Path) -> None:
    def change(document: dict) -> None:
        if "chunks" in document:
            document["chunks"] = [7]
        else:
            document["chunk_grid"]["configuration"]["chunk_shape"] = [7]

    _edit_zarr(path, lambda folder: _edit_array_document(folder, "X/data", change, own=False))


def tamper_asymmetric_graph(path: Path) -> None:
    def double(values: np.ndarray) -> np.ndarray:
        values[0] *= 2
        return values

    _set_values(path, "obsp/connectivities/data", double)


def tamper_nonfinite_embedding(path: Path) -> None:
    def poison(values: np.ndarray) -> np.ndarray:
        values[3, 1] = np.inf
        return values

    _set_values(path, "obsm/X_umap", poison)


def tamper_casefold_duplicate(path: Path) -> None:
    if path.name.endswith(".h5ad"):
        import h5py

        with h5py.File(path, "r+") as file:
            file.copy(file["obs/score"], file["obs"], "Score")
            order = [str(name) for name in file["obs"].attrs["column-order"]]
            file["obs"].attrs["column-order"] = [*order, "Score"]
        return

    def edit(folder: Path) -> None:
        import zarr

        shutil.copytree(folder / "obs" / "score", folder / "obs" / "Score")
        group = zarr.open_group(str(folder / "obs"), mode="r+", use_consolidated=False)
        group.attrs["column-order"] = [*group.attrs["column-order"], "Score"]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(str(folder))

    _edit_zarr(path, edit)


def tamper_wrong_schema(path: Path) -> None:
    _set_values(path, "uns/cellucid/schema", lambda values: np.asarray(2, dtype=values.dtype))


def tamper_quantile_value(path: Path) -> None:
    def shift(values: np.ndarray) -> np.ndarray:
        values[int(np.flatnonzero(~np.isnan(values))[0])] = 0.125
        return values

    _set_values(path, "uns/cellucid/outlierQuantiles/fields/cell_type", shift)


def tamper_deflated_entry(path: Path) -> None:
    staged = path.with_name("repacked.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(staged, "w") as target:
        for index, info in enumerate(source.infolist()):
            method = zipfile.ZIP_DEFLATED if index == 0 else zipfile.ZIP_STORED
            target.writestr(info.filename, source.read(info), compress_type=method)
    staged.replace(path)


#: name -> (kinds it applies to, tampering, element the violation line names first).
TAMPERS: dict[str, tuple[tuple[str, ...], Callable[[Path], None], str]] = {
    "unsorted_indices": (KINDS, tamper_unsorted_indices, "X/indices: "),
    "indptr_end": (KINDS, tamper_indptr_end, "X/indptr: "),
    "codec_level": (KINDS, tamper_codec_level, "obs/score: "),
    "consolidated_missing": (ZARR_KINDS, tamper_consolidated_missing, "obs/score"),
    "consolidated_differs": (ZARR_KINDS, tamper_consolidated_differs, "X/data"),
    "asymmetric_graph": (KINDS, tamper_asymmetric_graph, "obsp/connectivities: "),
    "nonfinite_embedding": (KINDS, tamper_nonfinite_embedding, "obsm/X_umap: "),
    "casefold_duplicate": (KINDS, tamper_casefold_duplicate, "obs/Score: "),
    "wrong_schema": (KINDS, tamper_wrong_schema, "uns/cellucid/schema: "),
    "quantile_value": (
        KINDS,
        tamper_quantile_value,
        "uns/cellucid/outlierQuantiles/fields/cell_type: differs from the quantiles",
    ),
    "deflated_entry": (("zip2", "zip3"), tamper_deflated_entry, "zip entry "),
}

CASES = [(name, kind) for name, (kinds, _, _) in TAMPERS.items() for kind in kinds]


def _check_tampered(source: Path, name: str, tmp_path: Path, capsys) -> list[str]:
    _, tamper, element = TAMPERS[name]
    store = _copy(source, tmp_path)
    tamper(store)
    lines = validate_store(store)
    assert any(line.startswith(element) for line in lines), lines
    assert all(line.count("\n") == 0 for line in lines)
    capsys.readouterr()
    assert cli_main(["validate", str(store)]) == 1
    printed = capsys.readouterr().out
    assert "INVALID" in printed and element.strip() in printed
    return lines


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_tampered_hand_written_store(built_stores, tmp_path, capsys, name, kind):
    _check_tampered(built_stores[kind], name, tmp_path, capsys)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_tampered_upstream_store(upstream_stores, tmp_path, capsys, name, kind):
    _check_tampered(upstream_stores[kind], name, tmp_path, capsys)


def test_cli_process_rejects_a_tampered_store(upstream_stores, tmp_path):
    store = _copy(upstream_stores["zip3"], tmp_path)
    tamper_asymmetric_graph(store)
    code, output = _run_cli(store)
    assert code == 1, output
    assert "obsp/connectivities: not exactly symmetric" in output


# =============================================================================
# Pieces
# =============================================================================


def test_is_store_path(tmp_path):
    assert is_store_path(tmp_path / "a.zarr")
    assert is_store_path(tmp_path / "a.ZARR.zip")
    assert is_store_path(tmp_path / "a.h5ad")
    assert not is_store_path(tmp_path / "export")
    folder = tmp_path / "plain"
    folder.mkdir()
    assert not is_store_path(folder)
    (folder / "zarr.json").write_text("{}")
    assert is_store_path(folder)


def test_missing_and_foreign_paths(tmp_path, capsys):
    assert validate_store(tmp_path / "none.h5ad") == [f"{tmp_path / 'none.h5ad'}: does not exist"]
    bogus = tmp_path / "bogus.h5ad"
    bogus.write_bytes(b"not hdf5")
    (line,) = validate_store(bogus)
    assert "not a readable HDF5 file" in line
    assert cli_main(["validate", str(tmp_path / "none.zarr")]) == 2


def test_zip_with_a_folder_prefix(built_stores, tmp_path):
    archive = tmp_path / "prefixed.zarr.zip"
    with zipfile.ZipFile(built_stores["zip2"]) as source, zipfile.ZipFile(archive, "w") as target:
        for info in source.infolist():
            target.writestr(f"store.zarr/{info.filename}", source.read(info))
    (line,) = validate_store(archive)
    assert "under the folder store.zarr/" in line


def test_graph_symmetry_out_of_core(built_stores, tmp_path):
    store = _copy(built_stores["zarr3"], tmp_path)
    with open_store(store) as opened:
        ctx = Context(opened, n_cells=builder.N_CELLS)
        check_graph(ctx, "obsp/connectivities", builder.N_CELLS, budget=16)
        assert ctx.lines == []
    tamper_asymmetric_graph(store)
    with open_store(store) as opened:
        ctx = Context(opened, n_cells=builder.N_CELLS)
        check_graph(ctx, "obsp/connectivities", builder.N_CELLS, budget=16)
        (line,) = ctx.lines
        assert line.startswith("obsp/connectivities: not exactly symmetric: w(")


def test_record_rules(built_stores, tmp_path):
    import h5py

    store = _copy(built_stores["h5ad"], tmp_path)
    with h5py.File(store, "r+") as file:
        del file["uns/cellucid/id"]
        file["uns/cellucid"].create_dataset("id", data="bad id", dtype=h5py.string_dtype())
        file["uns/cellucid/id"].attrs.update(
            {"encoding-type": "string", "encoding-version": "0.2.0"}
        )
        del file["uns/title"]
        file["uns"].create_dataset("title", data="Other", dtype=h5py.string_dtype())
        file["uns/title"].attrs.update({"encoding-type": "string", "encoding-version": "0.2.0"})
    lines = validate_store(store)
    assert any(line.startswith("uns/cellucid/id: 'bad id'") for line in lines), lines
    assert any(line.startswith("uns/title: 'Other' differs") for line in lines), lines


def test_float64_values_need_large_integer_counts(tmp_path):
    tree = builder.content()
    data = tree.members["X"].members["data"]
    data.values = data.values.astype(np.float64)
    (line,) = validate_store(builder.write_store(tmp_path, "h5ad", tree))
    assert line.startswith("X/data: float64 holding non-integer values")
    data.values = np.round(data.values * 10) + 2**25
    assert validate_store(builder.write_store(tmp_path, "zarr3", tree)) == []


@pytest.mark.parametrize("kind", ["zarr2", "h5ad"])
def test_dense_expression(tmp_path, kind):
    tree = builder.with_dense_x(builder.content())
    assert validate_store(builder.write_store(tmp_path, kind, tree)) == []
    tree.members["X"].values[5, 2] = np.nan
    other = tmp_path / "nan"
    other.mkdir()
    (line,) = validate_store(builder.write_store(other, kind, tree))
    assert line.startswith("X: 1 non-finite value (first at cell 5, gene 2: nan)")


def test_public_api():
    import cellucid

    assert store_validation.__all__ == ["validate_store", "is_store_path"]
    assert cellucid.validate_store is store_validation.validate_store
