"""Pinned bytes of key-layout exports: a refactor must not change what we write.

When a change to the format is intended, update the hash in the same commit and say why.
"""

from __future__ import annotations

import pytest

from cellucid import prepare

from .golden import golden_atlas, tree_digest

SETTINGS = {
    "rich": {
        "compression": 6,
        "var_quantization": 8,
        "obs_continuous_quantization": 16,
    },
    "plain": {
        "obs_categorical_dtype": "uint16",
        "obs_binary_dirname": "cells",
        "var_manifest_filename": "genes.json",
        "centroid_outlier_quantile": None,
    },
    "q16": {"compression": 1, "var_quantization": 16, "obs_continuous_quantization": 8},
}

GOLDEN = {
    "rich": "61961419c76406c91a66c0dc1a28739f76a3ecc2d1d50896ffd07955d6793de2",
    "plain": "9702bec32e8c7e25cdbab81f567c19a3ffe3f64b4106abc2472443acb860f750",
    "q16": "81e8c311ae44e702578feabd786b49349947cf2fbd72f4b20362f04edc4e286f",
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_key_layout_bytes_are_pinned(tmp_path, monkeypatch, name):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = prepare(
        **golden_atlas(),
        out_dir=tmp_path / "export",
        dataset_name="golden",
        quiet=True,
        **SETTINGS[name],
    )
    assert tree_digest(out) == GOLDEN[name]
