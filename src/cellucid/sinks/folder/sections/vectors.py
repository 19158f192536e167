"""Section ``vectors``: vector fields, scaled like their dimension's points."""

from __future__ import annotations

import numpy as np

from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.embeddings import scale_vectors


def write_vectors(ctx: RunContext) -> None:
    norms = ctx.results.points.norms
    for vector in ctx.plan.vectors:
        for d in vector.skipped_dims:
            ctx.say(
                f"  ⚠ Skipping vector field '{vector.field_id}' {d}D: embedding "
                f"points_{d}d not provided"
            )
        for d, relative in zip(vector.dims, vector.paths, strict=True):
            if not ctx.keep(relative, "vector field"):
                x = ctx.inputs.vectors[vector.field_id][d]
                ctx.write(relative, scale_vectors(np.asarray(x.compute()), norms[d]))
                ctx.say(f"✓ Wrote vector field '{vector.field_id}' {d}D to {ctx.out / relative}")
