"""The inputs of an export after every check: what the checks produce and the sinks read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the planner reads summaries (``cellucid validate``): no pandas, no dask
    import dask.array as da
    import numpy as np
    import pandas as pd

    from cellucid.inputs.obs_fields import CategoricalColumn, ContinuousColumn


@dataclass(frozen=True)
class ObsFieldSummary:
    """What the planner needs of one checked obs column."""

    key: str
    kind: str  # "continuous" or "categorical"
    codes_dtype: str | None = None


@dataclass(frozen=True)
class InputSummary:
    """The shape of the checked inputs: no array, nothing read."""

    n_cells: int
    dims: tuple[int, ...]
    vector_dims: dict[str, tuple[int, ...]]
    obs: tuple[ObsFieldSummary, ...]
    gene_ids: tuple[str, ...] | None  # None: no gene expression
    n_matrix_genes: int
    has_connectivity: bool
    #: edges of the graph at least (each unordered pair once), 0 without a graph
    graph_edges: int = 0


@dataclass(frozen=True)
class CheckedInputs:
    """Inputs after validation, as chunked dask arrays and per-cell columns."""

    n_cells: int
    embeddings: dict[int, da.Array]
    #: None when no categorical obs field needs it (see check_latent)
    latent: da.Array | None
    obs: pd.DataFrame
    obs_columns: tuple[CategoricalColumn | ContinuousColumn, ...]
    codes_dtypes: dict[str, str]
    matrix: da.Array | None = None
    #: the gene_expression object as given, so the engine can read it on its own grid
    matrix_source: Any = None
    gene_ids: tuple[str, ...] = ()
    gene_columns: np.ndarray | None = None
    n_matrix_genes: int = 0
    unknown_genes: tuple[str, ...] = ()
    connectivities: da.Array | None = None
    graph_edges: int = 0
    vectors: dict[str, dict[int, da.Array]] = field(default_factory=dict)

    def summary(self) -> InputSummary:
        """What the planner needs: shapes, keys and ids, no array."""
        from cellucid.inputs.obs_fields import CategoricalColumn

        return InputSummary(
            n_cells=self.n_cells,
            dims=tuple(sorted(self.embeddings)),
            vector_dims={k: tuple(sorted(v)) for k, v in self.vectors.items()},
            obs=tuple(
                ObsFieldSummary(c.key, "categorical", self.codes_dtypes[c.key])
                if isinstance(c, CategoricalColumn)
                else ObsFieldSummary(c.key, "continuous")
                for c in self.obs_columns
            ),
            gene_ids=self.gene_ids if self.matrix is not None else None,
            n_matrix_genes=self.n_matrix_genes,
            has_connectivity=self.connectivities is not None,
            graph_edges=self.graph_edges,
        )
