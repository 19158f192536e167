"""``generate_datasets_manifest()``: the index of an exports root with several datasets."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from cellucid.engine.files import write_text
from cellucid.sinks.folder.format.manifests import to_json
from cellucid.sinks.folder.format.naming import IDENTITY_NAME


def generate_datasets_manifest(
    exports_dir: str | Path,
    output_filename: str = "datasets.json",
    default_dataset: str | None = None,
) -> Path | None:
    """Write ``datasets.json`` listing the exports in the immediate subfolders.

    Parameters
    ----------
    exports_dir
        Folder whose subfolders are exports (each with a ``dataset_identity.json``).
    output_filename
        Name of the manifest written into ``exports_dir``.
    default_dataset
        Id of the default dataset; unknown ids fall back to the first one with a warning.

    Returns
    -------
    pathlib.Path or None
        The manifest path, or None (nothing written) when no export was found.
    """
    root = Path(exports_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"Exports directory not found: {root}")
    datasets = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        identity_path = sub / IDENTITY_NAME
        if not identity_path.is_file():
            continue
        identity = json.loads(identity_path.read_text(encoding="utf-8"))
        entry = {
            "id": identity["id"],
            "path": f"{sub.name}/",
            "name": identity.get("name", sub.name),
        }
        stats = identity.get("stats", {})
        for key in ("n_cells", "n_genes"):
            if stats.get(key):
                entry[key] = stats[key]
        datasets.append(entry)
    if not datasets:
        return None
    ids = [d["id"] for d in datasets]
    if default_dataset is None:
        default = ids[0]
    elif default_dataset in ids:
        default = default_dataset
    else:
        warnings.warn(
            f"default_dataset '{default_dataset}' is not among {ids}; using '{ids[0]}'.",
            stacklevel=2,
        )
        default = ids[0]
    path = root / output_filename
    write_text(path, to_json({"version": 1, "default": default, "datasets": datasets}, indent=2))
    return path
