"""Sphinx configuration of the cellucid documentation (MyST pages, numpy docstrings)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SRC = DOCS.parent / "src"
# document (and run the notebook against) the checkout being built, not whichever cellucid
# happens to be installed: the notebook's kernel is a subprocess, hence PYTHONPATH too
sys.path.insert(0, str(SRC))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))

import cellucid  # noqa: E402

project = "cellucid"
author = "cellucid developers"
copyright = "cellucid developers"
release = version = cellucid.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and notebooks (myst_parser comes with it)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The stored notebook has no outputs: run it at build time. It exports the small demo atlas
# and starts a data server on 127.0.0.1, both offline; a temporary folder keeps the export
# out of the source tree.
nb_execution_mode = "force"
nb_execution_in_temp = True
nb_execution_timeout = 120
nb_execution_raise_on_error = True

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"cellucid {release}"
