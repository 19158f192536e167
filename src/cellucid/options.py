"""The export options, defined once.

This table feeds every place that names an option: the checks of ``prepare()``, the
settings stored in the export record, the ``cellucid prepare`` flags, the defaults of our
own front doors (``prepare_anndata`` and the CLI) and the options table in
``docs/options.md`` (a test keeps that page equal to :func:`markdown_table`).

``prepare()`` keeps the documented defaults of the reference signature (``default``);
the front doors use ``front_door_default`` where it differs (gzip and 8-bit genes: an
export a tenth of the size that decodes within half a quantization step).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.layouts import DEFAULT_LAYOUT, layout_names

_SAME = object()


@dataclass(frozen=True)
class Option:
    """One export option: its default, how it is checked and how the CLI spells it."""

    name: str
    default: Any
    help: str
    #: returns a message saying what is wrong with a value, or None when it is fine
    check: Callable[[Any], str | None] = field(default=lambda value: None)
    #: turns the CLI's text into a value (raising ValueError with a message)
    parse: Callable[[str], Any] = str
    front_door_default: Any = _SAME
    #: part of the settings that shape the bytes (stored in the record)
    shapes_bytes: bool = True
    #: "value", "switch" (--name) or "no-switch" (--no-name)
    cli: str = "value"
    choices: tuple[Any, ...] | None = None
    metavar: str | None = None
    group: str = "format"
    short: str | None = None

    @property
    def flag(self) -> str:
        stem = self.name.replace("_", "-")
        return f"--no-{stem}" if self.cli == "no-switch" else f"--{stem}"

    @property
    def our_default(self) -> Any:
        """The default of prepare_anndata() and the CLI."""
        return self.default if self.front_door_default is _SAME else self.front_door_default


# -- value checks ---------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _bits(value: Any) -> str | None:
    if value is None or (_is_int(value) and int(value) in (8, 16)):
        return None
    return f"must be None, 8 or 16, got {value!r}"


def _level(value: Any) -> str | None:
    if value is None or (_is_int(value) and 0 <= int(value) <= 9):
        return None
    return f"must be None or a gzip level from 0 to 9, got {value!r}"


def _codes(value: Any) -> str | None:
    if value in ("auto", "uint8", "uint16"):
        return None
    return f"must be 'auto', 'uint8' or 'uint16', got {value!r}"


def _quantile(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if math.isfinite(float(value)) and 0 < float(value) < 1:
            return None
    return f"must be None or a number strictly between 0 and 1, got {value!r}"


def _positive(value: Any) -> str | None:
    if _is_int(value) and int(value) >= 1:
        return None
    return f"must be a positive integer, got {value!r}"


def _optional_positive(value: Any) -> str | None:
    return None if value is None else _positive(value)


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return None
    return f"must be a non-empty string, got {value!r}"


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    return f"must be None or a string, got {type(value).__name__}"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be True or False, got {value!r}"


def _optional_bool(value: Any) -> str | None:
    return None if value is None else _bool(value)


def _scheduler(value: Any) -> str | None:
    if value is None or value in ("threads", "sync", "processes"):
        return None
    return f"must be None, 'threads', 'sync' or 'processes', got {value!r}"


def _layout(value: Any) -> str | None:
    if value in layout_names():
        return None
    return f"must be one of {', '.join(repr(n) for n in layout_names())}, got {value!r}"


# -- CLI parsers ----------------------------------------------------------------------------


def _parse_bits(text: str) -> int | None:
    if text.lower() in ("none", "off"):
        return None
    if text not in ("8", "16"):
        raise ValueError(f"must be 8, 16 or none, got {text!r}")
    return int(text)


def _parse_level(text: str) -> int | None:
    if text.lower() in ("none", "off"):
        return None
    if not text.isdigit() or not 0 <= int(text) <= 9:
        raise ValueError(f"must be a gzip level 0-9 (0 or none: uncompressed), got {text!r}")
    return int(text) or None


def _parse_quantile(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number in (0, 1) or none, got {text!r}") from None
    if not 0 < value < 1:
        raise ValueError(f"must be strictly between 0 and 1, got {text!r}")
    return value


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, got {text!r}") from None


#: longest file or folder name most file systems take (bytes of UTF-8)
NAME_MAX_BYTES = 255


def _file_name(value: Any) -> str | None:
    """A single, plain path component: never a path, never hidden, never too long."""
    problem = _text(value)
    if problem is not None:
        return problem
    if "/" in value or "\\" in value or "\0" in value:
        return f"must be a single file or folder name without '/' or '\\', got {value!r}"
    if value in (".", "..") or value.startswith("."):
        return f"must not be '.', '..' or a hidden name starting with '.', got {value!r}"
    if len(value.encode("utf-8")) > NAME_MAX_BYTES:
        return f"is longer than the file system allows ({NAME_MAX_BYTES} bytes): {value[:40]!r}..."
    return None


def _name_option(name: str, default: str, what: str) -> Option:
    return Option(name, default, what, check=_file_name, metavar="NAME", group="names")


def _metadata(name: str, what: str) -> Option:
    return Option(name, None, what, check=_optional_text, metavar="TEXT", group="dataset metadata")


OPTIONS: tuple[Option, ...] = (
    Option(
        "var_gene_id_column",
        "index",
        "var column holding the gene ids, or 'index' for var.index",
        check=_text,
        metavar="COLUMN",
        group="what to export",
    ),
    Option(
        "centroid_outlier_quantile",
        0.95,
        "distance quantile of the cells kept for category centroids; none for no centroids",
        check=_quantile,
        parse=_parse_quantile,
        metavar="Q",
    ),
    Option(
        "centroid_min_points",
        10,
        "smallest category that gets a centroid and outlier quantiles",
        check=_positive,
        parse=_parse_int,
        metavar="N",
    ),
    _name_option("obs_manifest_filename", "obs_manifest.json", "file name of the obs manifest"),
    _name_option("obs_binary_dirname", "obs", "folder of the obs binaries"),
    _name_option("var_manifest_filename", "var_manifest.json", "file name of the var manifest"),
    _name_option("var_binary_dirname", "var", "folder of the gene binaries"),
    _name_option(
        "connectivity_manifest_filename",
        "connectivity_manifest.json",
        "file name of the connectivity manifest",
    ),
    _name_option("connectivity_binary_dirname", "connectivity", "folder of the edge binaries"),
    Option(
        "force",
        False,
        "replace an earlier export in the output folder (removing only files it owned)",
        check=_bool,
        shapes_bytes=False,
        cli="switch",
        group="run",
    ),
    Option(
        "var_quantization",
        None,
        "gene values as 8- or 16-bit codes, or none for float32",
        check=_bits,
        parse=_parse_bits,
        front_door_default=8,
        metavar="BITS",
    ),
    Option(
        "obs_continuous_quantization",
        None,
        "continuous obs values as 8- or 16-bit codes, or none for float32",
        check=_bits,
        parse=_parse_bits,
        metavar="BITS",
    ),
    Option(
        "obs_categorical_dtype",
        "auto",
        "dtype of category codes: auto (uint8 up to 254 categories), uint8 or uint16",
        check=_codes,
        choices=("auto", "uint8", "uint16"),
    ),
    Option(
        "compression",
        None,
        "gzip level 1-9 of every binary; 0 or none writes them uncompressed",
        check=_level,
        parse=_parse_level,
        front_door_default=6,
        metavar="LEVEL",
    ),
    _metadata("dataset_name", "dataset name (default: the output folder's name)"),
    _metadata("dataset_description", "dataset description"),
    _metadata("dataset_id", "dataset id (default: the name in file-name form)"),
    _metadata("source_name", "name of the data's source"),
    _metadata("source_url", "URL of the data's source"),
    _metadata("source_citation", "citation of the data's source"),
    Option(
        "layout",
        DEFAULT_LAYOUT,
        "file layout: key (cellucid 0.0.9, files named by key) or index (cellucid 0.9.1)",
        check=_layout,
        choices=("key", "index"),
    ),
    Option(
        "chunk_size",
        None,
        "cells per chunk for reductions and per-cell work (default 65536); the bytes "
        "written do not depend on it",
        check=_optional_positive,
        parse=_parse_int,
        shapes_bytes=False,
        metavar="CELLS",
        group="run",
    ),
    Option(
        "progress",
        None,
        "progress bars (default: only on a terminal or in a notebook)",
        check=_optional_bool,
        shapes_bytes=False,
        cli="no-switch",
        group="run",
    ),
    Option(
        "quiet",
        False,
        "print nothing but errors",
        check=_bool,
        shapes_bytes=False,
        cli="switch",
        group="run",
        short="-q",
    ),
    Option(
        "scheduler",
        None,
        "dask scheduler: threads, sync or processes (default: the active dask.distributed "
        "Client, else threads)",
        check=_scheduler,
        shapes_bytes=False,
        choices=("threads", "sync", "processes"),
        group="run",
    ),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python number or bool it holds; anything else as it is.

    Options arrive as ``np.int64(8)`` from arrays and configs; the record and the
    identity are JSON, which takes only Python's own numbers.
    """
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def plain_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every option's numpy scalar made a Python one (:func:`plain_value`)."""
    return {name: plain_value(v) if name in BY_NAME else v for name, v in values.items()}


