"""A small synthetic atlas built into the package, for the quick start and the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

CELL_TYPES = ["T cell", "B cell", "NK cell", "Monocyte", "Dendritic cell", "Platelet"]


def make_demo_arrays(n_cells: int = 3000, n_genes: int = 200, seed: int = 0) -> dict:
    """Arrays of a synthetic atlas: clusters in 2D/3D, a latent space, counts, a KNN graph.

    Returns a dict with keys ``X`` (CSR counts), ``obs``, ``var``, ``X_umap_2d``,
    ``X_umap_3d``, ``X_pca``, ``velocity_umap_2d``, ``velocity_umap_3d`` and
    ``connectivities``.
    """
    rng = np.random.default_rng(seed)
    n_types = len(CELL_TYPES)
    labels = rng.integers(0, n_types, n_cells)
    centers3 = rng.normal(0, 6, (n_types, 3))
    umap3 = (centers3[labels] + rng.normal(0, 1, (n_cells, 3))).astype(np.float32)
    umap2 = umap3[:, :2] * np.float32(1.3)
    latent_centers = rng.normal(0, 3, (n_types, 20))
    pca = (latent_centers[labels] + rng.normal(0, 1, (n_cells, 20))).astype(np.float32)
    programs = rng.gamma(0.3, 1.0, (n_types, n_genes))
    rate = programs[labels] * rng.gamma(2.0, 0.5, (n_cells, 1))
    counts = rng.poisson(rate).astype(np.float32)
    x = sp.csr_matrix(np.log1p(counts))
    # symmetric KNN-like graph: each cell linked to 10 random cells of its own type
    rows, cols = [], []
    by_type = [np.flatnonzero(labels == t) for t in range(n_types)]
    for members in by_type:
        if len(members) < 2:
            continue
        picks = rng.choice(members, (len(members), min(10, len(members) - 1)))
        rows.append(np.repeat(members, picks.shape[1]))
        cols.append(picks.ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    keep = r != c
    graph = sp.csr_matrix((np.ones(keep.sum(), np.float32), (r[keep], c[keep])), (n_cells, n_cells))
    graph = ((graph + graph.T) > 0).astype(np.float32).tocsr()
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical([CELL_TYPES[i] for i in labels], categories=CELL_TYPES),
            "batch": rng.choice(["donor_1", "donor_2", "donor_3"], n_cells),
            "n_counts": counts.sum(axis=1),
            "pseudotime": rng.random(n_cells).astype(np.float32),
        },
        index=[f"cell_{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(
        {"gene_symbol": [f"GENE{i}" for i in range(n_genes)]},
        index=[f"ENSG{i:011d}" for i in range(n_genes)],
    )
    direction = (centers3[(labels + 1) % n_types] - umap3).astype(np.float32) * np.float32(0.1)
    return {
        "X": x,
        "obs": obs,
        "var": var,
        "X_umap_2d": umap2,
        "X_umap_3d": umap3,
        "X_pca": pca,
        "velocity_umap_2d": direction[:, :2],
        "velocity_umap_3d": direction,
        "connectivities": graph,
    }


def make_demo_anndata(n_cells: int = 3000, n_genes: int = 200, seed: int = 0):
    """The demo atlas as an AnnData (``obsm``: X_umap, X_umap_3d, X_pca, velocity_umap)."""
    import anndata as ad

    arrays = make_demo_arrays(n_cells, n_genes, seed)
    return ad.AnnData(
        X=arrays["X"],
        obs=arrays["obs"],
        var=arrays["var"],
        obsm={
            "X_umap": arrays["X_umap_2d"],
            "X_umap_3d": arrays["X_umap_3d"],
            "X_pca": arrays["X_pca"],
            "velocity_umap": arrays["velocity_umap_2d"],
            "velocity_umap_3d": arrays["velocity_umap_3d"],
        },
        obsp={"connectivities": arrays["connectivities"]},
    )


def write_demo_export(
    out_dir: str | Path,
    *,
    n_cells: int = 3000,
    n_genes: int = 200,
    quiet: bool = False,
    **options,
) -> Path:
    """Export the demo atlas to ``out_dir`` (8-bit genes, gzip 6 unless overridden)."""
    from cellucid.exporter import prepare

    arrays = make_demo_arrays(n_cells, n_genes)
    settings = {"var_quantization": 8, "compression": 6, "dataset_name": "Cellucid demo atlas"}
    settings |= options
    return prepare(
        latent_space=arrays["X_pca"],
        obs=arrays["obs"],
        var=arrays["var"],
        gene_expression=arrays["X"],
        connectivities=arrays["connectivities"],
        out_dir=out_dir,
        X_umap_2d=arrays["X_umap_2d"],
        X_umap_3d=arrays["X_umap_3d"],
        vector_fields={
            "velocity_umap_2d": arrays["velocity_umap_2d"],
            "velocity_umap_3d": arrays["velocity_umap_3d"],
        },
        quiet=quiet,
        **settings,
    )
