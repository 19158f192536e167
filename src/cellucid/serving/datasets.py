"""Finding the exports under the served folder: the folder itself or its subfolders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cellucid.sinks.folder.format.naming import IDENTITY_NAME


@dataclass(frozen=True)
class Dataset:
    """One served export."""

    id: str
    name: str
    path: str  # URL path of the export's folder, ending in "/"
    folder: Path = field(compare=False, default=Path("."))  # the export folder on disk

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "path": self.path}


def _read(folder: Path, url_path: str) -> Dataset:
    try:
        identity = json.loads((folder / IDENTITY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        identity = {}
    name = str(identity.get("name") or folder.name)
    # the viewer requires the catalog's id and name to equal dataset_identity.json's
    return Dataset(str(identity.get("id") or name), name, url_path, folder)


def is_export(folder: Path) -> bool:
    return (folder / IDENTITY_NAME).is_file()


def discover(root: Path) -> tuple[str, list[Dataset]]:
    """``("single", [one])`` for an export folder, ``("root", [...])`` for an exports root."""
    if is_export(root):
        return "single", [_read(root, "/")]
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and is_export(p))
    return "root", [_read(p, f"/{p.name}/") for p in subfolders]
