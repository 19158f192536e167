"""``uns['cellucid']['defaults']``: the launch defaults, each checked against the store.

Known keys only (``embedding1d``/``2d``/``3d``, ``modality``, ``geneIdColumn``,
``latentKey``, ``vectorFieldDefault``, ``obsKeys``, ``normalizeEmbeddings``,
``centroidMinPoints``). ``modality`` belongs to a MuData: an AnnData store has one feature
space, so it is refused there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cellucid.sinks.anndata.defaults import DEFAULTS_ORDER

from .context import Context, ordinal_list
from .read import join


def check_defaults(ctx: Context, path: str, defaults: dict[str, Any]) -> None:
    """Every launch default's form, and the element it names."""
    unknown = [key for key in defaults if key not in DEFAULTS_ORDER]
    if unknown:
        ctx.add(path, f"unknown keys {ordinal_list(unknown)}", f"only {', '.join(DEFAULTS_ORDER)}")
    for dimension in (1, 2, 3):
        key = f"embedding{dimension}d"
        if key in defaults:
            _embedding(ctx, join(path, key), defaults[key], dimension)
    if "modality" in defaults:
        ctx.add(
            join(path, "modality"),
            "present in an AnnData store",
            "no modality: an AnnData has one feature space",
        )
    _named(
        ctx,
        join(path, "geneIdColumn"),
        defaults.get("geneIdColumn"),
        ctx.var_columns,
        "a var column",
    )
    _named(
        ctx,
        join(path, "latentKey"),
        defaults.get("latentKey"),
        tuple(ctx.obsm_widths),
        "an obsm key",
    )
    if "vectorFieldDefault" in defaults:
        _vector_field(ctx, join(path, "vectorFieldDefault"), defaults["vectorFieldDefault"])
    if "obsKeys" in defaults:
        _obs_keys(ctx, join(path, "obsKeys"), defaults["obsKeys"])
    if "normalizeEmbeddings" in defaults and type(defaults["normalizeEmbeddings"]) is not bool:
        ctx.add(
            join(path, "normalizeEmbeddings"),
            f"{defaults['normalizeEmbeddings']!r}",
            "True or False",
        )
    points = defaults.get("centroidMinPoints")
    if "centroidMinPoints" in defaults and (type(points) is not int or points < 1):
        ctx.add(join(path, "centroidMinPoints"), f"{points!r}", "a positive integer")


def _named(ctx: Context, path: str, value: Any, names: tuple[str, ...], what: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or value not in names:
        ctx.add(path, f"{value!r} is not {what}", f"{what} of this store")


def _embedding(ctx: Context, path: str, value: Any, dimension: int) -> None:
    """An obsm key, or ``{key, columns}`` with ``dimension`` distinct columns in range."""
    if isinstance(value, str):
        key, columns = value, None
    elif isinstance(value, dict) and set(value) == {"key", "columns"}:
        key, columns = value["key"], value["columns"]
    else:
        ctx.add(path, f"{value!r}", "an obsm key, or {key, columns}")
        return
    width = ctx.obsm_widths.get(key) if isinstance(key, str) else None
    if width is None:
        ctx.add(path, f"names {key!r}, which is not an obsm key", "an obsm key of this store")
        return
    if width < dimension:
        ctx.add(path, f"obsm {key!r} has {width} columns", f"at least {dimension}")
    if columns is None:
        return
    listed = np.asarray(columns).tolist() if isinstance(columns, np.ndarray) else columns
    valid = (
        isinstance(listed, list)
        and len(listed) == dimension
        and all(type(item) is int and 0 <= item < width for item in listed)
        and len(set(listed)) == dimension
    )
    if not valid:
        ctx.add(
            join(path, "columns"),
            f"{listed!r}",
            f"{dimension} distinct column numbers in [0, {width})",
        )


def _vector_field(ctx: Context, path: str, field: Any) -> None:
    """A field ``<field>_<basis>`` of obsm as wide as the embedding ``X_<basis>``."""
    widths = ctx.obsm_widths
    declared = isinstance(field, str) and any(
        key.startswith(f"{field}_")
        and not key.startswith("X_")
        and widths.get(f"X_{key[len(field) + 1 :]}") == width
        for key, width in widths.items()
    )
    if not declared:
        ctx.add(
            path,
            f"{field!r} is not a vector field of this store",
            "a field with obsm '<field>_<basis>' as wide as 'X_<basis>'",
        )


def _obs_keys(ctx: Context, path: str, value: Any) -> None:
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        ctx.add(path, f"{value!r}", "a non-empty list of obs column names")
        return
    if len(set(value)) != len(value):
        ctx.add(path, "names a column twice", "each column once")
    missing = [name for name in value if name not in ctx.obs_columns]
    if missing:
        ctx.add(path, f"names {ordinal_list(missing)}, not obs columns", "obs column names")
