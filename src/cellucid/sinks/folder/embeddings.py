"""Embedding normalisation: one scale per dimension, centred on the bounding box."""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np


@dataclass(frozen=True)
class Normalization:
    """How one embedding maps to [-1, 1]: ``(x - center) * scale``."""

    center: tuple[float, ...]
    original_range: float

    @property
    def scale(self) -> float:
        return 2.0 / self.original_range


def fit_normalizations(embeddings: dict[int, da.Array]) -> dict[int, Normalization]:
    """Pass one for embeddings: per-axis min and max of every embedding, in one compute."""
    dims = sorted(embeddings)
    lows, highs = dask.compute(
        [embeddings[d].min(axis=0) for d in dims], [embeddings[d].max(axis=0) for d in dims]
    )
    result = {}
    for d, lo, hi in zip(dims, lows, highs, strict=True):
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        largest = float((hi - lo).max())
        if not largest >= 1e-8:
            largest = 1.0
        result[d] = Normalization(tuple(((lo + hi) / 2).tolist()), largest)
    return result


def normalize(points: np.ndarray, norm: Normalization) -> np.ndarray:
    """Normalised float32 points (computed in float64, rounded once)."""
    center = np.asarray(norm.center, dtype=np.float64)
    return ((points.astype(np.float64) - center) * norm.scale).astype(np.float32)


def scale_vectors(vectors: np.ndarray, norm: Normalization) -> np.ndarray:
    """Vectors scaled like their dimension's points (no centring); a new array."""
    return (np.asarray(vectors, dtype=np.float64) * norm.scale).astype(np.float32)
