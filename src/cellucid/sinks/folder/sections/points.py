"""Section ``points``: the normalised embeddings (and the settings summary)."""

from __future__ import annotations

import numpy as np

from cellucid.progress import dask_bar
from cellucid.report import count
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.embeddings import fit_normalizations, normalize
from cellucid.sinks.folder.results import Points


def write_points(ctx: RunContext) -> None:
    with dask_bar("embeddings: pass one (ranges)", ctx.progress):
        norms = fit_normalizations(ctx.inputs.embeddings)
    _summary(ctx, norms)
    points = {
        d: normalize(np.asarray(x.compute()), norms[d]) for d, x in ctx.inputs.embeddings.items()
    }
    ctx.results.points = Points(norms, points)
    for d, relative in ctx.plan.points:
        if not ctx.keep(relative, "points"):
            ctx.write(relative, points[d])
            ctx.say(
                f"✓ Wrote {d}D positions ({count(points[d].shape[0], 'cell')} × {d} dims) to "
                f"{ctx.out / relative}"
            )


def _summary(ctx: RunContext, norms: dict) -> None:
    s = ctx.plan.settings
    lines = [
        "=" * 60,
        "Export Settings:",
        f"  Output directory: {ctx.out}",
        f"  Layout: {s.layout}",
        f"  Compression: {'gzip level ' + str(s.compression) if s.compression else 'disabled'}",
        "  Var (gene) quantization: "
        + (f"{s.var_quantization}-bit" if s.var_quantization else "disabled (float32)"),
        "  Obs continuous quantization: "
        + (
            f"{s.obs_continuous_quantization}-bit"
            if s.obs_continuous_quantization
            else "disabled (float32)"
        ),
        f"  Obs categorical dtype: {s.obs_categorical_dtype}",
        f"  Available dimensions: {sorted(norms)}",
        f"  Default dimension: {3 if 3 in norms else max(norms)}D",
        "  Coordinate normalization (per-dimension, aspect-ratio preserved):",
    ]
    lines += [f"    {d}D: range {norms[d].original_range:.2f} → [-1, 1]" for d in sorted(norms)]
    for line in [*lines, "=" * 60]:
        ctx.say(line)
