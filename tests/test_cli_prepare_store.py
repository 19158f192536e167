"""`cellucid prepare IN OUT.zarr|.zarr.zip|.h5ad` writes a Cellucid-ready AnnData store.

The CLI runs as a real command in a subprocess (the runs start together: each is mostly
interpreter start-up); its stores are read back with anndata and compared byte for byte
with prepare_anndata's. Refusals run in-process through cellucid.cli.main.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import zarr

from cellucid import make_demo_anndata, prepare_anndata
from cellucid.cli import main

N_CELLS, N_GENES = 300, 20
GENES = ["ENSG00000000001", "ENSG00000000003"]
NAMED = [
    "--dataset-id",
    "lung-v2",
    "--dataset-name",
    "Lung atlas",
    "--dataset-description",
    "A small atlas",
    "--citation-text",
    "Doe et al. 2025",
    "--citation-url",
    "https://doi.org/10.1/x",
    "--source-name",
    "Lab",
    "--source-url",
    "https://example.org",
    "--latent-key",
    "X_umap_3d",
    "--vector-field-default",
    "velocity",
    "--obs-key",
    "cell_type",
    "--obs-key",
    "n_counts",
]
# the same call in Python
NAMED_KEYWORDS = dict(
    dataset_id="lung-v2",
    dataset_name="Lung atlas",
    dataset_description="A small atlas",
    citation_text="Doe et al. 2025",
    citation_url="https://doi.org/10.1/x",
    source_name="Lab",
    source_url="https://example.org",
    latent_key="X_umap_3d",
    vector_field_default="velocity",
    obs_keys=["cell_type", "n_counts"],
)
RUNS = {
    "default.zarr": [],
    "named.zarr.zip": [*NAMED, "--zarr-format", "3", "-q"],
    "named.h5ad": [*NAMED, "--no-progress"],
    # --format wins over the name: a folder called *.zarr
    "folder.zarr": ["--format", "folder", "--quiet"],
    # a file suffix no front door writes, and no --format: refused
    "atlas.zip": [],
}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cellucid", "prepare", *args]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, ad.AnnData]:
    path = tmp_path_factory.mktemp("input") / "demo.h5ad"
    adata = make_demo_anndata(n_cells=N_CELLS, n_genes=N_GENES)
    adata.write_h5ad(path)
    return path, adata


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """Every CLI run of RUNS, started together, into one folder."""
    out = tmp_path_factory.mktemp("cli")
    started = {
        name: subprocess.Popen(
            command(str(demo[0]), str(out / name), *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in RUNS.items()
    }
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return out, done


def read_store(path: Path) -> ad.AnnData:
    if path.name.endswith(".h5ad"):
        return ad.read_h5ad(path)
    if path.name.endswith(".zarr.zip"):
        return ad.read_zarr(zarr.storage.ZipStore(path, mode="r"))
    return ad.read_zarr(path)


def file_bytes(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def succeeded(runs, name: str) -> Path:
    out, done = runs
    assert done[name].returncode == 0, done[name].stderr
    return out / name


def test_zarr_by_suffix_with_the_front_door_defaults(runs, demo):
    path = succeeded(runs, "default.zarr")
    assert (path / ".zgroup").is_file() and (path / ".zmetadata").is_file()
    stored = read_store(path)
    record = stored.uns["cellucid"]
    # the name is the output's name, the id that name, the latent space X_pca
    assert (record["id"], record["name"], stored.uns["title"]) == ("default", "default", "default")
    assert record["defaults"]["latentKey"] == "X_pca"
    assert set(record["outlierQuantiles"]["fields"]) == {"cell_type", "batch"}
    np.testing.assert_array_equal(stored.X.toarray(), demo[1].X.toarray())
    assert list(stored.obs.columns) == list(demo[1].obs.columns)
    stdout = runs[1]["default.zarr"].stdout
    assert "Cellucid-ready store (zarr)" in stdout and "--dataset-id" in stdout
    assert f"✓ Wrote {path}" in stdout


@pytest.mark.parametrize("name", ["named.zarr.zip", "named.h5ad"])
def test_named_flags_fill_the_record(runs, demo, name):
    stored = read_store(succeeded(runs, name))
    record = stored.uns["cellucid"]
    assert (record["id"], record["name"]) == ("lung-v2", "Lung atlas")
    assert record["description"] == "A small atlas"
    assert dict(record["citation"]) == {"text": "Doe et al. 2025", "url": "https://doi.org/10.1/x"}
    assert dict(record["source"]) == {"name": "Lab", "url": "https://example.org"}
    assert record["defaults"]["latentKey"] == "X_umap_3d"
    assert record["defaults"]["vectorFieldDefault"] == "velocity"
    # a store keeps every obs column; obs_keys are the ones the viewer lists
    assert list(record["defaults"]["obsKeys"]) == ["cell_type", "n_counts"]
    assert list(stored.obs.columns) == list(demo[1].obs.columns)
    np.testing.assert_array_equal(stored.X.toarray(), demo[1].X.toarray())


def test_zarr_format_3_and_quiet(runs):
    path = succeeded(runs, "named.zarr.zip")
    with zarr.storage.ZipStore(path, mode="r") as store:
        assert zarr.open_group(store, mode="r").metadata.zarr_format == 3
    assert runs[1]["named.zarr.zip"].stdout == ""


def test_genes_select_and_order(demo, tmp_path):
    out = tmp_path / "genes.h5ad"
    assert main(["prepare", str(demo[0]), str(out), "--genes", GENES[1], GENES[0], "-q"]) == 0
    stored = read_store(out)
    assert list(stored.var_names) == [GENES[1], GENES[0]]
    np.testing.assert_array_equal(stored.X.toarray(), demo[1].X[:, [3, 1]].toarray())


def test_format_folder_overrides_the_suffix(runs):
    path = succeeded(runs, "folder.zarr")
    assert (path / "dataset_identity.json").is_file()
    assert not (path / ".zgroup").exists()


@pytest.mark.parametrize(
    ("name", "keywords"),
    [
        ("default.zarr", {}),
        ("named.zarr.zip", NAMED_KEYWORDS | {"zarr_format": 3}),
        ("named.h5ad", NAMED_KEYWORDS),
    ],
)
def test_cli_and_python_write_identical_stores(runs, demo, tmp_path, name, keywords):
    cli = succeeded(runs, name)
    api = prepare_anndata(str(demo[0]), tmp_path / name, quiet=True, **keywords)
    assert api == tmp_path / name
    assert file_bytes(api) == file_bytes(cli)


def test_python_takes_an_anndata_in_memory(demo, tmp_path):
    out = prepare_anndata(demo[1], tmp_path / "atlas.h5ad", dataset_name="Atlas", quiet=True)
    record = read_store(out).uns["cellucid"]
    assert (record["id"], record["name"]) == ("Atlas", "Atlas")


def test_a_backed_anndata_writes_the_same_store_as_its_path(demo, tmp_path):
    by_path = prepare_anndata(str(demo[0]), tmp_path / "a" / "x.zarr", quiet=True)
    backed = ad.read_h5ad(demo[0], backed="r")
    try:
        by_backed = prepare_anndata(backed, tmp_path / "b" / "x.zarr", quiet=True)
    finally:
        backed.file.close()
    assert file_bytes(by_backed) == file_bytes(by_path)


def test_gene_id_column_and_embedding_defaults(demo, tmp_path):
    out = tmp_path / "x.h5ad"
    args = ["prepare", str(demo[0]), str(out), "--var-gene-id-column", "gene_symbol", "-q"]
    assert main(args) == 0
    assert read_store(out).uns["cellucid"]["defaults"]["geneIdColumn"] == "gene_symbol"
    out = prepare_anndata(
        demo[1], tmp_path / "y.h5ad", embedding_defaults={"2d": "X_umap"}, quiet=True
    )
    assert read_store(out).uns["cellucid"]["defaults"]["embedding2d"] == "X_umap"


def test_stores_as_inputs_lend_their_record(runs, tmp_path, capsys):
    """A Zarr folder and a .zarr.zip are inputs too; their uns['cellucid'] fills the record."""
    zipped = succeeded(runs, "named.zarr.zip")
    assert main(["prepare", str(zipped), str(tmp_path / "again.h5ad")]) == 0
    stdout = capsys.readouterr().out
    assert "Reading Zarr store" in stdout and "dataset name" not in stdout
    record = read_store(tmp_path / "again.h5ad").uns["cellucid"]
    assert (record["id"], record["name"]) == ("lung-v2", "Lung atlas")
    assert record["defaults"]["latentKey"] == "X_umap_3d"
    folder = prepare_anndata(succeeded(runs, "default.zarr"), tmp_path / "b.zarr.zip", quiet=True)
    assert read_store(folder).uns["cellucid"]["id"] == "default"


def test_data_that_is_no_anndata_is_refused(tmp_path):
    with pytest.raises(TypeError, match="data must be an anndata.AnnData"):
        prepare_anndata({"X": [1]}, tmp_path / "x.zarr", quiet=True)


def fails(capsys, *args: str) -> str:
    """Runs the CLI in-process; returns its one-line error (and checks exit code 1)."""
    assert main(["prepare", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cellucid prepare: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize(
    "flags",
    [
        ["--compression", "6"],  # the default value, given: still refused
        ["--layer", "counts"],
        ["--embedding-2d", "X_pca"],
        ["--no-connectivities"],
        ["--source-citation", "Doe"],
    ],
)
def test_folder_flags_with_a_store_name_the_flag(demo, tmp_path, capsys, flags):
    err = fails(capsys, str(demo[0]), str(tmp_path / "x.zarr"), *flags)
    assert f"{flags[0]} applies to export folders only" in err
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.parametrize(
    "flags", [["--zarr-format", "3"], ["--citation-text", "Doe"], ["--vector-field-default", "v"]]
)
def test_store_flags_with_a_folder_name_the_flag(demo, tmp_path, capsys, flags):
    err = fails(capsys, str(demo[0]), str(tmp_path / "folder"), *flags)
    assert f"{flags[0]} applies to a Cellucid-ready store only" in err
    assert not (tmp_path / "folder").exists()


def test_unknown_suffix_without_format(runs):
    out, done = runs
    result = done["atlas.zip"]
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "atlas.zip' ends in .zip" in result.stderr
    assert "--format" in result.stderr
    assert not (out / "atlas.zip").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x.zarr", "--format", "h5ad"], ["--format h5ad", "x.h5ad"]),
        (["x.h5ad", "--zarr-format", "3"], ["--zarr-format"]),
        (["x.zarr", "--vector-field-default", "nope"], ["--vector-field-default", "nope"]),
        (["x.zarr", "--latent-key", "X_none"], ["--latent-key", "X_none"]),
        (["x.zarr", "--dataset-id=-bad"], ["--dataset-id", "-bad"]),
    ],
)
def test_store_refusals_speak_in_flags(demo, tmp_path, capsys, args, words):
    err = fails(capsys, str(demo[0]), str(tmp_path / args[0]), *args[1:], "-q")
    for word in words:
        assert word in err
    assert not (tmp_path / args[0]).exists()


def test_existing_store_needs_force(demo, tmp_path, capsys):
    out = tmp_path / "x.h5ad"
    out.write_bytes(b"old")
    assert "--force" in fails(capsys, str(demo[0]), str(out), "-q")
    assert main(["prepare", str(demo[0]), str(out), "--force", "-q"]) == 0
    assert read_store(out).n_obs == N_CELLS


def test_the_input_is_never_the_output(demo, capsys):
    err = fails(capsys, str(demo[0]), str(demo[0]), "--force", "-q")
    assert "is the input itself" in err
    assert ad.read_h5ad(demo[0]).n_obs == N_CELLS


def test_help_has_a_store_section(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["prepare", "--help"])
    assert stopped.value.code == 0
    section = capsys.readouterr().out.split("Cellucid-ready store (OUT ending in")[1]
    for flag in ("--format", "--zarr-format", "--citation-text", "--vector-field-default"):
        assert flag in section
    # the shared flags are listed whole (never broken at a hyphen)
    assert "--dataset-id" in section and "--var-gene-id-column" in section


@pytest.mark.parametrize(
    ("out", "keywords", "error", "words"),
    [
        ("x.zarr", {"compression": 6}, TypeError, "compression applies to export folders only"),
        ("x.zarr", {"layer": "counts"}, TypeError, "layer applies to export folders only"),
        ("x.h5ad", {"embedding_keys": ["X_pca"]}, TypeError, "embedding_keys applies"),
        ("x.zarr", {"bogus": 1}, TypeError, "unexpected keyword argument 'bogus'"),
        ("folder", {"zarr_format": 3}, TypeError, "zarr_format applies to a Cellucid-ready"),
        ("folder", {"citation_text": "Doe"}, TypeError, "citation_text applies to a Cellucid"),
        ("x.zip", {}, ValueError, "ends in .zip"),
        ("x.zarr", {"format": "parquet"}, ValueError, "format= must be one of"),
    ],
)
def test_python_refusals_name_the_keyword(demo, tmp_path, out, keywords, error, words):
    with pytest.raises(error, match=re.escape(words)):
        prepare_anndata(demo[1], tmp_path / out, quiet=True, **keywords)
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("atlas", "atlas"),
        ("Lung atlas (v2)", "Lung-atlas-v2"),
        ("_hidden.", "hidden"),
        ("été", "t"),
        ("!!!", "dataset"),
        ("con", "con-data"),
        ("a" * 300, "a" * 180),
    ],
)
def test_dataset_id_from_a_name(name, expected):
    from cellucid.anndata_store import dataset_id_from
    from cellucid.sinks.anndata.record import require_dataset_id

    assert dataset_id_from(name) == expected
    assert require_dataset_id(expected) == expected
