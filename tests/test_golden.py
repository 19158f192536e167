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
    "rich": "f503dcdfb2502dea910f08867cf96d5580d1296d90572e3c037921ccdaaf3e44",
    "plain": "9702bec32e8c7e25cdbab81f567c19a3ffe3f64b4106abc2472443acb860f750",
    "q16": "10287ccb861ca8335f2cd912bb1b771d09dddf3cca95aed723698b76885b3f25",
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
