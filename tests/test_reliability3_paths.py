"""Output paths and input files (#21 items 6 and 7): ``~`` expanded, ``$HOME`` refused,
bytes, over-long components and dangling links refused by name, genes files of every
encoding, an .h5ad locked by a writer called locked.

Every case runs the export folder and the Cellucid-ready store (and the CLI where it
applies) for real, and a refusal leaves nothing behind.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cellucid import CellucidError, prepare, prepare_anndata
from cellucid.cli import main

N, G = 30, 5


def _adata() -> ad.AnnData:
    rng = np.random.default_rng(3)
    adata = ad.AnnData(
        X=rng.uniform(0, 5, (N, G)).astype(np.float32),
        obs=pd.DataFrame({"kind": rng.choice(["a", "b"], N)}, index=[f"c{i}" for i in range(N)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(G)]),
    )
    adata.obsm["X_umap"] = rng.normal(size=(N, 2)).astype(np.float32)
    return adata


@pytest.fixture
def h5ad(tmp_path) -> Path:
    path = tmp_path / "in" / "atlas.h5ad"
    path.parent.mkdir()
    _adata().write_h5ad(path)
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home folder of its own, and a working folder apart from it."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["prepare", *args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- ~ and $HOME --------------------------------------------------------------------------


def test_tilde_out_dir_is_the_home_folder_in_python(h5ad, home, capsys):
    written = prepare_anndata(h5ad, "~/atlas")
    assert written == home / "atlas"
    assert (home / "atlas" / "dataset_identity.json").is_file()
    assert not (Path.cwd() / "~").exists()
    # the summary names the real, absolute folder
    assert f"to {home / 'atlas'}" in capsys.readouterr().out


def test_tilde_out_dir_of_prepare_folder_and_store(h5ad, home, capsys):
    adata = _adata()
    out = prepare(
        X_umap_2d=adata.obsm["X_umap"], latent_space=adata.obsm["X_umap"], out_dir="~/plain"
    )
    assert out == home / "plain" and (out / "points_2d.bin").is_file()
    store = prepare("~/atlas.zarr", format="zarr", data=h5ad, dataset_id="a", dataset_name="a")
    assert store == home / "atlas.zarr" and (store / ".zgroup").is_file()
    assert f"✓ Wrote {home / 'atlas.zarr'} " in capsys.readouterr().out
    assert prepare_anndata(h5ad, "~/other.h5ad", quiet=True) == home / "other.h5ad"
    assert not (Path.cwd() / "~").exists()


def test_tilde_out_on_the_cli(h5ad, home, capsys):
    code, out, err = _cli(capsys, str(h5ad), "~/cli")
    assert code == 0, err
    assert (home / "cli" / "dataset_identity.json").is_file()
    assert f"to {home / 'cli'}" in out
    code, out, err = _cli(capsys, str(h5ad), "~/cli.zarr")
    assert code == 0, err
    assert (home / "cli.zarr" / ".zgroup").is_file()
    assert not (Path.cwd() / "~").exists()


@pytest.mark.parametrize("given", ["$HOME/x", "${HOME}/x.zarr", "%USERPROFILE%/x"])
def test_environment_variable_paths_are_refused_with_the_fix(h5ad, home, given):
    with pytest.raises(CellucidError, match="reads as an environment variable") as info:
        prepare_anndata(h5ad, given, quiet=True)
    assert "out_dir" in str(info.value) and "os.path.expandvars" in str(info.value)
    assert os.listdir(Path.cwd()) == [] and os.listdir(home) == []


def test_environment_variable_store_path_and_cli(h5ad, home, capsys):
    with pytest.raises(CellucidError, match="out_path '\\$HOME/x.zarr' starts with '\\$HOME'"):
        prepare("$HOME/x.zarr", format="zarr", data=h5ad, dataset_id="a", dataset_name="a")
    code, _, err = _cli(capsys, str(h5ad), "$HOME/cli")
    assert code == 1
    assert "OUT '$HOME/cli' starts with '$HOME', which reads as an environment variable" in err
    assert "single quotes" in err
    assert os.listdir(Path.cwd()) == [] and os.listdir(home) == []


# -- bytes, long components, dangling links -------------------------------------------------


def test_out_dir_as_bytes_is_refused_with_the_fix(h5ad, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(TypeError, match=r"out_dir must be a str or pathlib.Path, got bytes") as e:
        prepare_anndata(h5ad, os.fsencode(out), quiet=True)
    assert "os.fsdecode" in str(e.value)
    with pytest.raises(TypeError, match=r"out_path must be a str or pathlib.Path, got bytes"):
        prepare(os.fsencode(out) + b".zarr", format="zarr", data=h5ad, dataset_id="a",
                dataset_name="a")  # fmt: skip
    assert not out.exists() and not (tmp_path / "out.zarr").exists()


@pytest.mark.parametrize("name", ["folder", "store.zarr"])
def test_a_component_over_the_name_limit_is_refused_by_name(h5ad, tmp_path, capsys, name):
    out = tmp_path / ("x" * 300) / name
    with pytest.raises(CellucidError, match="is 300 bytes long, and the file system takes names"):
        prepare_anndata(h5ad, out, quiet=True)
    code, _, err = _cli(capsys, str(h5ad), str(out))
    assert code == 1 and "OUT: the path component 'xxxx" in err
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_a_store_name_that_leaves_no_room_for_its_hidden_sibling(h5ad, tmp_path):
    out = tmp_path / ("s" * 240 + ".h5ad")
    with pytest.raises(ValueError, match="written under a hidden name .* bytes longer first"):
        prepare_anndata(h5ad, out, quiet=True)
    assert sorted(os.listdir(tmp_path)) == ["in"]


@pytest.mark.parametrize("name", ["folder", "store.zarr", "store.h5ad"])
def test_a_dangling_symlink_out_dir_is_named_with_its_target(h5ad, tmp_path, capsys, name):
    link = tmp_path / name
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(CellucidError, match="is a symbolic link to .*gone, which does not exist"):
        prepare_anndata(h5ad, link, quiet=True)
    # and a link on the way to the output
    with pytest.raises(CellucidError, match="symbolic link to .*gone, which does not exist"):
        prepare_anndata(h5ad, link / "inner", quiet=True)
    code, _, err = _cli(capsys, str(h5ad), str(link))
    assert code == 1 and "Create the folder it points to, remove the link" in err
    assert not (tmp_path / "gone").exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["in", name])


# -- genes files ----------------------------------------------------------------------------

GENES = ["g3", "g1", "g4"]


def _genes_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "genes.txt"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + b"g3\r\ng1\r\ng4\r\n",
        b"g3\r\ng1\r\n\r\n# a comment\r\ng4",
        "g3\ng1\ng4\n".encode("utf-16"),  # with its byte-order mark
    ],
    ids=["utf8-bom-crlf", "crlf-comments", "utf16-bom"],
)
def test_genes_file_with_bom_crlf_or_utf16_keeps_every_gene(h5ad, tmp_path, data):
    genes = _genes_file(tmp_path, data)
    folder = prepare_anndata(h5ad, tmp_path / "folder", genes_file=genes, quiet=True)
    identity = (folder / "dataset_identity.json").read_text()
    assert '"n_genes": 3' in identity
    assert sorted(p.name.split(".")[0] for p in (folder / "var").iterdir()) == sorted(GENES)
    store = prepare_anndata(h5ad, tmp_path / "s.h5ad", genes_file=genes, quiet=True)
    assert list(ad.read_h5ad(store).var_names) == GENES


def test_genes_file_on_the_cli_with_bom_and_crlf(h5ad, tmp_path, capsys):
    genes = _genes_file(tmp_path, codecs.BOM_UTF8 + b"g3\r\ng1\r\ng4\r\n")
    code, _, err = _cli(capsys, str(h5ad), str(tmp_path / "cli"), "--genes-file", str(genes))
    assert code == 0, err
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "cli" / "var").iterdir()) == sorted(
        GENES
    )


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"g1\n\xff\xfeg\x00", "is not UTF-8 text (byte 3 cannot be decoded)"),
        ("g1\ng2\n".encode("utf-16-le"), "holds NUL characters (UTF-16 text without a byte"),
        (b"g1\ng2\ng1\n", "lists 'g1' twice (lines 1 and 3): list each gene once"),
    ],
    ids=["not-utf8", "utf16-without-bom", "repeated"],
)
def test_unreadable_or_repeating_genes_file_names_the_file(h5ad, tmp_path, capsys, data, fragment):
    genes = _genes_file(tmp_path, data)
    for out in (tmp_path / "folder", tmp_path / "s.zarr"):
        with pytest.raises(ValueError, match="genes_file") as info:
            prepare_anndata(h5ad, out, genes_file=genes, quiet=True)
        assert str(genes) in str(info.value) and fragment in str(info.value)
        assert not out.exists()
    code, _, err = _cli(capsys, str(h5ad), str(tmp_path / "cli"), "--genes-file", str(genes))
    assert code == 1 and f"--genes-file '{genes}'" in err and fragment in err
    assert not (tmp_path / "cli").exists()


def test_missing_genes_file_is_named(h5ad, tmp_path):
    with pytest.raises(FileNotFoundError, match="genes_file '.*nope.txt' does not exist"):
        prepare_anndata(h5ad, tmp_path / "out", genes_file=tmp_path / "nope.txt", quiet=True)
    assert not (tmp_path / "out").exists()


# -- an .h5ad another program writes ----------------------------------------------------------


@pytest.fixture
def locked(h5ad):
    """The .h5ad held open for writing by another process (HDF5 locks it)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import h5py, sys\n"
            "f = h5py.File(sys.argv[1], 'a')\n"
            "print('open', flush=True)\n"
            "sys.stdin.read()\n",
            str(h5ad),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"  # waits for the lock, any load
        yield h5ad
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_h5ad_locked_by_a_writer_is_called_locked(locked, tmp_path, capsys):
    for out in (tmp_path / "folder", tmp_path / "store.zarr"):
        with pytest.raises(CellucidError, match="is locked: another program has it open for"):
            prepare_anndata(locked, out, quiet=True)
        assert not out.exists()
    with pytest.raises(CellucidError, match="is locked") as info:
        prepare(tmp_path / "p.zarr", format="zarr", data=locked, dataset_id="a", dataset_name="a")
    assert "truncated or damaged" not in str(info.value)
    assert "close it there" in str(info.value).lower()
    code, _, err = _cli(capsys, str(locked), str(tmp_path / "cli"))
    assert code == 1 and "is locked" in err and "HDF5_USE_FILE_LOCKING=FALSE" in err
    assert sorted(os.listdir(tmp_path)) == ["in"]
