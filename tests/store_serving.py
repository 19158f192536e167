"""Helpers of the store server tests: small Cellucid-ready stores written by our writer, one
HTTP request, and a file-like object that reads a served file with Range requests."""

from __future__ import annotations

import http.client
import io
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
from scipy import sparse

import cellucid

N_CELLS, N_GENES = 200, 30
#: container -> (prepare's format, zarr_format, file name)
CONTAINERS = {
    "zarr": ("zarr", 2, "atlas.zarr"),
    "zarr-v3": ("zarr", 3, "atlas3.zarr"),
    "zarr.zip": ("zarr.zip", None, "atlas.zarr.zip"),
    "h5ad": ("h5ad", None, "atlas.h5ad"),
}


def small_anndata(seed: int = 0) -> anndata.AnnData:
    """200 cells x 30 genes: sparse counts, a categorical and a float obs column, a UMAP."""
    rng = np.random.default_rng(seed)
    counts = sparse.random(
        N_CELLS, N_GENES, density=0.2, format="csr", random_state=seed, dtype=np.float32
    )
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(rng.choice(["T", "B", "NK"], N_CELLS)),
            "score": rng.random(N_CELLS),
        },
        index=[f"cell{i}" for i in range(N_CELLS)],
    )
    var = pd.DataFrame(index=[f"G{i}" for i in range(N_GENES)])
    adata = anndata.AnnData(X=counts, obs=obs, var=var)
    adata.obsm["X_umap"] = rng.random((N_CELLS, 2)).astype(np.float32)
    adata.obsm["X_pca"] = rng.random((N_CELLS, 5)).astype(np.float32)
    return adata


def write_store(folder: Path, container: str, dataset_id: str = "atlas-1", **kwargs) -> Path:
    """One store of :func:`small_anndata` written by ``cellucid.prepare``."""
    format, zarr_format, name = CONTAINERS[container]
    options = {"zarr_format": zarr_format} if zarr_format else {}
    return Path(
        cellucid.prepare(
            folder / name,
            format=format,
            data=small_anndata(),
            dataset_id=dataset_id,
            dataset_name=kwargs.pop("dataset_name", "Atlas one"),
            **options,
            **kwargs,
        )
    )


def fetch(
    port: int, method: str, path: str, headers: dict | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on a new connection; the reply (read) and its body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        reply = conn.getresponse()
        return reply, reply.read()
    finally:
        conn.close()


class RangeFile(io.RawIOBase):
    """A served file read with ``Range`` requests only (seekable, as h5py and zipfile need).

    ``requests`` counts them; each must be answered 206 with the asked range.
    """

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path, self.position, self.requests = port, path, 0, 0
        reply, _ = fetch(port, "HEAD", path)
        assert reply.status == 200 and reply.getheader("Accept-Ranges") == "bytes"
        self.size = int(reply.getheader("Content-Length"))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self.size - self.position)
        if wanted <= 0:
            return 0
        last = self.position + wanted - 1
        reply, body = fetch(
            self.port, "GET", self.path, {"Range": f"bytes={self.position}-{last}"}
        )
        assert reply.status == 206, reply.status
        assert reply.getheader("Content-Range") == f"bytes {self.position}-{last}/{self.size}"
        self.requests += 1
        buffer[: len(body)] = body
        self.position += len(body)
        return len(body)
