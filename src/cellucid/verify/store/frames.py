"""``obs`` and ``var``: AnnData dataframes and their columns.

A dataframe group (``dataframe`` 0.2.0) names its index ``_index`` and lists its columns in
``column-order``, one member per column. The index holds unique, non-empty names (vlen UTF-8).
A column is one of:

- ``categorical`` 0.2.0: ``codes`` (the smallest signed integer type for the category count,
  -1 for missing) and unique ``categories`` (text or numbers);
- ``nullable-integer`` / ``nullable-boolean`` 0.1.0: ``values`` and a boolean ``mask``, only
  when a value is missing (otherwise a plain array);
- ``string-array`` 0.2.0: text whose values are all distinct (a repeated value makes it a
  categorical);
- ``array`` 0.2.0: booleans, integers or floats (NaN allowed, no infinity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .context import Context, amount, number, ordinal_list
from .names import check_names
from .read import Node

#: What the kinds of column are called in :attr:`Context.obs_kinds`.
CATEGORY_LIKE = ("categorical", "string-array", "array:b", "nullable-boolean")


def check_dataframe(ctx: Context, key: str, rows: int | None) -> tuple[int | None, dict[str, str]]:
    """Check ``obs`` or ``var``; the number of rows its index holds and each column's kind.

    ``rows`` is the length the index must have when already known (None: it sets it).
    """
    group = ctx.group(key, "a dataframe group")
    if group is None:
        return None, {}
    ctx.encoding(group, "dataframe", "0.2.0")
    if group.attrs.get("_index") != "_index":
        ctx.add(key, f"_index attribute {group.attrs.get('_index')!r}", "'_index'")
    columns = _column_order(ctx, group)
    length = _check_index(ctx, f"{key}/_index", rows)
    check_names(ctx, key, [name for name in columns if name != "_index"], f"{key} column")
    kinds = {}
    for name in columns:
        if name in group.children and name != "_index":
            kinds[name] = check_column(ctx, f"{key}/{name}", length)
    return length, kinds


def _column_order(ctx: Context, group: Node) -> list[str]:
    order = group.attrs.get("column-order")
    if not isinstance(order, list) or not all(isinstance(item, str) for item in order):
        ctx.add(group.path, f"column-order {order!r}", "a list of column names")
        return [name for name in group.children if name != "_index"]
    if len(set(order)) != len(order):
        ctx.add(group.path, "column-order lists a column twice", "each column once")
    if "_index" in order:
        ctx.add(group.path, "column-order lists '_index'", "'_index' reserved for the index")
    members = set(group.children) - {"_index"}
    missing = [name for name in order if name not in members and name != "_index"]
    extra = sorted(members - set(order))
    if missing:
        ctx.add(
            group.path,
            f"column-order lists {ordinal_list(missing)}, which it does not hold",
            "column-order naming exactly the column members",
        )
    if extra:
        ctx.add(
            group.path,
            f"holds {ordinal_list(extra)}, which column-order does not list",
            "column-order naming exactly the column members",
        )
    return list(dict.fromkeys(order))


def _check_index(ctx: Context, path: str, rows: int | None) -> int | None:
    node = ctx.array(path, "a string-array of row names")
    if node is None:
        return None
    if not _vector(ctx, node, rows, "string-array"):
        return node.shape[0] if node.shape is not None and len(node.shape) == 1 else None
    names = ctx.store.read(path)
    empty = np.flatnonzero(names == "")
    if empty.size:
        ctx.add(
            path,
            f"{empty.size:,} empty row names (first at row {empty[0]:,})",
            "non-empty row names",
        )
    repeated = repeated_values(names)
    if repeated:
        ctx.add(
            path,
            f"{amount(len(repeated), 'name')} repeated ({ordinal_list(repeated)})",
            "unique row names",
        )
    return int(node.shape[0])


def repeated_values(values: np.ndarray) -> list[str]:
    """The distinct values that occur more than once (hashed: fast on millions of names)."""
    series = pd.Series(values, dtype=object)
    return [str(value) for value in series[series.duplicated()].unique()]


def _vector(ctx: Context, node: Node, rows: int | None, encoding: str) -> bool:
    """An encoded 1-D array of ``rows`` elements (strings for ``string-array``)."""
    ok = ctx.encoding(node, encoding, "0.2.0")
    if node.shape is None or len(node.shape) != 1:
        ctx.add(node.path, f"shape {node.shape}", "a 1-D array")
        return False
    if rows is not None and node.shape[0] != rows:
        ctx.add(node.path, f"length {node.shape[0]:,}", f"{rows:,}, one per row")
    if encoding == "string-array" and not node.strings:
        ctx.add(node.path, f"dtype {node.dtype} in a string-array", "variable-length UTF-8 text")
        return False
    return ok


def check_column(ctx: Context, path: str, rows: int | None) -> str:
    """Check one column; its kind (``categorical``, ``string-array``, ``array:<kind>``, ...)."""
    node = ctx.node(path)
    kind = str(node.attrs.get("encoding-type"))
    if node.group:
        if kind == "categorical":
            _categorical(ctx, node, rows)
        elif kind in ("nullable-integer", "nullable-boolean"):
            _nullable(ctx, node, rows, kind)
        else:
            ctx.add(
                path,
                f"a group column with encoding {kind!r}",
                "categorical, nullable-integer or nullable-boolean",
            )
        return kind
    if kind == "string-array":
        if _vector(ctx, node, rows, "string-array"):
            values = ctx.store.read(path)
            if repeated_values(values):
                ctx.add(
                    path,
                    "a text column whose values repeat",
                    "a categorical when any value repeats or is missing",
                )
        return kind
    if not _vector(ctx, node, rows, "array"):
        return kind
    dtype = node.dtype
    if dtype is None or dtype.kind not in "biuf":
        ctx.add(path, f"dtype {dtype}", "booleans, integers or floats")
        return kind
    if dtype.kind == "f":
        infinite = np.flatnonzero(np.isinf(ctx.store.read(path)))
        if infinite.size:
            ctx.add(
                path,
                f"{amount(infinite.size, 'infinite value')} (first at row {infinite[0]:,})",
                "finite values or NaN",
            )
    return f"array:{dtype.kind}"


def smallest_code_dtype(n_categories: int) -> np.dtype:
    """pandas' code type for ``n_categories`` categories (int8 below 127, ...)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _categorical(ctx: Context, group: Node, rows: int | None) -> None:
    ctx.encoding(group, "categorical", "0.2.0")
    if not isinstance(group.attrs.get("ordered"), bool):
        ctx.add(group.path, f"ordered attribute {group.attrs.get('ordered')!r}", "True or False")
    if set(group.children) != {"codes", "categories"}:
        ctx.add(group.path, f"members {list(group.children)}", "exactly codes and categories")
    categories = ctx.array(f"{group.path}/categories", "the categories")
    codes = ctx.array(f"{group.path}/codes", "the category codes")
    if categories is None or codes is None:
        return
    if categories.strings:
        if not _vector(ctx, categories, None, "string-array"):
            return
    elif not _vector(ctx, categories, None, "array"):
        return
    elif categories.dtype is None or categories.dtype.kind not in "biuf":
        ctx.add(categories.path, f"dtype {categories.dtype}", "text or numeric categories")
    labels = ctx.store.read(categories.path)
    if repeated_values(labels):
        ctx.add(categories.path, "repeated categories", "unique categories")
    if not _vector(ctx, codes, rows, "array"):
        return
    wanted = smallest_code_dtype(labels.size)
    if codes.dtype != wanted:
        ctx.add(
            codes.path,
            f"dtype {codes.dtype} for {labels.size:,} categories",
            f"{wanted}, the smallest signed integer type",
        )
    if codes.dtype is not None and codes.dtype.kind in "iu":
        values = ctx.store.read(codes.path)
        bad = np.flatnonzero((values < -1) | (values >= labels.size))
        if bad.size:
            ctx.add(
                codes.path,
                f"{amount(bad.size, 'code')} outside [-1, {labels.size}) "
                f"(first at row {bad[0]:,}: {number(values[bad[0]])})",
                "a category's position, or -1 for a missing value",
            )


def _nullable(ctx: Context, group: Node, rows: int | None, kind: str) -> None:
    ctx.encoding(group, kind, "0.1.0")
    if set(group.children) != {"values", "mask"}:
        ctx.add(group.path, f"members {list(group.children)}", "exactly values and mask")
    values = ctx.array(f"{group.path}/values", "the values")
    mask = ctx.array(f"{group.path}/mask", "the missing-value mask")
    if values is None or mask is None:
        return
    want = "b" if kind == "nullable-boolean" else "iu"
    if _vector(ctx, values, rows, "array") and (
        values.dtype is None or values.dtype.kind not in want
    ):
        ctx.add(values.path, f"dtype {values.dtype}", "booleans" if want == "b" else "integers")
    if not _vector(ctx, mask, rows, "array"):
        return
    if mask.dtype != np.dtype(bool):
        ctx.add(mask.path, f"dtype {mask.dtype}", "bool")
    elif not ctx.store.read(mask.path).any():
        plain = "boolean" if kind == "nullable-boolean" else "integer"
        ctx.add(group.path, f"{kind} with no missing value", f"a plain {plain} array")