def check_values(values: Mapping[str, Any] | object) -> None:
    """Check every option present in ``values``.

    ``values`` is a mapping of option names to values, or a dataclass with one field per
    option (a :class:`~cellucid.sinks.folder.request.FolderRequest`), checked in its field
    order (prepare()'s), so the first option named is the first wrong one of the call.

    Raises
    ------
    ValueError
        Naming the first option whose value is not allowed and what is allowed.
    """
    if not isinstance(values, Mapping):
        values = {f.name: getattr(values, f.name) for f in fields(values) if f.name in BY_NAME}
    for name, value in values.items():
        option = BY_NAME.get(name)
        if option is None:
            continue
        problem = option.check(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}.")
    check_distinct_names(values)


#: names the export always uses at the top of its folder (see plan/, engine/)
FIXED_NAMES = (
    "vectors",
    IDENTITY_NAME,
    ".cellucid-export.json",
    ".cellucid-export.lock",
    ".cellucid-spill",
)
NAME_OPTIONS = tuple(o.name for o in OPTIONS if o.group == "names")


def _is_fixed(name: str) -> bool:
    return name in FIXED_NAMES or name.startswith("points_")


def check_distinct_names(values: Mapping[str, Any]) -> None:
    """The folder and manifest names are distinct from each other and from fixed names.

    Raises
    ------
    ValueError
        Naming the two options (or the option and the fixed name) that clash.
    """
    seen: dict[str, str] = {}
    for name in NAME_OPTIONS:
        value = values.get(name)
        if not isinstance(value, str):
            continue
        if _is_fixed(value):
            raise ValueError(
                f"{name}={value!r} is a name the export uses itself (points_*, "
                f"{', '.join(FIXED_NAMES)}); choose another name."
            )
        other = seen.setdefault(value, name)
        if other != name:
            raise ValueError(
                f"{other} and {name} are both {value!r}: the export would put two kinds of "
                "files in one place. Give each a different name."
            )


