"""The README's examples as a reader meets them (#22 item 10).

tests/test_docs_examples.py runs every block alone in a fresh folder holding an atlas
with every obsm key the docs use. Here: the README's ``prepare()`` example on an atlas
shaped like scanpy's pbmc68k_reduced (X_pca, X_umap, obsp connectivities; no velocity),
and the export examples of README.md then docs/inputs.md one after the other in one
folder, as a reader following both would run them: none may refuse another's folder.
"""

from __future__ import annotations

import shutil

from cellucid import make_demo_anndata
from cellucid.verify import assert_valid_export

from .test_docs_examples import (
    EXAMPLES,
    commands,
    environment,
    run_command,
    run_python,
    template,  # noqa: F401 - the reader's folder, a fixture
)


def _readme_prepare_block() -> str:
    (block,) = [
        e.text for e in EXAMPLES if e.page == "README.md" and "latent_space=adata.obsm" in e.text
    ]
    return block


def test_readme_prepare_example_runs_on_a_scanpy_style_atlas(tmp_path, monkeypatch):
    adata = make_demo_anndata(n_cells=300, n_genes=20)
    for key in list(adata.obsm):
        if key not in ("X_pca", "X_umap"):
            del adata.obsm[key]
    adata.obsm["X_umap"] = adata.obsm["X_umap"][:, :2]
    adata.write_h5ad(tmp_path / "atlas.h5ad")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CELLUCID_STAMP_DIR", str(tmp_path / "stamps"))
    run_python(_readme_prepare_block(), tmp_path, {})
    assert_valid_export(tmp_path / "exports" / "atlas_arrays")
    assert not (tmp_path / "exports" / "atlas_arrays" / "vectors").exists()


def test_readme_then_inputs_page_in_one_folder(template, tmp_path, monkeypatch):  # noqa: F811
    folder = tmp_path / "reader"
    shutil.copytree(template, folder)
    env = environment(folder, template)
    monkeypatch.chdir(folder)
    for name in ("HOME", "XDG_CACHE_HOME", "CELLUCID_WEB_SOURCE_URL"):
        monkeypatch.setenv(name, env[name])
    ran = []
    for example in EXAMPLES:
        if example.page not in ("README.md", "docs/inputs.md"):
            continue
        if example.kind == "python":
            run_python(example.text, folder, env)
            ran.append(example.id)
            continue
        for command in commands(example.text):
            if command.startswith("cellucid prepare") and "--help" not in command:
                run_command(command, folder, env)
                ran.append(command)
    assert any("exports/atlas_tsne " in c for c in ran)  # README's and the page's commands
    assert len({c.split()[3] for c in ran if c.startswith("cellucid prepare")}) >= 4
