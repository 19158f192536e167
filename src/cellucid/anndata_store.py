"""``prepare_anndata`` and ``cellucid prepare`` writing a Cellucid-ready AnnData store.

The output path chooses what is written: a name ending in ``.zarr``, ``.zarr.zip`` or
``.h5ad`` is a Cellucid-ready store (upstream 0.9.5's ``prepare(out_path, format=...)``),
anything else an export folder; ``format`` overrides the name (``"folder"`` included).

The input goes to the store writer as it is: an AnnData (in memory or backed) or the
store path, which the writer opens lazily (X stays on disk and is streamed). Only
``uns['cellucid']`` and the obsm keys are read here, to fill what the front doors fill
when nothing says otherwise: the dataset name (the output's name), its id (the name in
id form, as for an export folder) and the latent space (``X_pca``, then ``X_scvi``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cellucid.checks.paths import refuse_locked
from cellucid.options import BY_NAME
from cellucid.report import Reporter, on_cli
from cellucid.sinks.anndata.arguments import FORMATS, StoreRequest, check_request
from cellucid.sinks.anndata.names import WINDOWS_DEVICE_NAMES
from cellucid.sinks.anndata.record import record_arguments
from cellucid.sinks.anndata.request import FOLDER_ONLY

#: ``format`` that writes an export folder whatever the output's name.
FOLDER = "folder"
#: Every ``format`` the front doors take.
FORMAT_NAMES = (FOLDER, *FORMATS)

# Output suffixes that name a store, longest first (".zarr.zip" before ".zarr").
_STORE_SUFFIXES = sorted(((s, f) for f, (s, _) in FORMATS.items()), key=lambda sf: -len(sf[0]))
# Output suffixes that name a file no front door writes: refused rather than made a folder.
_NOT_OUTPUTS = (".zip", ".h5mu", ".h5", ".hdf5", ".loom", ".mudata")

#: The store's keywords an export folder has no use for.
STORE_ONLY_KEYWORDS = (
    "citation_text",
    "citation_url",
    "vector_field_default",
    "embedding_defaults",
    "normalize_embeddings",
    "modality",
    "zarr_format",
)
#: Keywords of ``prepare_anndata`` (and their CLI flags) that a store takes.
STORE_KEYWORDS = frozenset(STORE_ONLY_KEYWORDS) | {
    "format",
    "latent_key",
    "obs_keys",
    "gene_identifiers",
    "genes_file",
    "var_gene_id_column",
    "centroid_min_points",
    "dataset_id",
    "dataset_name",
    "dataset_description",
    "source_name",
    "source_url",
    "force",
    "progress",
    "quiet",
}
#: Keywords of ``prepare_anndata`` only an export folder takes.
FOLDER_KEYWORDS = (
    frozenset(BY_NAME)
    | frozenset(FOLDER_ONLY)
    | {
        "embedding_keys",
        "embeddings",
        "connectivities_key",
        "layer",
        "include_genes",
        "include_vector_fields",
        "vector_keys",
    }
) - STORE_KEYWORDS
#: The latent spaces chosen when none is named, in order (as for an export folder).
LATENT_PREFERENCE = ("X_pca", "X_scvi")


def _spelled(keyword: str) -> str:
    """A keyword as the caller spells it: ``--flag`` on the command line, ``name=`` else."""
    return f"--{keyword.replace('_', '-')}" if on_cli() else f"{keyword}="


def _named(keyword: str) -> str:
    """A keyword named in a sentence: ``--flag`` on the command line, ``name`` else."""
    return _spelled(keyword).rstrip("=")


def _choose(keyword: str) -> str:
    return f"choose with {_spelled(keyword)}"


def output_format(out: str | os.PathLike[str] | None, format: str | None) -> str | None:  # noqa: A002
    """What ``out`` asks for: a store format (``"zarr"``, ``"zarr.zip"``, ``"h5ad"``) or
    None for an export folder.

    Raises
    ------
    ValueError
        An unknown ``format``, or an output name ending in a file suffix no front door
        writes (``.zip``, ``.h5mu``, ...) with no ``format``.
    """
    if format is not None:
        if format not in FORMAT_NAMES:
            choices = ", ".join(repr(name) for name in FORMAT_NAMES)
            raise ValueError(f"{_spelled('format')} must be one of {choices}, got {format!r}.")
        return None if format == FOLDER else format
    if out is None:
        return None
    name = Path(out).name.lower()
    for suffix, store_format in _STORE_SUFFIXES:
        if name.endswith(suffix):
            return store_format
    unknown = next((s for s in _NOT_OUTPUTS if name.endswith(s)), None)
    if unknown is not None:
        raise ValueError(
            f"The output {str(out)!r} ends in {unknown}, which is no output this writes: end "
            "it in .zarr, .zarr.zip or .h5ad for a Cellucid-ready store, name a folder for an "
            f"export folder, or pass {_spelled('format')}."
        )
    return None


def refuse_store_keywords(given: Mapping[str, Any]) -> None:
    """An export folder was asked for with a keyword only a store takes: name it.

    Raises
    ------
    TypeError
        Naming the first such keyword.
    """
    for keyword in STORE_ONLY_KEYWORDS:
        if given.get(keyword) is not None:
            raise TypeError(
                f"{_named(keyword)} applies to a Cellucid-ready store only: end the output in "
                f".zarr, .zarr.zip or .h5ad (or pass {_spelled('format')}) to write one, or "
                f"drop {_named(keyword)} to write an export folder."
            )


def refuse_folder_keywords(given: Mapping[str, Any], out: object, store_format: str) -> None:
    """A store was asked for with keywords only an export folder takes: name the first.

    Raises
    ------
    TypeError
        Naming the keyword and what to do instead.
    """
    for keyword in given:
        if keyword in STORE_KEYWORDS:
            continue
        if keyword not in FOLDER_KEYWORDS:
            raise TypeError(f"prepare_anndata() got an unexpected keyword argument {keyword!r}.")
        raise TypeError(
            f"{keyword} applies to export folders only, and {str(out)!r} is a "
            f"Cellucid-ready store (format {store_format!r}): drop {keyword}, or name a "
            "folder (or pass format='folder') to write an export folder."
        )


def dataset_id_from(name: str) -> str:
    """``name`` as a dataset id: ASCII letters, digits, ``.``, ``_``, ``-`` (at most 180).

    Examples
    --------
    >>> dataset_id_from("Lung atlas (v2)")
    'Lung-atlas-v2'
    """
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    text = re.sub(r"^[^A-Za-z0-9]+", "", text)[:180].rstrip(".-_")
    if not text:
        return "dataset"
    if text.split(".", 1)[0].upper() in WINDOWS_DEVICE_NAMES:
        # a device name is refused as an id (sessions are stored under it on Windows)
        return f"{text}-data"[:180]
    return text


def store_stem(out: str | os.PathLike[str], store_format: str) -> str:
    """The output's name without its store suffix (``atlas`` of ``atlas.zarr.zip``)."""
    name = Path(out).name
    suffix = FORMATS[store_format][0]
    return name[: -len(suffix)] if name.lower().endswith(suffix) else name


