"""notebooks/anndata_store.ipynb runs in a real kernel and writes valid stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "anndata_store.ipynb"


def test_anndata_store_notebook_writes_valid_stores(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # the kernel is a subprocess: it must import this checkout's cellucid
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    assert not any(c.get("outputs") for c in notebook.cells), "the notebook is stored unexecuted"
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    last = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    # the last cell validates both stores: no problem found in either
    assert last.outputs[-1]["data"]["text/plain"] == "([], [])"
    assert (tmp_path / "demo.zarr" / ".zmetadata").is_file()
    assert (tmp_path / "demo.zarr.zip").is_file()
    # the stores are complete: no temporary sibling is left
    assert not list(tmp_path.glob(".demo*"))
