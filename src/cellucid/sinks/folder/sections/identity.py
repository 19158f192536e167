"""Section ``identity``: ``dataset_identity.json``, written last (its presence means done)."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from cellucid import __version__
from cellucid.engine.files import write_text
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format import manifests
from cellucid.sinks.folder.format.naming import names_a_file, safe_name


def created_at() -> str:
    """UTC creation time; ``SOURCE_DATE_EPOCH`` makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


#: longest default id kept as the name's file-name form (a viewer URL names the id)
DEFAULT_ID_CHARS = 64


def default_dataset_id(name: str) -> str:
    """The id of an export named ``name`` when none is given: its file-name form.

    A name with characters outside ASCII, or longer than ``DEFAULT_ID_CHARS``, keeps at
    most 40 characters of that form and gets a digest of the whole name: two exports
    named in another script (whose file-name forms are both ``field``) get different ids,
    and no id makes a viewer URL too long.
    """
    safe = safe_name(name)
    if name.isascii() and len(safe) <= DEFAULT_ID_CHARS:
        return safe
    stem = safe[:40].rstrip("._-") if names_a_file(name) else ""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{stem or 'dataset'}-{digest}"


def write_identity(ctx: RunContext) -> None:
    s, plan, layout = ctx.plan.settings, ctx.plan, ctx.layout
    name = s.dataset_name or ctx.out.resolve().name
    obs_fields = _obs_fields(ctx)
    n_categorical = sum(1 for f in obs_fields if f["kind"] == "category")
    edges = ctx.results.edges
    n_exported = len(plan.genes.ids) if plan.genes is not None else 0
    vector_files = {v.field_id: dict(zip(v.dims, v.paths, strict=True)) for v in plan.vectors}
    identity = manifests.dataset_identity(
        dataset_id=s.dataset_id or default_dataset_id(name),
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
