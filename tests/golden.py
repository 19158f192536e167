"""Small fixed atlases and a hash of an export tree, to pin the bytes we write."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

N_CELLS = 300
N_GENES = 40


def golden_atlas() -> dict:
    """Every kind of input prepare() takes, from a fixed seed."""
    rng = np.random.default_rng(2024)
    labels = rng.integers(0, 5, N_CELLS)
    obs = pd.DataFrame(
        {
            "cell type": pd.Categorical(np.array(list("abcde"))[labels]),
            "batch": rng.choice(["b1", "b2"], N_CELLS),
            "flag": rng.random(N_CELLS) > 0.3,
            "score": rng.normal(0, 1, N_CELLS),
            "n_counts": rng.integers(100, 5000, N_CELLS),
            "many": pd.Categorical([f"c{i % 260}" for i in range(N_CELLS)]),
        }
    )
    obs.loc[7, "score"] = np.nan
    obs.loc[9, "cell type"] = np.nan
    counts = rng.poisson(0.4, (N_CELLS, N_GENES)).astype(np.float32)
    counts[:, 3] = 0
    counts[:, 4] = 1.5
    counts[:, 5] *= -1
    var = pd.DataFrame(index=[f"Gene-{i}" for i in range(N_GENES)])
    graph = sp.random(N_CELLS, N_CELLS, density=0.03, random_state=5, format="csr")
    centers = rng.normal(0, 4, (5, 3))
    umap3 = centers[labels] + rng.normal(0, 1, (N_CELLS, 3))
    return {
        "latent_space": centers[labels] @ rng.normal(0, 1, (3, 6)) + rng.normal(0, 1, (N_CELLS, 6)),
        "obs": obs,
        "var": var,
        "gene_expression": sp.csr_matrix(counts),
        "connectivities": graph,
        "X_umap_2d": umap3[:, :2] * 3 + 1,
        "X_umap_3d": umap3,
        "vector_fields": {
            "velocity_umap_2d": rng.normal(0, 1, (N_CELLS, 2)),
            "drift_umap": rng.normal(0, 1, (N_CELLS, 3)),
        },
    }


def tree_digest(root: Path) -> str:
    """SHA-256 over every visible file's relative path and bytes, in path order."""
    digest = hashlib.sha256()
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and not p.relative_to(root).as_posix()[0] == "."
    )
    for path in files:
        relative = path.relative_to(root).as_posix()
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
