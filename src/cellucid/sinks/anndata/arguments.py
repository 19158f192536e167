"""The arguments of ``prepare()`` (upstream 0.9.5's keyword set) and where the store goes.

:class:`StoreRequest` holds the call as given; :func:`check_request` checks what decides
the output -- ``format``, ``out_path``, ``zarr_format``, ``force``, and the MuData
arguments this writer does not take yet -- before anything is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from cellucid.checks.out_path import output_path
from cellucid.checks.paths import name_limit, refuse_output_in_input
from cellucid.engine.files import RUN_TOKEN, TEMP_MARKER

#: Each ``format``: the suffix ``out_path`` ends in, and what it writes.
FORMATS: dict[str, tuple[str, str]] = {
    "h5ad": (".h5ad", "an .h5ad file"),
    "zarr": (".zarr", "a .zarr folder"),
    "zarr.zip": (".zarr.zip", "a .zarr.zip file"),
}

#: The Zarr format written unless ``zarr_format`` says otherwise.
DEFAULT_ZARR_FORMAT = 2

FORMAT_CHOICES = (
    'format must be "h5ad", "zarr" or "zarr.zip":\n'
    '  "h5ad"      one .h5ad file: single-file hosts (Zenodo, Figshare, S3, a lab server), '
    "local files.\n"
    '  "zarr"      a .zarr folder of small files: GitHub (no file over 100 MB).\n'
    '  "zarr.zip"  the Zarr store as one .zarr.zip file: wherever an .h5ad goes.'
)

# Every suffix a store path may end in, longest first (".zarr.zip" before ".zarr").
_SUFFIXES = (".zarr.zip", ".zarr", ".h5ad", ".h5mu")


# eq=False: it holds matrices and data objects, compared by identity.
@dataclass(frozen=True, eq=False)
class StoreRequest:
    """One ``prepare()`` call, as given (upstream 0.9.5's keywords and defaults).

    Nothing is checked here: :func:`check_request` checks the output, and
    :func:`~.build.build_content` everything else.
    """

    out_path: str | os.PathLike[str]
    _: KW_ONLY
    format: str | None = None
    data: Any = None
    embeddings: Mapping[str, Any] | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    obs: Any = None
    var: Any = None
    gene_expression: Any = None
    connectivities: Any = None
    vector_fields: Mapping[str, Mapping[str, Any]] | None = None
    modalities: Sequence[str] | None = None
    gene_identifiers: Sequence[str] | None = None
    dataset_description: str | None = None
    citation_text: str | None = None
    citation_url: str | None = None
    source_name: str | None = None
    source_url: str | None = None
    embedding_defaults: Mapping[str, Any] | None = None
    latent_key: str | None = None
    obs_keys: Sequence[str] | None = None
    var_gene_id_column: str | None = None
    vector_field_default: str | None = None
    normalize_embeddings: bool | None = None
    centroid_min_points: int | None = None
    modality: str | None = None
    zarr_format: int | None = None
    force: bool = False

    def given(self) -> dict[str, Any]:
        """The component arguments given (not None), which replace what ``data`` holds."""
        skipped = {"out_path", "format", "data", "modalities", "zarr_format", "force"}
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in skipped and getattr(self, item.name) is not None
        }


@dataclass(frozen=True)
class StoreTarget:
    """Where the store goes and what it is.

    Attributes
    ----------
    path
        The absolute output path (its folder resolved, its name as given).
    kind
        ``"h5ad"`` or ``"zarr"``.
    zipped
        A Zarr store packed into one ``.zarr.zip``.
    zarr_format
        2 or 3 for a Zarr store, None for an ``.h5ad``.
    """

    path: Path
    kind: Literal["h5ad", "zarr"]
    zipped: bool
    zarr_format: Literal[2, 3] | None


def _suffix_of(name: str) -> str | None:
    lowered = name.lower()
    return next((suffix for suffix in _SUFFIXES if lowered.endswith(suffix)), None)


def _checked_path(out_path: object, output_format: str) -> Path:
    """``out_path`` with the suffix of ``format`` (and more than the suffix)."""
    given = output_path(out_path, "out_path")  # ~ expanded; bytes and $VAR refused
    suffix, what = FORMATS[output_format]
    name = given.name
    present = _suffix_of(name)
    if present == suffix and len(name) > len(suffix):
        _require_room_for_siblings(given)
        return given
    stem = name if present is None else name[: len(name) - len(present)]
    instead = str(Path(out_path).parent / f"{stem or 'data'}{suffix}")
    if present is None:
        problem = f"does not end in {suffix}"
    elif present == suffix:
        problem = "is the suffix alone"
    else:
        problem = f"ends in {present}"
    raise ValueError(
        f'format="{output_format}" writes {what}, and out_path {str(out_path)!r} {problem}: '
        f"write {instead!r} instead."
    )


# What the hidden siblings of a run add to the store's name (see run._sibling): a dot,
# the marker, the longest role, the pid, the run token and a ".zarr" of the staging zip.
_SIBLING_EXTRA = 1 + len(TEMP_MARKER) + len("replaced") + 1 + 10 + 1 + len(RUN_TOKEN) + 5


def _require_room_for_siblings(path: Path) -> None:
    """The store is written under a longer hidden name first: that name must fit too."""
    limit = name_limit(path.parent)
    if len(os.fsencode(path.name)) + _SIBLING_EXTRA > limit:
        raise ValueError(
            f"out_path's name {path.name[:40]!r}... is {len(os.fsencode(path.name))} bytes "
            f"long; the store is written under a hidden name {_SIBLING_EXTRA} bytes longer "
            f"first, and the file system takes names up to {limit} bytes. Choose a name of "
            f"at most {limit - _SIBLING_EXTRA} bytes."
        )


def _zarr_format(value: object, output_format: str) -> Literal[2, 3] | None:
    if output_format == "h5ad":
        if value is not None:
            raise ValueError('zarr_format applies to format="zarr" or "zarr.zip", not "h5ad".')
        return None
    if value is None:
        return DEFAULT_ZARR_FORMAT
    if type(value) is int and value in (2, 3):
        return 2 if value == 2 else 3
    raise ValueError(f"zarr_format must be 2 or 3 (or None for 2), got {value!r}.")


def _require_replaceable(path: Path, kind: str, zipped: bool, force: bool) -> None:
    """Refuse an existing output unless ``force``, and never replace a non-store."""
    if not (path.exists() or path.is_symlink()):
        return
    if not force:
        raise FileExistsError(f"{path} already exists; pass force=True to replace it.")
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link, which force=True does not replace.")
    if kind == "zarr" and not zipped:
        if not (
            path.is_dir() and any((path / name).is_file() for name in (".zgroup", "zarr.json"))
        ):
            raise ValueError(
                f"{path} exists and is no Zarr store, so force=True does not replace it; "
                "remove it yourself if it should go."
            )
    elif not path.is_file():
        raise ValueError(
            f"{path} is a folder, and this format writes a file; remove it yourself if it "
            "should go."
        )


def is_mudata(value: object) -> bool:
    """Whether ``value`` is a ``mudata.MuData`` (recognised by class, mudata not imported)."""
    return any(
        cls.__name__ == "MuData" and cls.__module__.split(".")[0] == "mudata"
        for cls in type(value).__mro__
    )


_MUDATA_LATER = (
    "Writing a MuData (several modalities) is not supported by this writer yet. Write one "
    "modality as an AnnData: data=mdata.mod['rna'] (with the cells' metadata and embeddings "
    "it needs), or use cellucid 0.9.5's prepare() for a Cellucid-ready MuData."
)


def _require_single_modality(request: StoreRequest) -> None:
    if request.modalities is not None:
        raise ValueError(f"modalities chooses among a MuData's modalities. {_MUDATA_LATER}")
    if request.format == "h5mu" or is_mudata(request.data):
        what = 'format="h5mu"' if request.format == "h5mu" else "data is a MuData"
        raise ValueError(f"{what}: {_MUDATA_LATER}")


def check_request(request: StoreRequest) -> StoreTarget:
    """Check what decides the output, before anything is read or written.

    Returns
    -------
    StoreTarget
        Where the store goes and what it is.

    Raises
    ------
    TypeError
        ``format`` missing, ``force`` not a bool, ``out_path`` not a path.
    ValueError
        An unknown ``format``, ``out_path`` without its suffix, a refused
        ``zarr_format``, an output that may not be replaced, or MuData arguments.
    FileExistsError
        The output exists and ``force`` is False.
    """
    if type(request.force) is not bool:
        raise TypeError(f"force must be exactly True or False, got {request.force!r}.")
    if request.format is None:
        raise TypeError(f"prepare() needs format=, the kind of store to write. {FORMAT_CHOICES}")
    _require_single_modality(request)
    if not (isinstance(request.format, str) and request.format in FORMATS):
        raise ValueError(f"{FORMAT_CHOICES}\nGot format={request.format!r}.")
    output_format = request.format
    given = _checked_path(request.out_path, output_format)
    zarr_format = _zarr_format(request.zarr_format, output_format)
    kind: Literal["h5ad", "zarr"] = "h5ad" if output_format == "h5ad" else "zarr"
    zipped = output_format == "zarr.zip"
    path = given.parent.resolve() / given.name
    refuse_output_in_input(path, request.data, "out_path")
    _require_replaceable(path, kind, zipped, request.force)
    return StoreTarget(path=path, kind=kind, zipped=zipped, zarr_format=zarr_format)
