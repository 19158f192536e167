"""The key layout of cellucid 0.0.9 (the default): payload files named by ``safe(key)``.

The viewer builds each file name by applying ``safe()`` to the field's key, so two keys
with the same safe form would share a file: such keys are refused before writing. So are
keys whose safe forms differ only by case (``CD4`` and ``Cd4``): their files would
overwrite each other on case-insensitive disks (the default on macOS and Windows, and in
zip tools). The index layout names files by position and has neither problem.
"""

from __future__ import annotations

from typing import Any

from cellucid.sinks.folder.format.naming import find_collisions, names_a_file, safe_name
from cellucid.sinks.folder.layouts.base import FieldEntry, Layout
from cellucid.sinks.folder.layouts.registry import register_layout

_AXIS_WORDS = {"obs": "obs keys", "var": "Gene ids", "vectors": "Vector field ids"}


def case_collision(keys: list[str]) -> tuple[str, str] | None:
    """The first two keys whose file names differ only by case, or None."""
    seen: dict[str, str] = {}
    for key in keys:
        safe = safe_name(key)
        folded = safe.casefold()
        other = seen.setdefault(folded, key)
        if other != key and safe_name(other) != safe:
            return other, key
    return None


def _refuse_case_collision(axis: str, keys: list[Any]) -> None:
    pair = case_collision([str(k) for k in keys])
    if pair is not None:
        first, second = pair
        raise ValueError(
            f"{_AXIS_WORDS[axis]} '{first}' and '{second}' differ only by case: in the key "
            "layout their files are named from the keys and would overwrite each other on "
            "case-insensitive disks (the default on macOS and Windows, and in zip tools). "
            "Use layout='index' (--layout index), which names files by position, or rename "
            "one of them."
        )


class KeyLayout(Layout):
    """Files ``obs/<safe(key)>.values.u8``; tuples start with the key."""

    name = "key"
    token = "{key}"

    def stem(self, key: Any, index: int) -> str:
        return safe_name(key)

    def vector_stem(self, field_id: str, index: int) -> str:
        return field_id

    def continuous_entry(self, index: int, key: str, lo: float | None, hi: float | None) -> list:
        return [key] if lo is None else [key, lo, hi]

    def categorical_entry(
        self, index, key, categories, codes_dtype, missing, centroids, lo, hi
    ) -> list:
        entry = [key, categories, codes_dtype, missing, centroids]
        return entry if lo is None else [*entry, lo, hi]

    def gene_entry(self, index: int, gene: str, lo: float | None, hi: float | None) -> list:
        return [gene] if lo is None else [gene, lo, hi]

    def read_continuous(self, entry: list) -> FieldEntry:
        return FieldEntry(None, entry[0], *(entry[1:3] if len(entry) >= 3 else (None, None)))

    def read_categorical(self, entry: list) -> FieldEntry:
        lo, hi = (entry[5], entry[6]) if len(entry) >= 7 else (None, None)
        return FieldEntry(None, entry[0], lo, hi, list(entry[1]), entry[2], entry[3], entry[4])

    def read_gene(self, entry: list) -> FieldEntry:
        return self.read_continuous(entry)

    def vector_label(self, field_id: str) -> str:
        is_umap = field_id.endswith("_umap")
        text = (field_id[: -len("_umap")] if is_umap else field_id).replace("_", " ")
        text = text[:1].upper() + text[1:]
        return f"{text} (UMAP)" if is_umap else text

    def check_keys(self, axis: str, keys: list[Any]) -> None:
        if axis == "vectors":
            for field_id in keys:
                if safe_name(field_id) != field_id:
                    raise ValueError(
                        f"Vector field id '{field_id}' contains characters not allowed in file "
                        f"names; rename it to '{safe_name(field_id)}'."
                    )
            _refuse_case_collision(axis, keys)
            return
        for key in keys:
            if not names_a_file(key):
                raise ValueError(
                    f"{_AXIS_WORDS[axis]} {key!r} has no letter, digit, '.', '_' or '-' to name "
                    "its file (the viewer refuses such keys); rename it, or use "
                    "layout='index'."
                )
        collisions = find_collisions([str(k) for k in keys])
        if collisions:
            first, second, safe = collisions[0]
            raise ValueError(
                f"{_AXIS_WORDS[axis]} '{first}' and '{second}' would both be written as "
                f"'{safe}' (file names keep only letters, digits, '.', '_' and '-'); rename "
                "one of them, or use layout='index' (--layout index), which names files by "
                "position."
            )
        _refuse_case_collision(axis, keys)

    def validate(self, findings: Any, documents: dict[str, Any]) -> None:
        for axis, keys in (("obs", findings.obs_keys), ("var", findings.gene_keys)):
            for key in keys:
                if not (isinstance(key, str) and names_a_file(key)):
                    findings.error(f"{axis}_manifest.json: key {key!r} names no file")
            for first, second, safe in find_collisions([str(k) for k in keys]):
                findings.error(
                    f"{axis}_manifest.json: keys '{first}' and '{second}' share the file name "
                    f"{safe}"
                )
            pair = case_collision([str(k) for k in keys])
            if pair is not None:
                # two files on this disk, one on a case-insensitive one (macOS, Windows, zip)
                findings.warnings.append(
                    f"{axis}_manifest.json: keys '{pair[0]}' and '{pair[1]}' differ only by "
                    "case; their files overwrite each other on case-insensitive disks "
                    "(export with layout='index' to avoid it)"
                )


KEY_LAYOUT = register_layout(KeyLayout())
