"""A dask.distributed LocalCluster with 2 worker processes writes the same bytes."""

from __future__ import annotations

import pytest

from cellucid import make_demo_anndata, prepare_anndata

from .test_anndata_inputs import SETTINGS, tree_digest

distributed = pytest.importorskip("distributed")


def test_local_cluster_matches_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    adata = make_demo_anndata(n_cells=1200, n_genes=80)
    h5ad = tmp_path / "atlas.h5ad"
    adata.write_h5ad(h5ad)
    threaded = prepare_anndata(h5ad, tmp_path / "threads", **SETTINGS)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = prepare_anndata(h5ad, tmp_path / "cluster", **SETTINGS)
        # the gene tasks ran on the workers, not in this process
        assert any(
            key.startswith(("commit_block_pieces", "commit_and_checksum"))
            for key in client.run_on_scheduler(_task_names)
        )
    assert tree_digest(on_cluster) == tree_digest(threaded)


def _task_names(dask_scheduler=None) -> list[str]:
    return [str(k) for k in dask_scheduler.task_prefixes]
