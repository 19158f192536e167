"""Views of a backed AnnData (#21 item 2): exactly the view's rows, in the view's order.

A permuted, a masked and a column-subset view of a backed .h5ad (sparse and dense X) go
through prepare_anndata to an export folder; every gene file decodes to ``view.X``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare_anndata
from cellucid.inputs import store_arrays

N, G = 1200, 12


def _atlas(path, sparse):
    rng = np.random.default_rng(5)
    x = sp.random(N, G, density=0.4, format="csr", random_state=1, dtype=np.float32)
    x.data = rng.uniform(0.5, 9.0, x.nnz).astype(np.float32)
    adata = ad.AnnData(
        X=x if sparse else x.toarray(),
        obs=pd.DataFrame({"score": rng.normal(size=N)}, index=[f"c{i}" for i in range(N)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(G)]),
    )
    adata.obsm["X_umap"] = rng.normal(size=(N, 2)).astype(np.float32)
    adata.write_h5ad(path)
    return ad.read_h5ad(path, backed="r")


def _views(backed):
    rng = np.random.default_rng(9)
    return {
        "permuted": backed[rng.permutation(N)],
        "masked": backed[backed.obs["score"].to_numpy() > 0.3],
        "stepped slice": backed[10 : N - 7 : 3],
        "rows and columns": backed[np.sort(rng.choice(N, 500, replace=False))[::-1], [5, 2, 9]],
    }


@pytest.mark.parametrize("sparse", [True, False], ids=["csr", "dense"])
def test_backed_views_export_the_views_rows(tmp_path, monkeypatch, sparse):
    # small gaps make the permuted rows go through many separate reads
    monkeypatch.setattr(store_arrays, "_ROW_GAP", 3)
    backed = _atlas(tmp_path / "atlas.h5ad", sparse)
    for name, view in _views(backed).items():
        out = prepare_anndata(
            view,
            tmp_path / name.replace(" ", "_"),
            var_quantization=None,
            compression=None,
            chunk_size=97,
            quiet=True,
        )
        expected = view.X.toarray() if sp.issparse(view.X) else np.asarray(view.X)
        assert expected.shape[0] == view.n_obs < N or name == "permuted"
        for j, gene in enumerate(view.var_names):
            values = np.fromfile(out / "var" / f"{gene}.values.f32", dtype=np.float32)
            np.testing.assert_array_equal(values, expected[:, j], err_msg=f"{name} {gene}")
        score = np.fromfile(out / "obs" / "score.values.f32", dtype=np.float32)
        np.testing.assert_array_equal(score, view.obs["score"].to_numpy(np.float32))
    backed.file.close()


def test_backed_views_to_a_store(tmp_path):
    """The Cellucid-ready store path reads a backed view's X through anndata (the view's
    rows in the view's order)."""
    backed = _atlas(tmp_path / "atlas.h5ad", sparse=True)
    for name, view in list(_views(backed).items())[:2]:
        out = prepare_anndata(view, tmp_path / f"{name}.zarr", quiet=True)
        stored = ad.read_zarr(out)
        assert list(stored.obs_names) == list(view.obs_names)
        np.testing.assert_array_equal(stored.X.toarray(), view.X.toarray())
    backed.file.close()
