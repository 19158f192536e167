"""``generate_datasets_manifest()``: the index of an exports root with several datasets."""

from __future__ import annotations

import warnings
from pathlib import Path

from cellucid.engine.files import write_text
from cellucid.serving.datasets import read_identity, root_datasets
from cellucid.sinks.folder.format.manifests import to_json


def generate_datasets_manifest(
    exports_dir: str | Path,
    output_filename: str = "datasets.json",
    default_dataset: str | None = None,
) -> Path | None:
    """Write ``datasets.json`` listing the exports in the immediate subfolders.

    Parameters
    ----------
    exports_dir
        Folder whose subfolders are exports (each with a ``dataset_identity.json``). An
        export the viewer could not open by its id is left out with a warning, as
        ``cellucid serve`` leaves it out (see :mod:`cellucid.serving.datasets`).
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
    # the exports the server would list: each id once, every identity a JSON object
    for found in root_datasets(root):
        entry = {"id": found.id, "path": f"{found.folder.name}/", "name": found.name}
        stats = read_identity(found.folder).get("stats")
        for key in ("n_cells", "n_genes"):
            if isinstance(stats, dict) and stats.get(key):
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
