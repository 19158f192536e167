"""Finding the exports under the served folder: the folder itself or its subfolders.

The viewer requires each catalog entry's id and name to equal its export's
``dataset_identity.json``, so the server cannot rename a dataset. Under an exports root,
an export the viewer could not open by its id is left out, with a warning that names the
folder, what is wrong and the fix: an identity that is not a JSON object, an id another
export already uses (the first folder in sorted order keeps it), an id too long for a
viewer URL. A single served export with an unreadable identity is still served (under
its folder's name, for its files), with the same warning: the viewer cannot open it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cellucid.sinks.folder.format.naming import IDENTITY_NAME

#: longest id served under an exports root: the viewer URL names it (``&dataset=<id>``),
#: and the server answers 414 to long request targets; the index layout's own limit
MAX_ID_CHARS = 180
#: the same limit on the id as a URL writes it (non-ASCII characters take 6 to 12)
MAX_QUOTED_ID_CHARS = 1024


class SkippedExportWarning(UserWarning):
    """An export under a served root is left out of ``/_cellucid/datasets``."""


@dataclass(frozen=True)
class Dataset:
    """One served export."""

    id: str
    name: str
    path: str  # URL path of the export's folder, ending in "/"
    folder: Path = field(compare=False, default=Path("."))  # the export folder on disk

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "path": self.path}


class IdentityError(ValueError):
    """``dataset_identity.json`` cannot name its export."""


def read_identity(folder: Path) -> dict[str, Any]:
    """The identity document of the export in ``folder``.

    Raises
    ------
    IdentityError
        Naming the file: unreadable, not UTF-8 JSON, or JSON that is not an object.
    """
    path = folder / IDENTITY_NAME
    try:
        identity = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise IdentityError(f"{path} cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise IdentityError(f"{path} is not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise IdentityError(
            f"{path} is not valid JSON ({error.msg}, line {error.lineno} column {error.colno})"
        ) from None
    if not isinstance(identity, dict):
        raise IdentityError(
            f"{path} holds a JSON {type(identity).__name__.replace('dict', 'object')}, "
            "not an object"
        )
    return identity


def _dataset(folder: Path, url_path: str) -> Dataset:
    identity = read_identity(folder)
    name = identity.get("name")
    name = name if isinstance(name, str) and name else folder.name
    dataset_id = identity.get("id")
    # the viewer requires the catalog's id and name to equal dataset_identity.json's
    dataset_id = dataset_id if isinstance(dataset_id, str) and dataset_id else name
    return Dataset(dataset_id, name, url_path, folder)


def is_export(folder: Path) -> bool:
    return (folder / IDENTITY_NAME).is_file()


def _warn(text: str) -> None:
    # one place of issue: the warnings filter then says each text once, however often
    # the exports are listed (each /_cellucid/datasets request lists them)
    warnings.warn(text, SkippedExportWarning, stacklevel=1)


def _skip(folder: Path, why: str, fix: str) -> None:
    _warn(f"Skipping the export {folder}: {why}; {fix}.")


def _too_long(dataset_id: str) -> bool:
    return len(dataset_id) > MAX_ID_CHARS or len(quote(dataset_id, safe="")) > (MAX_QUOTED_ID_CHARS)


def root_datasets(root: Path) -> list[Dataset]:
    """The exports in the subfolders of ``root`` the viewer can open, each id once."""
    found: list[Dataset] = []
    by_id: dict[str, Dataset] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and is_export(p)):
        try:
            dataset = _dataset(sub, f"/{sub.name}/")
        except IdentityError as error:
            _skip(sub, str(error), "export it again, or fix the file")
            continue
        if dataset.id in by_id:
            _skip(
                sub,
                f"its id {dataset.id!r} is already the id of {by_id[dataset.id].folder}, and "
                "the viewer opens a dataset by its id",
                "export one of them again with another dataset_id (--dataset-id), or serve "
                "each from its own folder",
            )
            continue
        if _too_long(dataset.id):
            _skip(
                sub,
                f"its id is {len(dataset.id)} characters long, too long for the viewer URL "
                "that names it",
                f"export it again with a dataset_id (--dataset-id) of at most {MAX_ID_CHARS} "
                "characters",
            )
            continue
        by_id[dataset.id] = dataset
        found.append(dataset)
    return found


def discover(root: Path) -> tuple[str, list[Dataset]]:
    """``("single", [one])`` for an export folder, ``("root", [...])`` for an exports root."""
    if is_export(root):
        try:
            return "single", [_dataset(root, "/")]
        except IdentityError as error:
            _warn(
                f"{error}; the viewer cannot open this export (its files "
                "are still served). Export it again, or fix the file."
            )
            return "single", [Dataset(root.name, root.name, "/", root)]
    return "root", root_datasets(root)