def _open_root(path: Path) -> tuple[Any, Any]:
    """The root group of the store at ``path`` and the handle to close (or None)."""
    name = path.name.lower()
    if name.endswith(".zarr.zip"):
        import zarr

        store = zarr.storage.ZipStore(path, mode="r")
        return zarr.open_group(store, mode="r"), store
    if path.is_dir():
        import zarr

        return zarr.open_group(str(path), mode="r"), None
    import h5py

    try:
        file = h5py.File(path, "r")
    except OSError as error:
        refuse_locked(path, error)
        raise
    return file, file


def peek(data: Any) -> tuple[dict[str, Any], list[str]]:
    """What ``data``'s ``uns['cellucid']`` fills, and its obsm keys (nothing else is read)."""
    if not isinstance(data, str | os.PathLike):
        return record_arguments(data.uns), list(data.obsm)
    from anndata.io import read_elem

    root, handle = _open_root(Path(data))
    try:
        uns = root.get("uns")
        record = {}
        if uns is not None and "cellucid" in uns:
            record = {"cellucid": read_elem(uns["cellucid"])}
        obsm = root.get("obsm")
        keys = list(obsm.keys()) if obsm is not None and hasattr(obsm, "keys") else []
        return record_arguments(record), keys
    finally:
        if handle is not None:
            handle.close()


