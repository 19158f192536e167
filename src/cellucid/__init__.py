"""cellucid: single-cell atlases for the Cellucid web viewer: export folders, Cellucid-ready
AnnData stores, validation and serving.

The public names are imported lazily so that ``import cellucid`` stays cheap (no dask,
anndata or HTTP machinery until it is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "prepare": "cellucid.exporter",
    "generate_datasets_manifest": "cellucid.serving.datasets_manifest",
    "prepare_anndata": "cellucid.anndata_input",
    "make_demo_anndata": "cellucid.demo",
    "write_demo_export": "cellucid.demo",
    "serve": "cellucid.serving",
    "CellucidServer": "cellucid.serving",
    "show": "cellucid.notebook.show",
    "get_web_cache_dir": "cellucid.serving.webcache",
    "clear_web_cache": "cellucid.serving.webcache",
    "serve_anndata": "cellucid.anndata_serve",
    "show_anndata": "cellucid.anndata_serve",
    "get_export_cache_dir": "cellucid.serving.exportcache",
    "clear_export_cache": "cellucid.serving.exportcache",
    "validate_export": "cellucid.verify",
    "validate_store": "cellucid.verify.store",
    "compute_transition_drift": "cellucid.drift",
    "add_transition_drift_to_obsm": "cellucid.drift",
    # the errors users may catch; all derive from CellucidError (see cellucid/errors.py)
    **{
        name: "cellucid.errors"
        for name in (
            "CellucidError",
            "InputNotFoundError",
            "InputFileError",
            "OutputPathError",
            "ExpressionValuesError",
            "ExportWriteError",
            "ExportLockedError",
            "ExportMismatchError",
            "DamagedRecordError",
            "NotAnExportError",
        )
    },
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cellucid' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
