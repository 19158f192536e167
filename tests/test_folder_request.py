"""The typed request from prepare() to the folder sink: every argument has one field."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from cellucid import prepare
from cellucid.checks.request import InputRequest
from cellucid.options import OPTIONS, check_values
from cellucid.sinks.anndata.request import STORE_ONLY
from cellucid.sinks.folder.request import FolderRequest


def _names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_every_folder_argument_of_prepare_is_one_field():
    parameters = [p for p in inspect.signature(prepare).parameters if p not in STORE_ONLY]
    parameters.remove("format")
    fields = [n for n in _names(FolderRequest) if n != "inputs"] + _names(InputRequest)
    assert sorted(fields) == sorted(parameters)
    assert {o.name for o in OPTIONS} <= set(_names(FolderRequest))


def test_options_are_fields_in_prepare_order():
    order = list(inspect.signature(prepare).parameters)
    options = [n for n in _names(FolderRequest) if n in {o.name for o in OPTIONS}]
    assert options == sorted(options, key=order.index)


def test_from_arguments_and_settings():
    defaults = {name: p.default for name, p in inspect.signature(prepare).parameters.items()}
    request = FolderRequest.from_arguments(
        defaults | {"X_umap_2d": "umap", "compression": 6, "source_name": "lab"}
    )
    assert request.inputs.embeddings == {1: None, 2: "umap", 3: None}
    assert request.target == Path.cwd() / "exports"
    assert request.chunk_rows == 65536
    settings = request.settings(Path("out"))
    assert (settings.compression, settings.source, settings.layout) == (6, {"name": "lab"}, "key")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.force = True  # type: ignore[misc]


def test_check_values_reads_a_request_in_prepare_order():
    defaults = {name: p.default for name, p in inspect.signature(prepare).parameters.items()}
    request = FolderRequest.from_arguments(defaults | {"compression": 10, "layout": "tree"})
    with pytest.raises(ValueError, match="^compression must be"):
        check_values(request)
