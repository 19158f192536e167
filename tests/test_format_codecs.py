"""The codecs of the export format: dtype, extension and missing marker, owned once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cellucid.sinks.folder.format import manifests
from cellucid.sinks.folder.format.codecs import (
    VALUE_CODECS,
    Codes,
    Float32,
    Gzip,
    Quantize,
    value_codec,
    value_codec_of,
)
from cellucid.sinks.folder.format.quantize import Range, dequantize, quantize


@pytest.mark.parametrize(
    ("codec", "dtype", "ext"),
    [(Float32(), "float32", "f32"), (Quantize(8), "uint8", "u8"), (Quantize(16), "uint16", "u16")],
)
def test_value_codecs(codec, dtype, ext):
    assert (codec.dtype, codec.ext) == (np.dtype(dtype), ext)
    assert value_codec(codec.bits) == codec
    assert value_codec_of(dtype) == codec
    schema = manifests.var_manifest(
        n_points=1, var_gene_id_column="index", compression=None, bits=codec.bits,
        pattern="var/{key}.values." + ext, fields=[],
    )["_varSchema"]  # fmt: skip
    assert (schema["dtype"], schema["ext"], schema["quantized"]) == (
        dtype,
        ext,
        codec.bits is not None,
    )


@pytest.mark.parametrize("bits", [8, 16])
def test_quantize_owns_steps_and_marker(bits):
    codec = Quantize(bits)
    assert codec.missing == np.iinfo(codec.dtype).max
    assert codec.steps == codec.missing - 1
    codes = quantize(np.array([0.0, np.nan, 1.0]), Range(0, 1), bits)
    assert codes.dtype == codec.dtype
    assert codes.tolist() == [0, codec.missing, codec.steps]
    assert np.isnan(dequantize(codes, Range(0, 1), bits)[1])


@pytest.mark.parametrize("name", ["uint8", "uint16"])
def test_codes_codec(name):
    codec = Codes(name)
    assert codec.ext == {"uint8": "u8", "uint16": "u16"}[name]
    assert codec.missing == np.iinfo(name).max
    stored = codec.encode(np.array([1, -1, 0]))
    assert stored.dtype == codec.dtype and stored.tolist() == [1, codec.missing, 0]


def test_gzip_suffix():
    assert Gzip(6).suffix == ".gz" == Gzip.SUFFIX
    assert Gzip(None).suffix == Gzip(0).suffix == ""


def test_codecs_are_frozen_and_refuse_what_the_format_has_not():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Quantize(8).bits = 16  # type: ignore[misc]
    with pytest.raises(ValueError, match="8 or 16"):
        Quantize(12)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        Codes("int32")
    assert value_codec_of("int32") is None
    assert [c.bits for c in VALUE_CODECS] == [None, 8, 16]
