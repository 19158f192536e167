"""Numbers that do not fit the export (#21 item 4), with real prepare() calls.

Finite obs or gene values beyond the float32 range are refused with the count and the
fix (an obs range whose width overflows float64 is such a case); at 8 or 16 bits a gene
whose range a few far values set, so that its other values decode to one value, gets a
warning with the count and the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare

N = 600


def _arguments(tmp_path, **change):
    rng = np.random.default_rng(3)
    arguments = {
        "X_umap_2d": rng.normal(size=(N, 2)),
        "latent_space": rng.normal(size=(N, 3)),
        "obs": pd.DataFrame({"score": rng.normal(size=N)}),
        "out_dir": tmp_path / "export",
        "compression": None,
        "quiet": True,
    }
    return arguments | change


def _obs_with(values):
    obs = pd.DataFrame({"score": np.zeros(N), "big": np.linspace(0, 1, N)})
    obs.loc[: len(values) - 1, "big"] = values
    return obs


@pytest.mark.parametrize("bits", [None, 8])
def test_obs_beyond_float32_is_refused_before_writing(tmp_path, bits):
    arguments = _arguments(
        tmp_path, obs=_obs_with([0.5, 1e39, -2e39]), obs_continuous_quantization=bits
    )
    with pytest.raises(ValueError, match="obs column 'big' holds 2 finite values beyond") as info:
        prepare(**arguments)
    assert "first at row 1" in str(info.value) and "clip them" in str(info.value)
    assert not arguments["out_dir"].exists()


def test_obs_range_wider_than_float64_is_refused(tmp_path):
    # the width 2e308 overflows float64: quantized, every cell would decode as missing
    arguments = _arguments(tmp_path, obs=_obs_with([-1e308, 1e308]), obs_continuous_quantization=8)
    with pytest.raises(ValueError, match="obs column 'big' holds 2 finite values beyond"):
        prepare(**arguments)
    assert not arguments["out_dir"].exists()


def _genes(sparse, big=1e39):
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 9.0, (N, 5)) * (rng.random((N, 5)) < 0.5)
    x[7, 3] = big
    x[9, 1] = -big
    return sp.csr_matrix(x) if sparse else x


@pytest.mark.parametrize("bits", [None, 8, 16])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_genes_beyond_float32_are_refused(tmp_path, bits, sparse):
    arguments = _arguments(
        tmp_path,
        gene_expression=_genes(sparse),
        var=pd.DataFrame(index=[f"g{i}" for i in range(5)]),
        var_quantization=bits,
    )
    with pytest.raises(ValueError, match="2 genes hold finite values beyond the float32") as info:
        prepare(**arguments)
    assert "first gene 'g1'" in str(info.value) and "clip them" in str(info.value)
    assert not any((arguments["out_dir"] / "var").glob("g*"))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_an_outlier_that_flattens_a_gene_is_warned(tmp_path, capsys, sparse):
    x = _genes(sparse=False, big=1e6)
    x[9, 1] = 4.0
    x = sp.csr_matrix(x) if sparse else x
    var = pd.DataFrame(index=[f"g{i}" for i in range(5)])
    out = prepare(
        **_arguments(tmp_path, gene_expression=x, var=var, var_quantization=8, quiet=False)
    )
    text = capsys.readouterr().out
    assert "⚠ 1 gene loses its detail at 8 bits: 99% or more of the non-zero" in text, text
    assert "'g3': 0 to 1e+06" in text and "var_quantization=None" in text
    # the gene is exported all the same, and float32 genes get no warning
    codes = np.fromfile(out / "var" / "g3.values.u8", dtype=np.uint8)
    dense = x.toarray() if sparse else x
    assert len(np.unique(codes[(dense[:, 3] > 0) & (dense[:, 3] < 100)])) == 1
    prepare(
        **_arguments(
            tmp_path,
            gene_expression=x,
            var=var,
            var_quantization=None,
            quiet=False,
            out_dir=tmp_path / "floats",
        )
    )
    assert "detail at" not in capsys.readouterr().out
