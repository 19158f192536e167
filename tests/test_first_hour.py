"""A biologist's first hour (#11): embedding choice, messages, help texts, plurals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

from cellucid import make_demo_anndata, prepare_anndata
from cellucid.cli import build_parser
from cellucid.inputs.embedding_choice import choose_embedding_keys, choose_vector_fields
from cellucid.report import cli_terms, count, in_callers_terms, size
from cellucid.sinks.folder.state import RECORD_NAME


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``cellucid ARGS`` through the CLI's entry point in this process (fast)."""
    from cellucid.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse usage errors
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def atlas():
    adata = make_demo_anndata(n_cells=600, n_genes=30)
    adata.obsm["X_tsne"] = adata.obsm["X_umap"] * 2
    return adata


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory, atlas) -> Path:
    path = tmp_path_factory.mktemp("first_hour") / "atlas.h5ad"
    atlas.write_h5ad(path)
    return path


# -- counts and words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, noun, text",
    [(0, "gene", "0 genes"), (1, "gene", "1 gene"), (3000, "gene file", "3,000 gene files")],
)
def test_count(n, noun, text):
    assert count(n, noun) == text


def test_size():
    assert (size(812), size(41_200_000)) == ("812 B", "41.2 MB")


def test_python_terms_become_cli_flags_only_on_the_cli():
    message = "Use force=True to replace it, or pass embeddings={2: 'X_tsne'}."
    assert in_callers_terms(message) == message
    with cli_terms():
        assert (
            in_callers_terms(message) == "Use --force to replace it, or pass --embedding-2d X_tsne."
        )


# -- embedding and vector-field choice -------------------------------------------------------


def test_requested_key_replaces_umap_with_a_warning(atlas):
    choice = choose_embedding_keys(atlas.obsm, ["X_tsne"])
    assert choice.keys == {2: "X_tsne", 3: "X_umap_3d"}
    assert len(choice.warnings) == 1
    assert (
        "obsm['X_tsne']" in choice.warnings[0] and "embeddings={2: 'X_umap'}" in choice.warnings[0]
    )


def test_explicit_dimension_wins_without_ambiguity(atlas):
    choice = choose_embedding_keys(atlas.obsm, ["X_tsne"], {2: "X_umap"})
    assert choice.keys[2] == "X_umap"


def test_two_requested_keys_for_one_dimension_are_an_error(atlas):
    obsm = dict(atlas.obsm) | {"X_phate": atlas.obsm["X_umap"]}
    with pytest.raises(ValueError, match=r"X_tsne.*X_phate|X_phate.*X_tsne"):
        choose_embedding_keys(obsm, ["X_tsne", "X_phate"])


def test_explicit_key_of_the_wrong_width_is_an_error(atlas):
    with pytest.raises(ValueError, match="3 columns"):
        choose_embedding_keys(atlas.obsm, (), {2: "X_umap_3d"})


def test_umap_vectors_are_skipped_on_a_tsne(atlas):
    chosen, skipped = choose_vector_fields(atlas.obsm, {2: "X_tsne", 3: "X_umap_3d"})
    assert sorted(chosen) == ["velocity_umap_3d"]
    assert len(skipped) == 1 and "velocity_umap" in skipped[0] and "X_tsne" in skipped[0]
    mapped, skipped = choose_vector_fields(
        atlas.obsm, {2: "X_tsne", 3: "X_umap_3d"}, {"velocity_umap": "velocity_umap_2d"}
    )
    assert sorted(mapped) == ["velocity_umap_2d", "velocity_umap_3d"] and not skipped


def test_prepare_anndata_with_tsne_exports_no_umap_velocity_in_2d(atlas, tmp_path, capsys):
    out = prepare_anndata(
        atlas, tmp_path / "e", embeddings={2: "X_tsne"}, include_genes=False, progress=False
    )
    text = capsys.readouterr().out
    assert "2D from obsm['X_tsne']" in text and "not exported" in text
    assert sorted(p.name for p in (out / "vectors").iterdir()) == ["velocity_umap_3d.bin.gz"]


# -- CLI messages ---------------------------------------------------------------------------


def test_every_cli_option_has_help():
    missing = []

    def walk(parser: argparse.ArgumentParser, prog: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prog} {name}")
            elif not action.help and action.option_strings:
                missing.append(f"{prog} {action.option_strings[0]}")
            elif not action.help and action.dest not in ("command",):
                missing.append(f"{prog} {action.dest}")

    walk(build_parser(), "cellucid")
    assert not missing, missing