def front_door_values(given: dict[str, Any]) -> dict[str, Any]:
    """Every option with our front doors' defaults, overridden by ``given``."""
    return {o.name: given.get(o.name, o.our_default) for o in OPTIONS} | given


def add_arguments(parser: argparse.ArgumentParser, groups: dict[str, Any] | None = None) -> None:
    """Add one CLI flag per option, with the front-door defaults.

    Flags go into the argument groups named in the table (``groups`` may hold some that
    the command created already).
    """
    groups = dict(groups or {})
    for option in OPTIONS:
        group = groups.get(option.group) or parser.add_argument_group(option.group)
        groups[option.group] = group
        flags = [option.flag, *([option.short] if option.short else [])]
        if option.cli == "switch":
            group.add_argument(*flags, dest=option.name, action="store_true", help=option.help)
            continue
        if option.cli == "no-switch":
            group.add_argument(
                option.flag,
                dest=option.name,
                action="store_const",
                const=False,
                default=None,
                help=f"no {option.help}",
            )
            continue
        group.add_argument(
            option.flag,
            dest=option.name,
            type=_argparse_type(option.parse),
            default=option.our_default,
            choices=option.choices,
            metavar=option.metavar,
            help=option.help
            if "default" in option.help
            else f"{option.help} (default: {_render(option.our_default)})",
        )


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = getattr(parse, "__name__", "value").lstrip("_")
    return convert


def _render(value: Any) -> str:
    return "none" if value is None else str(value)


def markdown_table() -> str:
    """The options table of docs/options.md."""
    lines = [
        "| option | CLI flag | `prepare()` default | front-door default | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in OPTIONS:
        lines.append(
            f"| `{o.name}` | `{o.flag}` | `{o.default!r}` | `{o.our_default!r}` | {o.help} |"
        )
    return "\n".join(lines) + "\n"
