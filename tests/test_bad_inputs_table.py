"""Each class of bad input, its exception and message; docs/validation.md lists exactly these.

Every case runs prepare() for real and checks that nothing was written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare

N = 40
DOCS = Path(__file__).parents[1] / "docs" / "validation.md"


def _points(value: float, row: int = 5) -> np.ndarray:
    points = np.random.default_rng(0).normal(size=(N, 2))
    points[row, 0] = value
    return points


def _latent_nan() -> np.ndarray:
    latent = np.ones((N, 3))
    latent[7, 2] = np.nan
    return latent


def _vectors_nan() -> dict[str, np.ndarray]:
    vectors = np.zeros((N, 2))
    vectors[3, 1] = np.nan
    return {"velocity_2d": vectors}


def _mixed_keys() -> pd.DataFrame:
    return pd.DataFrame({0: np.arange(N, dtype=float), "0": np.ones(N)})


# (description, arguments to change, exception, fragment of the message)
CASES = [
    ("complex embedding", {"X_umap_2d": np.ones((N, 2), complex)}, TypeError,
     "X_umap_2d must hold real numbers, got dtype complex128"),
    ("complex expression matrix", {"gene_expression": np.ones((N, 6), complex)}, TypeError,
     "gene_expression must hold real numbers"),
    ("embedding value beyond ±1e38", {"X_umap_2d": _points(1e308)}, ValueError,
     "X_umap_2d holds values beyond ±1e+38 (first at row 5)"),
    ("NaN or Inf in an embedding", {"X_umap_2d": _points(np.inf)}, ValueError,
     "X_umap_2d holds NaN or Inf values (first at row 5)"),
    ("NaN or Inf in the latent space", {"latent_space": _latent_nan()}, ValueError,
     "latent_space holds NaN or Inf values (first at row 7)"),
    ("NaN or Inf in a vector field", {"vector_fields": _vectors_nan()}, ValueError,
     "vector_fields['velocity_2d'] holds NaN or Inf values (first at row 3)"),
    ("0 cells", {"X_umap_2d": np.zeros((0, 2)), "latent_space": np.zeros((0, 3)),
                 "obs": None, "gene_expression": None, "connectivities": None}, ValueError,
     "The embeddings have 0 cells"),
    ("obs columns equal as text (0 and '0')", {"obs": _mixed_keys()}, ValueError,
     "obs columns holds 0 and '0', which are the same name as text"),
    ("a string for gene_identifiers", {"gene_identifiers": "g1"}, TypeError,
     "gene_identifiers must be a list of names, got the string 'g1'"),
    ("a string for obs_keys", {"obs_keys": "kind"}, TypeError,
     "obs_keys must be a list of names, got the string 'kind'"),
    ("file name too long for the file system", {"obs": pd.DataFrame({"k" * 300: np.ones(N)})},
     ValueError, "bytes long; the file system of"),
    ("folder name with a path in it", {"obs_binary_dirname": "../elsewhere"}, ValueError,
     "obs_binary_dirname must be a single file or folder name without '/'"),
    ("hidden folder name", {"var_binary_dirname": ".var"}, ValueError,
     "var_binary_dirname must not be '.', '..' or a hidden name"),
    ("empty manifest name", {"obs_manifest_filename": ""}, ValueError,
     "obs_manifest_filename must be a non-empty string"),
    ("two names the same", {"obs_binary_dirname": "var"}, ValueError,
     "obs_binary_dirname and var_binary_dirname are both 'var'"),
    ("a name the export uses itself", {"var_manifest_filename": "dataset_identity.json"},
     ValueError, "var_manifest_filename='dataset_identity.json' is a name the export uses"),
    ("out_dir is an existing file", {"out_dir": "FILE"}, ValueError,
     "is an existing file, not a folder"),
]  # fmt: skip


@pytest.fixture
def base(tmp_path):
    rng = np.random.default_rng(0)
    return {
        "latent_space": rng.normal(size=(N, 3)),
        "obs": pd.DataFrame({"kind": rng.choice(["a", "b"], N), "x": rng.random(N)}),
        "var": pd.DataFrame(index=[f"g{i}" for i in range(6)]),
        "gene_expression": sp.random(N, 6, density=0.3, format="csr", random_state=0),
        "connectivities": sp.random(N, N, density=0.1, format="csr", random_state=1),
        "X_umap_2d": rng.normal(size=(N, 2)),
        "out_dir": tmp_path / "export",
        "quiet": True,
    }


@pytest.mark.parametrize("description, change, kind, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_writing(base, tmp_path, description, change, kind, fragment):
    arguments = base | change
    if change.get("out_dir") == "FILE":
        arguments["out_dir"] = tmp_path / "a-file"
        arguments["out_dir"].write_text("mine")
    with pytest.raises(kind) as caught:
        prepare(**arguments)
    assert fragment in str(caught.value)
    assert not base["out_dir"].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["a-file"])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_rows() -> list[str]:
    """The table rows docs/validation.md must hold, in this order."""
    return [
        f"| {_cell(description)} | `{kind.__name__}` | {_cell(fragment)} |"
        for description, _, kind, fragment in CASES
    ]


def test_docs_table_lists_exactly_these_cases():
    text = DOCS.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| (?!---|bad input)", line)]
    assert rows == markdown_rows()
