"""What the sections of one export run leave for the sections after them.

Each section that others depend on returns one small frozen result; the run keeps them in
:class:`SectionResults` (``RunContext.results``), one typed field per producing section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from cellucid.sinks.folder.edges import EdgeSummary
from cellucid.sinks.folder.embeddings import Normalization

__all__ = ["EdgeSummary", "GeneRanges", "ObsEntries", "Points", "SectionResults"]


@dataclass(frozen=True)
class Points:
    """Section ``points``: each embedding's normalisation and normalised points, by dimension.

    ``vectors`` scales its fields with ``norms``; ``obs`` puts its centroids on ``points``.
    """

    norms: dict[int, Normalization]
    points: dict[int, np.ndarray]


@dataclass(frozen=True)
class ObsEntries:
    """Section ``obs``: the obs manifest's tuple of every field, by kind, in obs order."""

    continuous: tuple[list[Any], ...]
    categorical: tuple[list[Any], ...]


@dataclass(frozen=True)
class GeneRanges:
    """Pass one of section ``genes``: what pass two and the var manifest need.

    ``matrix`` is the expression matrix on the gene grid of ``piece_cells`` rows per block;
    ``lo`` and ``hi`` are each exported gene's range (None when genes are not quantized);
    ``entries`` are the var manifest's tuples, in gene order.
    """

    matrix: da.Array
    piece_cells: int
    lo: np.ndarray | None
    hi: np.ndarray | None
    entries: tuple[list[Any], ...]


@dataclass
class SectionResults:
    """The results of the sections that have run; each field is set once, by its section.

    ``edges`` comes from section ``connectivity`` (None without a graph).
    """

    points: Points | None = None
    obs: ObsEntries | None = None
    genes: GeneRanges | None = None
    edges: EdgeSummary | None = None
