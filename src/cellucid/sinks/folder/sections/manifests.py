"""Section ``manifests``: obs, var and connectivity manifests, once every binary exists."""

from __future__ import annotations

from cellucid.engine.files import write_text
from cellucid.report import count
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format import manifests


def write_manifests(ctx: RunContext) -> None:
    _obs_manifest(ctx)
    if ctx.plan.genes is not None:
        _var_manifest(ctx)
    if ctx.plan.edges is not None:
        _connectivity_manifest(ctx)


def _obs_manifest(ctx: RunContext) -> None:
    s, plan = ctx.plan.settings, ctx.plan
    obs = ctx.results.obs
    continuous, categorical = list(obs.continuous), list(obs.categorical)
    n_fields = len(continuous) + len(categorical)
    document = manifests.obs_manifest(
        n_points=ctx.inputs.n_cells,
        centroid_outlier_quantile=s.centroid_outlier_quantile,
        compression=s.compression,
        patterns=plan.obs_patterns,
        continuous_bits=s.obs_continuous_quantization,
        continuous_fields=continuous,
        categorical_fields=categorical,
    )
    write_text(ctx.out / plan.obs_manifest, manifests.to_json(document))
    ctx.say(
        f"✓ Wrote obs manifest ({count(n_fields, 'field')}: {len(continuous):,} continuous, "
        f"{len(categorical):,} categorical) to {ctx.out / plan.obs_manifest} with binaries in "
        f"{s.obs_binary_dirname}/"
    )


def _var_manifest(ctx: RunContext) -> None:
    s, genes = ctx.plan.settings, ctx.plan.genes
    fields = list(ctx.results.genes.entries)
    document = manifests.var_manifest(
        n_points=ctx.inputs.n_cells,
        var_gene_id_column=ctx.layout.var_gene_id_column(s.var_gene_id_column),
        compression=s.compression,
        bits=s.var_quantization,
        pattern=genes.pattern,
        fields=fields,
    )
    write_text(ctx.out / ctx.plan.var_manifest, manifests.to_json(document))
    quant = f", {s.var_quantization}-bit quantized" if s.var_quantization else ""
    ctx.say(
        f"✓ Wrote var manifest ({count(len(fields), 'gene')}{quant}) "
        f"to {ctx.out / ctx.plan.var_manifest}"
    )


def _connectivity_manifest(ctx: RunContext) -> None:
    edges, summary = ctx.plan.edges, ctx.results.edges
    document = manifests.connectivity_manifest(
        n_cells=ctx.inputs.n_cells,
        n_edges=summary.n_edges,
        max_neighbors=summary.max_neighbors,
        index_dtype=edges.index_dtype,
        sources_path=edges.sources,
        destinations_path=edges.destinations,
        weights_path=edges.weights,
        compression=ctx.compression,
    )
    write_text(ctx.out / ctx.plan.connectivity_manifest, manifests.to_json(document))
