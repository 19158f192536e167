"""``uns``: the dataset's title and the Cellucid record ``uns['cellucid']`` (schema 1).

The record holds ``schema`` (1), ``id`` (1-180 ASCII letters, digits, ``.``, ``_``, ``-``,
starting with a letter or digit, not ending with ``.``, no Windows device name), ``name``
(text drawn verbatim; also ``uns['title']``), and optionally ``description``, ``citation``
``{text, url?}``, ``source`` ``{name, url?}`` (urls absolute http(s)), ``defaults`` (launch
defaults, only the known keys) and ``outlierQuantiles`` ``{latentKey, minPoints, fields}``,
present exactly when ``defaults`` names a latent key.

A dict group's members carry no order in any container (Zarr lists them sorted, HDF5 by
name), so the order of ``defaults``' keys cannot be checked from the store; their set is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .context import Context, amount, number, ordinal_list
from .defaults import check_defaults
from .frames import CATEGORY_LIKE
from .outliers import check_quantile_values
from .read import join

_RECORD_KEYS = (
    "schema",
    "id",
    "name",
    "description",
    "citation",
    "source",
    "defaults",
    "outlierQuantiles",
)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,179}", flags=re.ASCII)
_DEVICE_NAMES = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(1, 10)),
        *(f"LPT{i}" for i in range(1, 10)),
    }
)
# Characters whose stored form and drawn form differ: controls, unpaired surrogates,
# zero-width characters, and whitespace at either edge.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
_SPACES = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_EDGE_SPACE = re.compile(f"^[{_SPACES}]|[{_SPACES}]$")

#: Minimum category size for outlier quantiles when ``defaults`` does not say.
DEFAULT_MIN_POINTS = 10


def read_element(ctx: Context, path: str) -> Any:
    """An ``uns`` element as Python: dict, str, bool/int/float, list of str or ndarray.

    Checks each element's encoding on the way (``dict``, ``string``, ``numeric-scalar``,
    ``string-array``, ``array``).
    """
    node = ctx.node(path)
    if node.group:
        ctx.encoding(node, "dict", "0.1.0")
        return {name: read_element(ctx, join(path, name)) for name in node.children}
    if node.shape == ():
        ctx.encoding(node, "string" if node.strings else "numeric-scalar", "0.2.0")
        value = ctx.store.read(path).item()
        return str(value) if node.strings else value
    ctx.encoding(node, "string-array" if node.strings else "array", "0.2.0")
    values = ctx.store.read(path)
    return [str(value) for value in values.tolist()] if node.strings else values


def check_uns(ctx: Context) -> None:
    """``uns`` holds ``title`` and ``cellucid``, and the record follows schema 1."""
    uns = ctx.group("uns", "a dict group")
    if uns is None:
        return
    ctx.encoding(uns, "dict", "0.1.0")
    extra = [name for name in uns.children if name not in ("title", "cellucid")]
    if extra:
        ctx.add("uns", f"holds {ordinal_list(extra)}", "only title and cellucid")
    title = None
    if ctx.array("uns/title", "the dataset name as a string") is not None:
        title = read_element(ctx, "uns/title")
        if not isinstance(title, str):
            ctx.add("uns/title", f"value {title!r}", "a string")
    if ctx.group("uns/cellucid", "the Cellucid record (a dict group)") is None:
        return
    record = read_element(ctx, "uns/cellucid")
    check_record(ctx, record)
    if isinstance(title, str) and isinstance(record.get("name"), str) and title != record["name"]:
        ctx.add(
            "uns/title",
            f"{title!r} differs from uns/cellucid/name {record['name']!r}",
            "the dataset name",
        )


def check_record(ctx: Context, record: dict[str, Any]) -> None:
    """Every key of ``uns['cellucid']``."""
    base = "uns/cellucid"
    unknown = [key for key in record if key not in _RECORD_KEYS]
    if unknown:
        ctx.add(base, f"unknown keys {ordinal_list(unknown)}", f"only {', '.join(_RECORD_KEYS)}")
    for key in ("schema", "id", "name"):
        if key not in record:
            ctx.add(f"{base}/{key}", "missing", "schema, id and name in every record")
    schema = record.get("schema")
    if "schema" in record and (type(schema) is not int or schema != 1):
        ctx.add(f"{base}/schema", f"{schema!r}", "the integer 1")
    if "id" in record:
        _check_id(ctx, f"{base}/id", record["id"])
    if "name" in record:
        check_text(ctx, f"{base}/name", record["name"], allow_empty=False)
    if "description" in record:
        check_text(ctx, f"{base}/description", record["description"], allow_empty=True)
    for key, label in (("citation", "text"), ("source", "name")):
        if key in record:
            _check_linked(ctx, f"{base}/{key}", record[key], label)
    defaults = record.get("defaults")
    if defaults is not None:
        if isinstance(defaults, dict):
            check_defaults(ctx, f"{base}/defaults", defaults)
        else:
            ctx.add(f"{base}/defaults", "is not a dict group", "a dict of launch defaults")
    _check_outliers(
        ctx, record.get("outlierQuantiles"), defaults if isinstance(defaults, dict) else {}
    )


def _check_id(ctx: Context, path: str, value: Any) -> None:
    valid = (
        isinstance(value, str)
        and _ID.fullmatch(value) is not None
        and not value.endswith(".")
        and value.split(".", 1)[0].upper() not in _DEVICE_NAMES
    )
    if not valid:
        ctx.add(
            path,
            f"{value!r}",
            "1-180 ASCII letters, digits, '.', '_' or '-', starting "
            "with a letter or digit, not ending with '.', not a Windows device name",
        )


def text_defect(text: str) -> str | None:
    """Why ``text`` would not be drawn exactly as stored, or None."""
    for pattern in (_CONTROL, _SURROGATE, _INVISIBLE):
        found = pattern.search(text)
        if found is not None:
            return f"contains U+{ord(found.group()):04X}"
    edge = _EDGE_SPACE.search(text)
    if edge is not None:
        return f"{'starts' if edge.start() == 0 else 'ends'} with whitespace"
    return None


def check_text(ctx: Context, path: str, value: Any, *, allow_empty: bool) -> None:
    """A string drawn verbatim: no control, surrogate or zero-width character, no edge space."""
    if not isinstance(value, str):
        ctx.add(path, f"{value!r} is not a string", "a string")
        return
    if not value and not allow_empty:
        ctx.add(path, "is empty", "non-empty text")
        return
    defect = text_defect(value)
    if defect is not None:
        ctx.add(path, f"{value!r} {defect}", "text drawn exactly as stored")


def _check_linked(ctx: Context, path: str, value: Any, label: str) -> None:
    if not isinstance(value, dict):
        ctx.add(path, "is not a dict group", f"{{{label}, url?}}")
        return
    extra = [key for key in value if key not in (label, "url")]
    if extra:
        ctx.add(path, f"unknown keys {ordinal_list(extra)}", f"only {label} and url")
    if label not in value:
        ctx.add(join(path, label), "missing", f"{label}, required with the url")
    else:
        check_text(ctx, join(path, label), value[label], allow_empty=False)
    if "url" in value:
        url = value["url"]
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            ctx.add(join(path, "url"), f"{url!r}", "an absolute http(s) address")


def _check_outliers(ctx: Context, value: Any, defaults: dict[str, Any]) -> None:
    path = "uns/cellucid/outlierQuantiles"
    latent = defaults.get("latentKey")
    if value is None:
        if latent is not None:
            ctx.add(
                path,
                "missing while defaults name a latentKey",
                "the outlier quantiles of the latent space",
            )
        return
    if not isinstance(value, dict):
        ctx.add(path, "is not a dict group", "{latentKey, minPoints, fields}")
        return
    if set(value) != {"latentKey", "minPoints", "fields"}:
        ctx.add(path, f"keys {sorted(value)}", "exactly latentKey, minPoints and fields")
    key = value.get("latentKey")
    if latent is None:
        ctx.add(
            path,
            "present while defaults name no latentKey",
            "outlier quantiles only with uns/cellucid/defaults/latentKey",
        )
    elif key != latent:
        ctx.add(f"{path}/latentKey", f"{key!r}", f"{latent!r}, the defaults' latentKey")
    if key is not None and key not in ctx.obsm_widths:
        ctx.add(f"{path}/latentKey", f"{key!r} is not an obsm key", "an obsm key")
    points = value.get("minPoints")
    wanted = defaults.get("centroidMinPoints", DEFAULT_MIN_POINTS)
    if type(points) is not int or points != wanted:
        ctx.add(
            f"{path}/minPoints",
            f"{points!r}",
            f"{wanted!r}: the defaults' centroidMinPoints, else {DEFAULT_MIN_POINTS}",
        )
    fields = value.get("fields")
    if not isinstance(fields, dict):
        ctx.add(f"{path}/fields", "is not a dict group", "{obs column: float32[n_cells]}")
        return
    for column, quantiles in fields.items():
        _check_quantiles(ctx, f"{path}/fields/{column}", column, quantiles)
    check_quantile_values(ctx, fields, key, points)


def _check_quantiles(ctx: Context, path: str, column: str, quantiles: Any) -> None:
    if column not in ctx.obs_kinds:
        ctx.add(path, f"{column!r} is not an obs column", "a categorical obs column")
    elif ctx.obs_kinds[column] not in CATEGORY_LIKE:
        ctx.add(
            path,
            f"obs column {column!r} is {ctx.obs_kinds[column]}",
            "a categorical, text, boolean or nullable-boolean obs column",
        )
    if not isinstance(quantiles, np.ndarray) or quantiles.dtype != np.float32:
        shown = quantiles.dtype if isinstance(quantiles, np.ndarray) else type(quantiles).__name__
        ctx.add(path, f"holds {shown}", "float32 quantiles")
        return
    if ctx.n_cells is not None and quantiles.shape != (ctx.n_cells,):
        ctx.add(path, f"shape {quantiles.shape}", f"({ctx.n_cells:,},), one per cell")
        return
    bad = np.flatnonzero(~(np.isnan(quantiles) | ((quantiles > 0) & (quantiles <= 1))))
    if bad.size:
        ctx.add(
            path,
            f"{amount(bad.size, 'value')} outside (0, 1] (first at cell {bad[0]:,}: "
            f"{number(quantiles[bad[0]])})",
            "quantiles in (0, 1], NaN where none",
        )
