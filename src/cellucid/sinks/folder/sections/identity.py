"""Section ``identity``: ``dataset_identity.json``, written last (its presence means done)."""

from __future__ import annotations

import os
import time
from typing import Any

from cellucid import __version__
from cellucid.engine.files import write_text
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format import manifests
from cellucid.sinks.folder.format.naming import safe_name


def created_at() -> str:
    """UTC creation time; ``SOURCE_DATE_EPOCH`` makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def write_identity(ctx: RunContext) -> None:
    s, plan, layout = ctx.plan.settings, ctx.plan, ctx.layout
    name = s.dataset_name or ctx.out.resolve().name
    obs_fields = _obs_fields(ctx)
    n_categorical = sum(1 for f in obs_fields if f["kind"] == "category")
    edges = ctx.results.edges
    n_exported = len(plan.genes.ids) if plan.genes is not None else 0
    vector_files = {v.field_id: dict(zip(v.dims, v.paths, strict=True)) for v in plan.vectors}
    identity = manifests.dataset_identity(
        dataset_id=s.dataset_id or safe_name(name),
        name=name,
        description=s.dataset_description or "",
        created_at=created_at(),
        version=__version__,
        stats={
            "n_cells": ctx.inputs.n_cells,
            "n_genes": layout.n_genes_stat(ctx.inputs.n_matrix_genes, n_exported),
            "n_obs_fields": len(obs_fields),
            "n_categorical_fields": n_categorical,
            "n_continuous_fields": len(obs_fields) - n_categorical,
            "has_connectivity": edges is not None,
            "n_edges": None if edges is None else edges.n_edges,
        },
        dimensions=list(plan.inputs.dims),
        compression=s.compression,
        obs_fields=obs_fields,
        export_settings={
            "compression": s.compression,
            "var_quantization": s.var_quantization,
            "obs_continuous_quantization": s.obs_continuous_quantization,
            "obs_categorical_dtype": layout.categorical_dtype_setting(
                s.obs_categorical_dtype,
                [f.codes_dtype for f in plan.obs if f.codes_dtype is not None],
            ),
        },
        source=s.source,
        vector_fields=manifests.vector_fields_block(
            {k: v for k, v in vector_files.items() if v}, layout.vector_label, layout.vector_basis
        ),
    )
    path = ctx.out / plan.identity
    write_text(path, manifests.to_json(identity, indent=2))
    ctx.say(f"✓ Wrote dataset identity to {path}")


def _obs_fields(ctx: RunContext) -> list[dict[str, Any]]:
    """In the obs manifest's order: every continuous field, then every categorical one."""
    columns = {c.key: c for c in ctx.inputs.obs_columns}
    fields = []
    ordered = sorted(ctx.plan.obs, key=lambda f: f.kind != "continuous")
    for field in ordered:
        if field.kind == "categorical":
            n = len(columns[field.key].categories)
            fields.append({"key": field.key, "kind": "category", "n_categories": n})
        else:
            fields.append({"key": field.key, "kind": "continuous"})
    return fields
