"""The inputs of the conversion comparisons, built the same way in two interpreters.

Our tests import this module; the upstream 0.9.5 interpreter executes its text (it cannot
import our tests), so it uses numpy, pandas, scipy and anndata alone. ``scenario(name)``
returns the keyword arguments of ``prepare()`` (without ``out_path`` and ``format``);
``REFUSALS`` maps a case name to a scenario and the arguments that change in it, each
refused by upstream before anything is written.
"""

from __future__ import annotations

import warnings

import anndata
import numpy as np
import pandas as pd
from scipy import sparse

N_CELLS = 300
N_GENES = 50


def _obs(rng: np.random.Generator, n: int) -> pd.DataFrame:
    kinds = np.array(["T cell", "B cell", "NK", "Mono", "rare"])
    cell_type = rng.choice(kinds, n, p=[0.4, 0.3, 0.15, 0.13, 0.02])
    batch = rng.choice(np.array(["b2", "b1", "b10", "Z", "é"], dtype=object), n).astype(object)
    batch[rng.random(n) < 0.05] = None
    labelled = pd.array(rng.choice(["x", "y"], n), dtype="string")
    labelled[rng.random(n) < 0.05] = pd.NA
    counts = pd.array(rng.integers(0, 1000, n), dtype="Int64")
    counts[rng.random(n) < 0.1] = pd.NA
    flag = pd.array(rng.random(n) < 0.5, dtype="boolean")
    flag[rng.random(n) < 0.1] = pd.NA
    score = rng.normal(size=n)
    score[rng.random(n) < 0.05] = np.nan
    stage = pd.Categorical(
        rng.choice(["late", "early"], n), categories=["early", "mid", "late"], ordered=True
    )
    frame = pd.DataFrame(
        {
            "cell_type": pd.Categorical(cell_type),
            "batch": batch,
            "labelled": labelled,
            "barcode": np.array([f"bc{i:04d}" for i in range(n)], dtype=object),
            "counts_na": counts,
            "counts_full": pd.array(rng.integers(0, 9, n), dtype="Int32"),
            "flag_na": flag,
            "flag_full": pd.array(rng.random(n) < 0.3, dtype="boolean"),
            "is_doublet": rng.random(n) < 0.1,
            "n_genes": rng.integers(0, 5000, n).astype(np.int32),
            "score": score,
            "fraction": pd.array(rng.random(n), dtype="Float64"),
            "stage": stage,
            "cluster": pd.Categorical(rng.integers(0, 4, n)),
        },
        index=[f"cell{i % 280}" for i in range(n)],
    )
    frame.loc[frame.index[:3], "cell_type"] = np.nan
    return frame


