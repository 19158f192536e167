"""The contract of a Cellucid-ready AnnData, one function per part.

:data:`RULES` runs them in order: the root, ``obs`` (which sets ``n_cells``), ``var``
(``n_genes``), ``X``, ``obsm``, ``obsp``, the empty ``varm``/``varp``/``layers``, ``uns``,
then every array's layout and what belongs to the container. Each rule records violations
on the :class:`~.context.Context`; one that cannot finish on a malformed store becomes one
violation of its element, and the others still run.
"""

from __future__ import annotations

import numpy as np

from . import context as _context
from .container import check_consolidated, check_hdf5_file
from .context import Context, amount, number, ordinal_list
from .frames import check_dataframe
from .graph import check_graph
from .layout import check_array_layout
from .matrix import check_x
from .names import check_names
from .read import Node
from .record import check_uns

#: The elements every store holds (``X`` is there when genes are).
REQUIRED_ELEMENTS = ("obs", "var", "obsm", "obsp", "uns", "varm", "varp", "layers")
#: ``dict`` groups that are present and empty.
EMPTY_ELEMENTS = ("varm", "varp", "layers")


def check_root(ctx: Context) -> None:
    """The root group: ``anndata`` 0.1.0, the required elements, nothing else."""
    root = ctx.node("")
    if root is None or not root.group:
        ctx.add("", "is not a group", "an AnnData root group")
        return
    ctx.encoding(root, "anndata", "0.1.0")
    for name in REQUIRED_ELEMENTS:
        if name not in root.children:
            ctx.add(
                name,
                "missing",
                "every AnnData element: obs, var, obsm, obsp, uns, varm, varp, layers (and X)",
            )
    extra = [name for name in root.children if name not in (*REQUIRED_ELEMENTS, "X")]
    if extra:
        ctx.add(
            "",
            f"holds {ordinal_list(extra)}",
            "no element beyond X, obs, var, obsm, obsp, uns, varm, varp and layers (no raw)",
        )


def check_obs(ctx: Context) -> None:
    """``obs``: the cells; its index sets ``n_cells``."""
    ctx.n_cells, ctx.obs_kinds = check_dataframe(ctx, "obs", None)
    ctx.obs_columns = tuple(ctx.obs_kinds)


def check_var(ctx: Context) -> None:
    """``var``: the genes; its index sets ``n_genes``."""
    ctx.n_genes, kinds = check_dataframe(ctx, "var", None)
    ctx.var_columns = tuple(kinds)


def check_expression(ctx: Context) -> None:
    """``X``: gene-major CSC (or dense), oriented cells x genes, streamed."""
    check_x(ctx)


def check_embeddings(ctx: Context) -> None:
    """``obsm``: float32 2-D arrays of ``n_cells`` rows, finite, portable unique keys."""
    group = ctx.group("obsm", "a dict group")
    if group is None:
        return
    ctx.encoding(group, "dict", "0.1.0")
    check_names(ctx, "obsm", group.children, "obsm key")
    for key in group.children:
        node = ctx.array(f"obsm/{key}", "a float32 array")
        if node is None:
            continue
        ctx.encoding(node, "array", "0.2.0")
        if node.shape is None or len(node.shape) != 2 or node.shape[1] < 1:
            ctx.add(node.path, f"shape {node.shape}", "(n_cells, n_columns), at least 1 column")
            continue
        ctx.obsm_widths[key] = node.shape[1]
        if ctx.n_cells is not None and node.shape[0] != ctx.n_cells:
            ctx.add(node.path, f"{node.shape[0]:,} rows", f"{ctx.n_cells:,}, one per cell")
        if node.dtype != np.dtype(np.float32):
            ctx.add(node.path, f"dtype {node.dtype}", "float32")
            continue
        _check_finite_rows(ctx, node)


def _check_finite_rows(ctx: Context, node: Node) -> None:
    rows, columns = node.shape
    step = max(1, _context.BLOCK_ENTRIES // columns)
    if node.chunks and node.chunks[0] > 0:
        step = max(node.chunks[0], step // node.chunks[0] * node.chunks[0])
    count, first = 0, None
    for start in range(0, rows, step):
        block = ctx.store.read(node.path, slice(start, min(rows, start + step)))
        bad = ~np.isfinite(block)
        if bad.any():
            count += int(bad.sum())
            if first is None:
                row, column = np.argwhere(bad)[0]
                first = (start + int(row), int(column), block[row, column])
    if count:
        row, column, value = first
        ctx.add(
            node.path,
            f"{amount(count, 'non-finite value')} (first at row {row:,}, "
            f"column {column}: {number(value)})",
            "finite coordinates",
        )


def check_graph_element(ctx: Context) -> None:
    """``obsp``: at most ``connectivities``, a symmetric CSR graph over the cells."""
    group = ctx.group("obsp", "a dict group")
    if group is None:
        return
    ctx.encoding(group, "dict", "0.1.0")
    check_names(ctx, "obsp", group.children, "obsp key")
    extra = [key for key in group.children if key != "connectivities"]
    if extra:
        ctx.add("obsp", f"holds {ordinal_list(extra)}", "only connectivities")
    if "connectivities" in group.children and ctx.n_cells is not None:
        check_graph(ctx, "obsp/connectivities", ctx.n_cells)


def check_empty_elements(ctx: Context) -> None:
    """``varm``, ``varp`` and ``layers``: empty ``dict`` groups."""
    for key in EMPTY_ELEMENTS:
        group = ctx.node(key)
        if group is None:
            continue  # reported by the root rule
        if not group.group:
            ctx.add(key, "is an array", "an empty dict group")
            continue
        ctx.encoding(group, "dict", "0.1.0")
        if group.children:
            ctx.add(key, f"holds {ordinal_list(list(group.children))}", "an empty dict group")


def check_record(ctx: Context) -> None:
    """``uns``: the title and the Cellucid record."""
    check_uns(ctx)


def check_layouts(ctx: Context) -> None:
    """Every array's chunks, codecs, strings, byte order and fill value."""
    for path in sorted(ctx.store.nodes):
        node = ctx.store.nodes[path]
        if not node.group:
            ctx.guarded(path, check_array_layout, node)


def check_container(ctx: Context) -> None:
    """Consolidated metadata (Zarr) or the HDF5 file format (``.h5ad``)."""
    if ctx.store.container == "h5ad":
        check_hdf5_file(ctx)
    else:
        check_consolidated(ctx)


#: Every rule, in the order they run, with the element a failure of it is reported on.
RULES = (
    ("root", check_root),
    ("obs", check_obs),
    ("var", check_var),
    ("X", check_expression),
    ("obsm", check_embeddings),
    ("obsp", check_graph_element),
    ("varm", check_empty_elements),
    ("uns", check_record),
    ("arrays", check_layouts),
    ("container", check_container),
)


def run_rules(ctx: Context) -> None:
    """Run every rule of :data:`RULES` on the store."""
    for element, rule in RULES:
        ctx.guarded(element, rule)