def check_store_input(data: Any) -> None:
    """A path input exists and can be opened (the messages of an export folder's input).

    Raises
    ------
    InputNotFoundError, InputFileError
        Nothing at the path, or not an HDF5 file or Zarr store.
    """
    if not isinstance(data, str | os.PathLike):
        return
    from cellucid.checks.paths import check_input_path

    path = Path(data)
    if path.name.lower().endswith(".zarr.zip") and path.is_file():
        return  # one file holding a Zarr store: the writer opens it
    check_input_path(path)


def _refuse_same_path(data: Any, out: Path) -> None:
    if isinstance(data, str | os.PathLike) and Path(data).resolve() == out.resolve():
        raise ValueError(
            f"The output {str(out)!r} is the input itself: write the store under another name."
        )


def _describe(data: Any) -> str:
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        kind = "h5ad file" if path.is_file() and not path.name.endswith(".zip") else "Zarr store"
        return f"{kind} {path}"
    return f"backed AnnData {data.filename}" if data.isbacked else "AnnData in memory"


def front_door_defaults(
    data: Any, out: str | os.PathLike[str], store_format: str, keywords: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The keywords the front doors fill when neither the caller nor ``uns['cellucid']`` did.

    Returns the filled keywords and one line per filled keyword, saying where it came from.
    """
    record, obsm_keys = peek(data)
    filled: dict[str, Any] = {}
    lines = []
    name = keywords.get("dataset_name")
    if name is None:
        name = record.get("dataset_name")
    if name is None:
        name = filled["dataset_name"] = store_stem(out, store_format)
        lines.append(f"  dataset name {name!r}: the output's name ({_choose('dataset_name')})")
    if keywords.get("dataset_id") is None and "dataset_id" not in record and isinstance(name, str):
        filled["dataset_id"] = dataset_id_from(name)
        lines.append(
            f"  dataset id {filled['dataset_id']!r}: the name in id form ({_choose('dataset_id')})"
        )
    if keywords.get("latent_key") is None and "latent_key" not in record:
        latent = next((key for key in LATENT_PREFERENCE if key in obsm_keys), None)
        if latent is not None:
            filled["latent_key"] = latent
            lines.append(
                f"  latent space: obsm['{latent}'], for the outlier quantiles "
                f"({_choose('latent_key')})"
            )
    return filled, lines


def prepare_store(
    data: Any,
    out: str | os.PathLike[str],
    store_format: str,
    keywords: Mapping[str, Any],
    *,
    quiet: bool = False,
) -> Path:
    """Write a Cellucid-ready store of ``data`` at ``out`` through :func:`cellucid.prepare`.

    Parameters
    ----------
    data
        An AnnData (in memory or backed) or the path of an ``.h5ad``, ``.zarr`` or
        ``.zarr.zip`` (opened lazily by the writer; X is streamed, never loaded whole).
    out, store_format
        The store's path and format (``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``).
    keywords
        Store keywords given by the caller (:data:`STORE_KEYWORDS` but ``format``,
        ``genes_file`` and ``quiet``).
    quiet
        Print nothing but errors.

    Returns
    -------
    pathlib.Path
        The store.
    """
    from cellucid.exporter import prepare
    from cellucid.sinks.anndata.inputs import is_anndata  # pandas: not for `cellucid --help`

    if not (isinstance(data, str | os.PathLike) or is_anndata(data)):
        # prepare() says what data may be (and that a MuData is not written yet)
        return prepare(out_path=out, format=store_format, data=data, quiet=quiet, **keywords)
    # what decides the output is refused before anything is read or said
    check_request(
        StoreRequest(
            out,
            format=store_format,
            zarr_format=keywords.get("zarr_format"),
            force=keywords.get("force", False),
        )
    )
    check_store_input(data)
    _refuse_same_path(data, Path(out))
    filled, lines = front_door_defaults(data, out, store_format, keywords)
    reporter = Reporter(quiet)
    reporter.say(f"Reading {_describe(data)} into a Cellucid-ready store ({store_format})")
    for line in lines:
        reporter.say(line)
    return prepare(out_path=out, format=store_format, data=data, quiet=quiet, **keywords, **filled)
