"""prepare()'s data arguments as they were given, before any check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)  # holds matrices: compared by identity
class InputRequest:
    """The arrays and tables of one export, unchecked: what :func:`check_inputs` reads.

    The field names are prepare()'s parameter names. Every array may be any supported
    input kind (numpy, scipy sparse, dask, h5py, zarr, AnnData backed, xarray).
    """

    latent_space: Any = None
    obs: Any = None
    var: Any = None
    gene_expression: Any = None
    gene_identifiers: Sequence[str] | None = None
    connectivities: Any = None
    obs_keys: Sequence[str] | None = None
    X_umap_1d: Any = None  # noqa: N815 - prepare()'s names
    X_umap_2d: Any = None  # noqa: N815
    X_umap_3d: Any = None  # noqa: N815
    X_umap_4d: Any = None  # noqa: N815
    vector_fields: Mapping[str, Any] | None = None

    @property
    def embeddings(self) -> dict[int, Any]:
        """The 1-, 2- and 3-D embeddings by dimension (None where not given)."""
        return {1: self.X_umap_1d, 2: self.X_umap_2d, 3: self.X_umap_3d}
