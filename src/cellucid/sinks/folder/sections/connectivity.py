"""Section ``connectivity``: the edge files of the symmetrised KNN graph."""

from __future__ import annotations

import shutil

from cellucid.progress import dask_bar
from cellucid.report import count
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.edges import summarize_edge_files, write_edges


def write_connectivity(ctx: RunContext) -> None:
    edges = ctx.plan.edges
    if edges is None:
        ctx.say("INFO: No connectivity data provided, skipping connectivity export.")
        return
    relatives = (edges.sources, edges.destinations, edges.weights)
    src, dst, weights = (ctx.out / r for r in relatives)
    kept = ctx.keep_all(relatives, "connectivity")
    # a folder of its own: the gene files may be written at the same time
    spill = ctx.spill / "edges"
    try:
        with dask_bar("connectivity: edges", ctx.progress):
            summary = (
                summarize_edge_files(src, dst, edges.index_dtype, ctx.inputs.n_cells)
                if kept
                else write_edges(
                    ctx.inputs.connectivities,
                    (src, dst, weights),
                    edges.index_dtype,
                    ctx.compression,
                    spill,
                )
            )
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    if not kept:  # kept files are said once, at the end of the run
        ctx.say(
            f"✓ Wrote connectivity ({count(summary.n_edges, 'edge')}, max "
            f"{count(summary.max_neighbors, 'neighbor')}/cell, {edges.index_dtype}) "
            f"to {ctx.out / edges.dirname}"
        )
    ctx.results.edges = summary
