"""The options table: one definition feeding prepare(), the CLI, the record and the docs."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cellucid import prepare, prepare_anndata
from cellucid.cli import build_parser
from cellucid.options import OPTIONS, check_values, markdown_table


def test_docs_options_table_is_generated_from_the_table():
    page = Path(__file__).parents[1] / "docs" / "options.md"
    assert markdown_table() in page.read_text(encoding="utf-8")


def test_every_option_is_a_prepare_parameter_with_the_table_default():
    parameters = inspect.signature(prepare).parameters
    for option in OPTIONS:
        assert parameters[option.name].default == option.default, option.name
        assert option.name in prepare.__doc__


def test_every_option_has_a_cli_flag_with_the_front_door_default():
    args = build_parser().parse_args(["prepare", "in.h5ad", "out"])
    for option in OPTIONS:
        expected = None if option.cli == "no-switch" else option.our_default
        assert getattr(args, option.name) == expected, option.name
    assert args.compression == 6 and args.var_quantization == 8
    args = build_parser().parse_args(
        ["prepare", "in.h5ad", "out", "--layout", "index", "--compression", "0", "-q"]
    )
    assert (args.layout, args.compression, args.quiet) == ("index", None, True)


def test_front_doors_share_the_defaults(tmp_path):
    from cellucid import make_demo_anndata

    out = prepare_anndata(make_demo_anndata(n_cells=300, n_genes=12), tmp_path / "x", quiet=True)
    import json

    settings = json.loads((out / "dataset_identity.json").read_text())["export_settings"]
    assert settings["compression"] == 6 and settings["var_quantization"] == 8


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("compression", 10, "compression must be None or a gzip level from 0 to 9, got 10"),
        ("var_quantization", 12, "var_quantization must be None, 8 or 16, got 12"),
        ("layout", "tree", "layout must be one of"),
        ("centroid_outlier_quantile", 1.0, "strictly between 0 and 1"),
        ("chunk_size", 0, "chunk_size must be a positive integer"),
    ],
)
def test_bad_option_values_are_named(name, value, message):
    with pytest.raises(ValueError, match=message):
        check_values({name: value})


def test_settings_hold_exactly_the_options_that_shape_bytes():
    import dataclasses

    from cellucid.sinks.folder.plan import Settings

    table = {o.name for o in OPTIONS if o.shapes_bytes and not o.name.startswith("source_")}
    fields = {f.name for f in dataclasses.fields(Settings)} - {"out_dir", "source"}
    assert fields == table
