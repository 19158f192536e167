"""The exported genes: var index, var_gene_id_column, gene_identifiers, X's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellucid.sinks.anndata.genes import resolve_genes


def var_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": np.array(["A", None, "C", "A", "E"], dtype=object),
            "kind": pd.Categorical(["x", "y", "x", "x", "z"]),
        },
        index=["g0", "g1", "g0", "g3", "g4"],
    )


def test_every_gene_by_default():
    heard = []
    genes = resolve_genes(var_frame(), 5, None, None, heard.append)
    assert list(genes.index) == ["g0", "g1", "g0-1", "g3", "g4"]
    assert genes.positions.dtype == np.int64 and list(genes.positions) == [0, 1, 2, 3, 4]
    assert list(genes.columns) == ["symbol", "kind"]
    assert heard == ["Gene names: 1 duplicate name was made unique, e.g. 'g0' → 'g0-1'."]


def test_identifiers_match_the_column_filled_from_the_index_and_made_unique():
    heard = []
    genes = resolve_genes(var_frame(), 5, "symbol", ["A-1", "g1", "E"], heard.append)
    assert list(genes.positions) == [3, 1, 4]
    assert list(genes.index) == ["g3", "g1", "g4"]
    # The column is stored as given (its own missing value included), for the kept genes.
    symbol = genes.columns["symbol"]
    assert isinstance(symbol, pd.Categorical) and list(symbol.codes) == [0, -1, 1]
    # A categorical keeps its categories after the selection.
    assert list(genes.columns["kind"].categories) == ["x", "y", "z"]
    assert heard[-1].startswith("Gene names from var column 'symbol': 1 gene has no 'symbol'")


def test_identifiers_match_the_unique_index_without_a_column():
    genes = resolve_genes(var_frame(), 5, None, ["g0-1", "g0"], None)
    assert list(genes.positions) == [2, 0]


def test_default_index_takes_names_from_the_column():
    frame = pd.DataFrame({"symbol": ["A", "B", "A"], "id": [7, 8, 9]})
    genes = resolve_genes(frame, 3, "symbol", None, None)
    assert list(genes.index) == ["A", "B", "A-1"]
    numbers = resolve_genes(frame, 3, "id", None, None)
    assert list(numbers.index) == ["7", "8", "9"]


@pytest.mark.parametrize(
    ("var", "column", "identifiers", "message"),
    [
        (None, None, None, "The genes have no names"),
        (pd.DataFrame({"s": ["a"] * 3}), None, None, "var_gene_id_column naming"),
        (
            pd.DataFrame({"s": [1.0, 2.0, 3.0]}),
            "s",
            None,
            "var_gene_id_column: var\\['s'\\] holds floats",
        ),
        (pd.DataFrame({"s": [True] * 3}), "s", None, "true/false"),
        (pd.DataFrame({"s": ["a", None, "c"]}), "s", None, "var_gene_id_column: var\\['s'\\]"),
        (pd.DataFrame({"s": ["a"] * 3}), "t", None, "var_gene_id_column names var\\['t'\\]"),
        (pd.DataFrame(index=["a", "b", "c"]), None, ["a", "x"], "gene_identifiers names genes"),
        (
            pd.DataFrame(index=["a", "b", "c"]),
            None,
            ["a", "a"],
            "gene_identifiers names a gene more",
        ),
        (pd.DataFrame(index=["a", "b", "c"]), None, [""], "gene_identifiers must hold"),
        (pd.DataFrame(index=["a", "b", "c"]), None, "a", "gene_identifiers must be a sequence"),
        (pd.DataFrame(index=["a", "b"]), None, None, "var has 2 rows"),
    ],
)
def test_refusals_name_the_argument(var, column, identifiers, message):
    with pytest.raises((TypeError, ValueError), match=message):
        resolve_genes(var, 3, column, identifiers, None)


def test_identifier_list_names_first_five_absent():
    frame = pd.DataFrame(index=["a"])
    with pytest.raises(ValueError, match="and 2 more"):
        resolve_genes(frame, 1, None, [f"x{i}" for i in range(7)], None)
