"""The planner: one pure function from the inputs' summary and settings to the plan."""

from __future__ import annotations

from cellucid.sinks.folder.format.codecs import Codes, Gzip, value_codec
from cellucid.sinks.folder.format.manifests import MAX_CONNECTIVITY_WORKING_BYTES as MAX_GRAPH_BYTES
from cellucid.sinks.folder.format.manifests import connectivity_working_bytes
from cellucid.sinks.folder.layouts import get_layout
from cellucid.sinks.folder.layouts.base import Layout
from cellucid.sinks.folder.plan.types import (
    EdgePlan,
    ExportPlan,
    GenePlan,
    InputSummary,
    ObsFieldPlan,
    Settings,
    VectorPlan,
)


def edge_index_dtype(n_cells: int) -> str:
    """The smallest index dtype: uint16 up to 65,536 cells (indices up to 65,535), else uint32.

    The strict viewer build requires exactly this choice.
    """
    if n_cells <= 65536:
        return "uint16"
    if n_cells <= 2**32 - 1:
        return "uint32"
    return "uint64"


def check_graph_fits_viewer(n_cells: int, n_edges: int) -> None:
    """Refuse a graph the strict viewer would not load (its own working-memory limit).

    Raises
    ------
    ValueError
        If loading ``n_edges`` edges over ``n_cells`` cells needs more than the viewer allows.
    """
    index_bytes = 2 if edge_index_dtype(n_cells) == "uint16" else 4
    if connectivity_working_bytes(n_cells, n_edges, index_bytes) > MAX_GRAPH_BYTES:
        raise ValueError(
            f"connectivities has at least {n_edges:,} edges; the Cellucid viewer "
            f"loads a graph only while it needs at most {MAX_GRAPH_BYTES >> 20} MiB "
            "(about 11 million edges). Pass a sparser graph (fewer neighbours) or "
            "connectivities=None."
        )


def make_plan(inputs: InputSummary, settings: Settings) -> ExportPlan:
    """Every file the export writes, named by the settings' layout.

    Raises
    ------
    ValueError
        If the layout cannot name these fields or cannot write these settings.
    """
    layout = get_layout(settings.layout)
    layout.check_settings(settings.record_dict())
    layout.check_keys("obs", [f.key for f in inputs.obs])
    layout.check_keys("vectors", sorted(inputs.vector_dims))
    if inputs.gene_ids is not None:
        layout.check_keys("var", list(inputs.gene_ids))
    check_graph_fits_viewer(inputs.n_cells, inputs.graph_edges)
    gz = Gzip(settings.compression).suffix
    obs_patterns = _obs_patterns(layout, settings)
    return ExportPlan(
        layout=layout.name,
        settings=settings,
        inputs=inputs,
        points=tuple((d, f"points_{d}d.bin{gz}") for d in sorted(inputs.dims)),
        vectors=_vectors(layout, inputs, settings),
        obs=_obs_fields(layout, inputs, obs_patterns),
        obs_patterns=obs_patterns,
        genes=_genes(layout, inputs, settings),
        edges=_edges(inputs, settings),
        obs_manifest=settings.obs_manifest_filename,
        var_manifest=settings.var_manifest_filename if inputs.gene_ids is not None else None,
        connectivity_manifest=(
            settings.connectivity_manifest_filename if inputs.has_connectivity else None
        ),
    )


def _obs_patterns(layout: Layout, s: Settings) -> dict[str, str]:
    ext = value_codec(s.obs_continuous_quantization).ext
    return {
        "values": layout.values_pattern(s.obs_binary_dirname, ext, s.compression),
        "codes": layout.codes_pattern(s.obs_binary_dirname, s.compression),
        "outliers": layout.outliers_pattern(s.obs_binary_dirname, ext, s.compression),
    }


def _obs_fields(
    layout: Layout, inputs: InputSummary, patterns: dict[str, str]
) -> tuple[ObsFieldPlan, ...]:
    fields = []
    for index, field in enumerate(inputs.obs):
        if field.kind == "categorical":
            paths = (
                layout.fill(patterns["codes"], field.key, index, Codes(field.codes_dtype).ext),
                layout.fill(patterns["outliers"], field.key, index),
            )
        else:
            paths = (layout.fill(patterns["values"], field.key, index),)
        fields.append(ObsFieldPlan(index, field.key, field.kind, paths, field.codes_dtype))
    return tuple(fields)


def _vectors(layout: Layout, inputs: InputSummary, s: Settings) -> tuple[VectorPlan, ...]:
    plans = []
    for index, field_id in enumerate(sorted(inputs.vector_dims)):
        dims = inputs.vector_dims[field_id]
        written = tuple(d for d in sorted(dims) if d in inputs.dims)
        plans.append(
            VectorPlan(
                field_id,
                index,
                written,
                tuple(layout.vector_path(field_id, index, d, s.compression) for d in written),
                tuple(d for d in sorted(dims) if d not in inputs.dims),
            )
        )
    return tuple(plans)


def _genes(layout: Layout, inputs: InputSummary, s: Settings) -> GenePlan | None:
    if inputs.gene_ids is None:
        return None
    pattern = layout.values_pattern(
        s.var_binary_dirname, value_codec(s.var_quantization).ext, s.compression
    )
    paths = tuple(layout.fill(pattern, gene, i) for i, gene in enumerate(inputs.gene_ids))
    return GenePlan(inputs.gene_ids, paths, s.var_binary_dirname, pattern)


def _edges(inputs: InputSummary, s: Settings) -> EdgePlan | None:
    if not inputs.has_connectivity:
        return None
    gz = Gzip(s.compression).suffix
    folder = s.connectivity_binary_dirname
    return EdgePlan(
        sources=f"{folder}/edges.src.bin{gz}",
        destinations=f"{folder}/edges.dst.bin{gz}",
        weights=f"{folder}/edges.weights.f64.bin{gz}",
        index_dtype=edge_index_dtype(inputs.n_cells),
        dirname=folder,
    )
