"""Names and markers of the export format are spelled once (sinks/folder/format/)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from cellucid.sinks.folder.format.codes import MISSING_MARKER, encode_codes
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.format.quantize import Range, missing_marker, quantize

PACKAGE = Path(__file__).parents[1] / "src" / "cellucid"


def literal_places(text: str) -> list[str]:
    """Where a string constant of the package (docstrings aside) contains ``text``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and text in node.value
            and id(node) not in docstrings
        ]
    return found


def test_the_identity_file_name_is_spelled_once():
    assert IDENTITY_NAME == "dataset_identity.json"
    assert literal_places(IDENTITY_NAME) == ["sinks/folder/format/naming.py:12"]


@pytest.mark.parametrize("bits", [8, 16])
def test_quantized_values_and_category_codes_share_the_missing_marker(bits):
    dtype = f"uint{bits}"
    marker = MISSING_MARKER[dtype]
    assert marker == np.iinfo(dtype).max == missing_marker(bits)
    codes = encode_codes(np.array([0, -1, 2]), dtype)
    assert codes.dtype == dtype and codes.tolist() == [0, marker, 2]
    values = quantize(np.array([0.0, np.nan, np.inf, 1.0], dtype=np.float32), Range(0, 1), bits)
    assert values.tolist() == [0, marker, marker, (1 << bits) - 2]