def _var(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = [f"ENSG{i:05d}" for i in range(n)]
    ids[7] = ids[6]
    return pd.DataFrame(
        {
            "gene_ids": ids,
            "highly_variable": rng.random(n) < 0.3,
            "means": rng.random(n),
            "feature_types": pd.Categorical(["Gene Expression"] * n),
        },
        index=[f"G{i % 45}" for i in range(n)],
    )


def _graph(rng: np.random.Generator, n: int) -> sparse.csr_matrix:
    upper = sparse.random(n, n, density=0.03, random_state=rng, dtype=np.float64, format="coo")
    upper = sparse.triu(upper, k=1)
    graph = (upper + upper.T).tocsr()
    graph.data = graph.data.astype(np.float32)
    return graph


def _counts(rng: np.random.Generator, n: int, genes: int) -> sparse.csr_matrix:
    matrix = sparse.random(n, genes, density=0.2, random_state=rng, format="csr")
    matrix.data = np.floor(matrix.data * 20).astype(np.float32)  # some stored zeros
    return matrix


def rich_anndata(seed: int = 0) -> anndata.AnnData:
    """The AnnData of the main comparison (no uns['cellucid'])."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = anndata.AnnData(
            X=_counts(rng, N_CELLS, N_GENES), obs=_obs(rng, N_CELLS), var=_var(rng, N_GENES)
        )
    adata.obsm["X_umap"] = rng.normal(size=(N_CELLS, 2)).astype(np.float32)
    adata.obsm["X_pca"] = rng.normal(size=(N_CELLS, 10))
    adata.obsm["velocity_umap"] = rng.normal(size=(N_CELLS, 2))
    adata.obsm["X_tsne"] = sparse.csr_matrix(rng.normal(size=(N_CELLS, 2)))
    adata.obsm["mask"] = rng.random((N_CELLS, 2)) < 0.5
    adata.obsm["table"] = pd.DataFrame({"a": np.arange(N_CELLS)}, index=adata.obs_names)
    adata.obsp["connectivities"] = _graph(rng, N_CELLS)
    adata.obsp["distances"] = _graph(rng, N_CELLS)
    adata.layers["counts"] = adata.X.copy()
    return adata


def rich() -> dict:
    return {
        "data": rich_anndata(),
        "dataset_id": "rich-1.0",
        "dataset_name": "A rich atlas",
        "dataset_description": "",
        "citation_text": "Someone et al. (2024)",
        "citation_url": "https://doi.org/10.0/x",
        "source_name": "GEO",
        "latent_key": "X_pca",
        "embedding_defaults": {"2d": "X_umap", "3d": ("X_pca", [2, 0, 1])},
        "obs_keys": ["cell_type", "batch"],
        "normalize_embeddings": False,
        "centroid_min_points": 5,
        "vector_field_default": "velocity",
        "var_gene_id_column": "gene_ids",
        "gene_identifiers": [f"ENSG{i:05d}" for i in (40, 3, 6, 6)[:3]] + ["ENSG00006-1"],
    }


def explicit() -> dict:
    """No data: arrays and frames passed one by one, a dense integer X past 2^24."""
    rng = np.random.default_rng(1)
    n, genes = 120, 12
    umap = rng.normal(size=(n, 2))
    expression = rng.integers(0, 30, (n, genes)).astype(np.int64)
    expression[5, 3] = 2**24 + 1
    var = pd.DataFrame({"symbol": [f"S{i % 10}" for i in range(genes)], "n": np.arange(genes)})
    obs = pd.DataFrame({"group": rng.choice(["a", "b"], n), "value": rng.normal(size=n)})
    return {
        "embeddings": {
            "X_umap": umap,
            "X_line": rng.normal(size=n),
            "X_sparse": sparse.csr_matrix(rng.normal(size=(n, 3))),
            "X_lat": rng.integers(0, 9, (n, 4)),
        },
        "vector_fields": {"drift": {"X_umap": rng.normal(size=(n, 2))}},
        "obs": obs,
        "var": var,
        "gene_expression": expression,
        "var_gene_id_column": "symbol",
        "connectivities": _graph(rng, n).toarray(),
        "dataset_id": "explicit",
        "dataset_name": "Explicit arrays",
        "latent_key": "X_lat",
        "centroid_min_points": 1,
    }


def recorded() -> dict:
    """An AnnData carrying its own record (a dataset prepared before), dense float64 X."""
    rng = np.random.default_rng(2)
    n = 90
    adata = anndata.AnnData(
        X=np.floor(rng.random((n, 6)) * 5),
        obs=pd.DataFrame({"kind": pd.Categorical(rng.choice(["p", "q"], n))}),
    )
    adata.obs_names = [f"c{i}" for i in range(n)]
    adata.var_names = [f"g{i}" for i in range(6)]
    adata.obsm["X_umap_2d"] = rng.normal(size=(n, 2))
    adata.obsm["X_scvi"] = rng.normal(size=(n, 5))
    adata.uns["cellucid"] = {
        "schema": 1,
        "id": "prepared",
        "name": "Prepared before",
        "source": {"name": "Lab"},
        "defaults": {
            "embedding2d": {"key": "X_umap_2d", "columns": np.array([1, 0])},
            "latentKey": "X_scvi",
            "obsKeys": np.array(["kind"], dtype=object),
            "centroidMinPoints": np.int64(3),
        },
        "outlierQuantiles": {"latentKey": "X_scvi", "minPoints": 3, "fields": {}},
    }
    return {"data": adata}


def _edge_obs(rng: np.random.Generator, n: int) -> pd.DataFrame:
    one_missing = np.array([f"n{i}" for i in range(n)], dtype=object)
    one_missing[4] = None
    return pd.DataFrame(
        {
            "unique_text": np.array([f"u{i}" for i in range(n)], dtype=object),
            "one_missing": one_missing,
            "all_missing": np.array([None] * n, dtype=object),
            "nan_text": np.array(["a", np.nan, "b", "a"] * (n // 4), dtype=object),
            "string_unique": pd.array([f"s{i}" for i in range(n)], dtype="string"),
            "float_categories": pd.Categorical(rng.choice([0.5, 1.5, 2.5], n)),
            "bool_categories": pd.Categorical(rng.random(n) < 0.5),
            "unsigned": rng.integers(0, 9, n).astype(np.uint16),
            "single": rng.normal(size=n).astype(np.float32),
            "half": rng.normal(size=n).astype(np.float16),
            "many": pd.Categorical([f"k{i % 150}" for i in range(n)]),
        }
    )


def edges() -> dict:
    """Edge cases of obs columns and of the graph; no X; every category scored."""
    rng = np.random.default_rng(3)
    n = 200
    graph = _graph(rng, n).tocoo()
    half = graph.data / 2
    zeros = np.zeros(4, dtype=graph.data.dtype)
    rows = np.concatenate([graph.row, graph.row, [1, 2, 2, 1]])
    cols = np.concatenate([graph.col, graph.col, [2, 1, 1, 2]])
    doubled = sparse.coo_matrix((np.concatenate([half, half, zeros]), (rows, cols)), shape=(n, n))
    return {
        "embeddings": {"X_umap": rng.normal(size=(n, 3)), "X_diffmap": rng.normal(size=(n, 5))},
        "obs": _edge_obs(rng, n),
        "connectivities": doubled,
        "dataset_id": "edges_0",
        "dataset_name": "Edges — ünïcode",
        "dataset_description": "One paragraph\u200d with a joiner.",
        "latent_key": "X_umap",
        "centroid_min_points": 1,
    }


def genes_by_index() -> dict:
    """An AnnData whose genes are chosen by var index names; CSC integer X."""
    rng = np.random.default_rng(4)
    n, genes = 64, 20
    var = pd.DataFrame(
        {
            "maybe": pd.array([1, None] * (genes // 2), dtype="Int64"),
            "label": np.array([f"L{i % 3}" for i in range(genes)], dtype=object),
        },
        index=[f"g{i % 15}" for i in range(genes)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = anndata.AnnData(
            X=sparse.random(n, genes, density=0.3, random_state=rng, format="csc")
            .multiply(100)
            .astype(np.int32)
            .tocsc(),
            var=var,
        )
    adata.obsm["X_pca"] = rng.normal(size=(n, 4))
    return {
        "data": adata,
        "dataset_id": "by-index",
        "dataset_name": "By index",
        "gene_identifiers": ["g3-1", "g0", "g14"],
    }


SCENARIOS = {
    "rich": rich,
    "explicit": explicit,
    "recorded": recorded,
    "edges": edges,
    "genes_by_index": genes_by_index,
}


def scenario(name: str) -> dict:
    """The prepare() keyword arguments of one scenario."""
    return SCENARIOS[name]()


#: case -> (scenario, changed arguments, the parameter the refusal names).
REFUSALS: dict[str, tuple[str, dict, str]] = {
    "id-invalid": ("explicit", {"dataset_id": "-bad"}, "dataset_id"),
    "id-device": ("explicit", {"dataset_id": "con.x"}, "dataset_id"),
    "id-missing": ("explicit", {"dataset_id": None}, "dataset_id"),
    "name-space": ("explicit", {"dataset_name": "Atlas "}, "dataset_name"),
    "name-zero-width": ("explicit", {"dataset_name": "At\u200blas"}, "dataset_name"),
    "url-without-text": ("explicit", {"citation_url": "https://x.org"}, "citation_url"),
    "url-relative": (
        "explicit",
        {"source_name": "S", "source_url": "www.x.org"},
        "source_url",
    ),
    "embeddings-missing": ("explicit", {"embeddings": None}, "embeddings"),
    "embedding-nan": ("explicit", {"embeddings": {"X_umap": np.full((120, 2), np.nan)}}, "X_umap"),
    "embedding-rows": (
        "explicit",
        {"embeddings": {"X_umap": np.zeros((120, 2)), "X_b": np.zeros((5, 2))}},
        "X_b",
    ),
    "embedding-key": ("explicit", {"embeddings": {"X/umap": np.zeros((120, 2))}}, "X/umap"),
    "embedding-case": (
        "explicit",
        {"embeddings": {"X_a": np.zeros((120, 2)), "x_A": np.zeros((120, 2))}},
        "x_A",
    ),
    "field-unbound": (
        "explicit",
        {"vector_fields": {"drift": {"X_none": np.zeros((120, 2))}}},
        "drift",
    ),
    "field-width": (
        "explicit",
        {"vector_fields": {"drift": {"X_umap": np.zeros((120, 3))}}},
        "drift",
    ),
    "field-x-prefix": (
        "explicit",
        {"vector_fields": {"X_v": {"X_umap": np.zeros((120, 2))}}},
        "X_v",
    ),
    "obs-rows": ("explicit", {"obs": pd.DataFrame({"a": np.arange(7)})}, "obs"),
    "obs-index-column": ("explicit", {"obs": pd.DataFrame({"_index": np.arange(120)})}, "_index"),
    "obs-inf": ("explicit", {"obs": pd.DataFrame({"v": np.full(120, np.inf)})}, "obs column 'v'"),
    "obs-mixed": (
        "explicit",
        {"obs": pd.DataFrame({"m": np.array(["a", 1] * 60, dtype=object)})},
        "obs column 'm'",
    ),
    "obs-dates": (
        "explicit",
        {"obs": pd.DataFrame({"d": pd.date_range("2020-01-01", periods=120)})},
        "obs column 'd'",
    ),
    "obs-case": (
        "explicit",
        {"obs": pd.DataFrame({"Sex": np.zeros(120), "sex": np.zeros(120)})},
        "obs column",
    ),
    "obs-int-index": (
        "explicit",
        {"obs": pd.DataFrame({"a": np.zeros(120)}, index=np.arange(1, 121))},
        "obs",
    ),
    "x-rows": ("explicit", {"gene_expression": np.zeros((7, 12))}, "gene_expression"),
    "x-text": ("explicit", {"gene_expression": np.full((120, 12), "a")}, "gene_expression"),
    "x-1d": ("explicit", {"gene_expression": np.zeros(120)}, "gene_expression"),
    "var-rows": ("explicit", {"var": pd.DataFrame({"symbol": ["a"]})}, "var"),
    "var-without-x": ("explicit", {"gene_expression": None}, "var"),
    "gene-column-absent": ("explicit", {"var_gene_id_column": "nope"}, "var_gene_id_column"),
    "gene-column-float": (
        "explicit",
        {"var": pd.DataFrame({"symbol": np.arange(12.0)}), "var_gene_id_column": "symbol"},
        "var_gene_id_column",
    ),
    "genes-unnamed": ("explicit", {"var_gene_id_column": None}, "var_gene_id_column"),
    "gene-identifiers-absent": (
        "explicit",
        {"gene_identifiers": ["S1", "nope"]},
        "gene_identifiers",
    ),
    "gene-identifiers-twice": ("explicit", {"gene_identifiers": ["S1", "S1"]}, "gene_identifiers"),
    "gene-identifiers-text": ("explicit", {"gene_identifiers": "S1"}, "gene_identifiers"),
    "graph-asymmetric": (
        "explicit",
        {"connectivities": np.triu(np.ones((120, 120)), 1)},
        "connectivities",
    ),
    "graph-diagonal": ("explicit", {"connectivities": np.eye(120)}, "connectivities"),
    "graph-negative": (
        "explicit",
        {"connectivities": -(np.ones((120, 120)) - np.eye(120))},
        "connectivities",
    ),
    "graph-shape": ("explicit", {"connectivities": np.zeros((120, 3))}, "connectivities"),
    "latent-unknown": ("explicit", {"latent_key": "X_none"}, "latent_key"),
    "latent-field": ("explicit", {"latent_key": "drift_umap"}, "latent_key"),
    "field-default-unknown": ("explicit", {"vector_field_default": "nope"}, "vector_field_default"),
    "field-default-hidden": (
        "explicit",
        {
            "vector_field_default": "drift",
            "embedding_defaults": {"2d": "X_sparse"},
            "embeddings": {
                "X_umap": np.zeros((120, 4)),
                "X_sparse": np.zeros((120, 3)),
                "X_lat": np.zeros((120, 4)),
            },
            "vector_fields": {"drift": {"X_umap": np.zeros((120, 4))}},
        },
        "vector_field_default",
    ),
    "defaults-slot": ("explicit", {"embedding_defaults": {"4d": "X_umap"}}, "embedding_defaults"),
    "defaults-key": ("explicit", {"embedding_defaults": {"2d": "X_none"}}, "embedding_defaults"),
    "defaults-narrow": ("explicit", {"embedding_defaults": {"3d": "X_umap"}}, "embedding_defaults"),
    "defaults-list": (
        "explicit",
        {"embedding_defaults": {"2d": ["X_umap", [0, 1]]}},
        "embedding_defaults",
    ),
    "defaults-columns": (
        "explicit",
        {"embedding_defaults": {"2d": ("X_lat", [0, 0])}},
        "embedding_defaults",
    ),
    "obs-keys-unknown": ("explicit", {"obs_keys": ["nope"]}, "obs_keys"),
    "obs-keys-twice": ("explicit", {"obs_keys": ["group", "group"]}, "obs_keys"),
    "normalize-int": ("explicit", {"normalize_embeddings": 1}, "normalize_embeddings"),
    "min-points-zero": ("explicit", {"centroid_min_points": 0}, "centroid_min_points"),
    "min-points-float": ("explicit", {"centroid_min_points": 2.0}, "centroid_min_points"),
    "modality": ("explicit", {"modality": "rna"}, "modality"),
    "modalities": ("explicit", {"modalities": ["rna"]}, "modalities"),
    "data-type": ("explicit", {"data": [1, 2]}, "data"),
    "force-int": ("explicit", {"force": 1}, "force"),
    "zarr-format": ("explicit", {"zarr_format": 4}, "zarr_format"),
    "record-latent": ("recorded", {"latent_key": "X_umap"}, "latent_key"),
}
