"""Outlier quantiles: bit for bit the arithmetic the module docstring fixes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cellucid.sinks.anndata.outliers import (
    DEFAULT_MIN_POINTS,
    category_codes,
    outlier_quantiles,
    stored_outlier_quantiles,
)


def reference(latent: np.ndarray, codes: np.ndarray, n_categories: int, min_points: int):
    """Plain Python loops: sums in cell order, squares column by column, float32 shares."""
    result = np.full(len(codes), np.nan, dtype=np.float32)
    for category in range(n_categories):
        members = [cell for cell, code in enumerate(codes) if code == category]
        if len(members) < min_points:
            continue
        centre = []
        for column in range(latent.shape[1]):
            total = 0.0
            for cell in members:
                total += float(latent[cell, column])
            centre.append(total / len(members))
        distance = {}
        for cell in members:
            squared = 0.0
            for column in range(latent.shape[1]):
                difference = float(latent[cell, column]) - centre[column]
                squared += difference * difference
            distance[cell] = math.sqrt(squared)
        for cell in members:
            closer = sum(1 for other in members if distance[other] <= distance[cell])
            result[cell] = np.float32(closer) / np.float32(len(members))
    return result


def test_matches_the_plain_reference_bit_for_bit():
    rng = np.random.default_rng(5)
    latent = (rng.normal(size=(400, 7)) * 1e3).astype(np.float32)
    latent[10] = latent[11]  # ties
    codes = rng.integers(-1, 6, 400)
    codes[codes == 5] = 7  # out of range: missing
    mine = outlier_quantiles(latent, codes, 5, 3)
    assert mine.dtype == np.float32
    assert mine.tobytes() == reference(latent, codes, 5, 3).tobytes()


def test_small_categories_and_missing_cells_are_nan():
    latent = np.arange(24, dtype=np.float32).reshape(12, 2)
    codes = np.array([0] * 10 + [1, -1])
    quantiles = outlier_quantiles(latent, codes, 2, DEFAULT_MIN_POINTS)
    assert np.isnan(quantiles[10:]).all() and not np.isnan(quantiles[:10]).any()
    assert np.nanmax(quantiles) == np.float32(1.0)


def test_category_codes_of_each_column_kind():
    assert category_codes(np.array([1.0])) is None
    assert category_codes(pd.array([1, None], dtype="Int64")) is None
    codes, count = category_codes(pd.array([True, None, False], dtype="boolean"))
    assert list(codes) == [1, -1, 0] and count == 2
    codes, count = category_codes(np.array([True, False]))
    assert list(codes) == [1, 0] and count == 2
    codes, count = category_codes(np.array(["b", "a", "c"], dtype=object))
    assert list(codes) == [1, 0, 2] and count == 3
    codes, count = category_codes(pd.Categorical(["x", None], categories=["x", "y"]))
    assert list(codes) == [0, -1] and count == 2


def test_stored_quantiles_skip_columns_without_a_scored_category():
    rng = np.random.default_rng(6)
    latent = rng.normal(size=(30, 3)).astype(np.float32)
    obs = {
        "big": pd.Categorical(["a"] * 20 + ["b"] * 10),
        "small": pd.Categorical([f"c{i % 15}" for i in range(30)]),
        "names": np.array([f"n{i}" for i in range(30)], dtype=object),
        "number": np.arange(30.0),
    }
    stored = stored_outlier_quantiles(obs, "X_pca", latent, 10)
    assert list(stored) == ["latentKey", "minPoints", "fields"]
    assert stored["latentKey"] == "X_pca" and stored["minPoints"] == 10
    assert list(stored["fields"]) == ["big"]
    every = stored_outlier_quantiles(obs, "X_pca", latent, 1)
    assert list(every["fields"]) == ["big", "small", "names"]
    assert (every["fields"]["names"] == 1).all()
