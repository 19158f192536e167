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
    "rich": "282529af44a494835c0d3bda8c99dc711ce608d39889f4427adb59630bff7023",
    "plain": "0917ddf8de263941f2ab19978fa90f2116bf15c7f21c0d7b123cd6b8f557be27",
    "q16": "8a84fe7282929ad2c87efa178030a9c3041af451a80e856742b9ed7c6bbabe09",
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
