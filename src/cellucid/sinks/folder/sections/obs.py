"""Section ``obs``: codes, outlier quantiles and values of the obs fields, and centroids."""

from __future__ import annotations

from typing import Any

import numpy as np

from cellucid.engine import centroids as centroid_math
from cellucid.inputs.obs_fields import CategoricalColumn, ContinuousColumn
from cellucid.progress import dask_bar
from cellucid.sinks.folder.context import RunContext
from cellucid.sinks.folder.format.codecs import Codes
from cellucid.sinks.folder.format.quantize import Range, encode_values, valid_extrema
from cellucid.sinks.folder.plan.types import ObsFieldPlan
from cellucid.sinks.folder.results import ObsEntries


def write_obs(ctx: RunContext) -> None:
    columns = {c.key: c for c in ctx.inputs.obs_columns}
    categorical = [c for c in ctx.inputs.obs_columns if isinstance(c, CategoricalColumn)]
    fields = [(c.codes, len(c.categories)) for c in categorical]
    with dask_bar("obs: category centroids", ctx.progress and bool(fields)):
        means = centroid_math.latent_means(ctx.inputs.latent, fields)
        distances = centroid_math.latent_distances(ctx.inputs.latent, fields, means)
    distance_of = {c.key: d for c, d in zip(categorical, distances, strict=True)}
    continuous: list[list[Any]] = []
    categorical_entries: list[list[Any]] = []
    for plan in ctx.plan.obs:
        column = columns[plan.key]
        if isinstance(column, CategoricalColumn):
            categorical_entries.append(_categorical(ctx, plan, column, distance_of[plan.key]))
        else:
            continuous.append(_continuous(ctx, plan, column))
    ctx.results.obs = ObsEntries(tuple(continuous), tuple(categorical_entries))


def _bits(ctx: RunContext) -> int | None:
    return ctx.plan.settings.obs_continuous_quantization


def _continuous(ctx: RunContext, plan: ObsFieldPlan, column: ContinuousColumn) -> list[Any]:
    bits = _bits(ctx)
    value_range = Range.from_extrema(*valid_extrema(column.values)) if bits else None
    (relative,) = plan.paths
    if not ctx.keep(relative, "obs"):
        ctx.write(relative, encode_values(column.values, value_range, bits))
    lo, hi = (None, None) if value_range is None else (value_range.lo, value_range.hi)
    return ctx.layout.continuous_entry(plan.index, column.key, lo, hi)


def _categorical(
    ctx: RunContext, plan: ObsFieldPlan, column: CategoricalColumn, distances: np.ndarray
) -> list[Any]:
    s, bits, layout = ctx.plan.settings, _bits(ctx), ctx.layout
    codes = Codes(plan.codes_dtype)
    codes_path, outliers_path = plan.paths
    if not ctx.keep(codes_path, "obs"):
        ctx.write(codes_path, codes.encode(column.codes))
    quantiles = centroid_math.outlier_quantiles(
        distances, column.codes, len(column.categories), s.centroid_min_points
    )
    value_range = Range.from_extrema(*valid_extrema(quantiles)) if bits else None
    if not ctx.keep(outliers_path, "obs"):
        ctx.write(outliers_path, encode_values(quantiles, value_range, bits))
    names = [layout.category_value(v) for v in (column.values or column.categories)]
    points = ctx.results.points.points
    by_dim = {
        str(d): centroid_math.centroids(
            points[d],
            column.codes,
            names,
            s.centroid_min_points,
            s.centroid_outlier_quantile,
        )
        for d in sorted(points)
    }
    lo, hi = (None, None) if value_range is None else (value_range.lo, value_range.hi)
    return layout.categorical_entry(
        plan.index, column.key, names, codes.name, codes.missing, by_dim, lo, hi
    )