def test_cli_says_force_flag_and_python_says_force_argument(h5ad, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "demo", str(out), "--n-cells", "300", "--n-genes", "5", "-q")[0] == 0
    code, _, err = cli(capsys, "prepare", str(h5ad), str(out), "--no-genes", "-q")
    assert code == 1
    assert err.count("\n") == 1 and "--force" in err and "force=True" not in err
    with pytest.raises(ValueError, match="force=True"):
        prepare_anndata(h5ad, out, include_genes=False, quiet=True)


def test_demo_errors_are_one_line(tmp_path, capsys):
    taken = str(tmp_path / "taken")
    assert cli(capsys, "demo", taken, "--n-cells", "300", "--n-genes", "5", "-q")[0] == 0
    again = cli(capsys, "demo", taken, "--n-cells", "400", "--n-genes", "5", "-q")
    zero = cli(capsys, "demo", str(tmp_path / "zero"), "--n-cells", "0")
    assert (again[0], zero[0]) == (1, 2)
    for _, _, err in (again, zero):
        assert err.count("\n") == 1 and "Traceback" not in err
    assert "--force" in again[2] and "at least 1" in zero[2]


def test_genes_none_found_is_an_error_and_some_missing_a_warning(h5ad, atlas, tmp_path, capsys):
    code, _, err = cli(capsys, "prepare", str(h5ad), str(tmp_path / "a"), "--genes", "FOO", "BAR")
    assert code == 1 and err.count("\n") == 1
    assert "none of the 2 requested genes are in var" in err and atlas.var_names[0] in err
    assert not (tmp_path / "a" / "dataset_identity.json").exists()
    gene = atlas.var_names[0]
    code, out, _ = cli(capsys, "prepare", str(h5ad), str(tmp_path / "c"), "--genes", gene, "FOO")
    assert code == 0
    assert "1 of the 2 requested genes are not in var and are skipped: 'FOO'" in out
    assert "✓ Exported 600 cells × 1 gene (" in out


def test_validate_and_serve_name_an_unfinished_export(tmp_path, capsys):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / RECORD_NAME).write_text("{}")
    validate = cli(capsys, "validate", str(folder))
    serve = cli(capsys, "serve", str(folder), "--no-browser", "--port", "0")
    assert (validate[0], serve[0]) == (2, 1)
    for _, _, err in (validate, serve):
        assert "unfinished export" in err and "resume" in err


def test_show_on_an_h5ad_points_to_show_anndata(h5ad):
    from cellucid.notebook.show import show

    with pytest.raises(TypeError, match="show_anndata"):
        show(h5ad)


def test_summary_line_counts_files_and_bytes(tmp_path, capsys):
    from cellucid.demo import write_demo_export

    out = write_demo_export(tmp_path / "d", n_cells=300, n_genes=7, progress=False)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert last.startswith(f"✓ Exported 300 cells × 7 genes ({len(files)} files, ")
    assert last.endswith(f" s to {out}")
    assert np.isfinite(float(last.split(" in ")[-1].split(" s ")[0]))


# -- progress ------------------------------------------------------------------------------


def test_notebook_without_ipywidgets_gets_a_plain_bar_without_warning(monkeypatch, recwarn):
    import importlib.util
    import types

    import tqdm.notebook
    import tqdm.std

    from cellucid import progress

    real_find_spec = importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real_find_spec(name, *a),
    )
    with progress.make_bar(10, "genes: write files", " genes", True) as bar:
        assert isinstance(bar, tqdm.std.tqdm) and bar.leave
        assert not isinstance(bar, tqdm.notebook.tqdm)
    assert not [w for w in recwarn if "IProgress" in str(w.message)]


def test_every_long_phase_has_a_bar_that_stays(tmp_path, monkeypatch, capsys):
    from cellucid import progress
    from cellucid.demo import write_demo_export

    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0)
    write_demo_export(tmp_path / "d", n_cells=300, n_genes=7, progress=True, quiet=True)
    err = capsys.readouterr().err
    # the connectivity runs beside these: its bar shows only while they wait for it
    # (tests/test_console_progress.py)
    for phase in (
        "embeddings: pass one",
        "obs: category centroids",
        "genes: pass one",
        "genes: encode 7 genes",
        "genes: write files: 100%",
    ):
        assert phase in err, err
    assert "7/7 [" in err and " genes/s]" in err
