"""Portable element names, case-fold uniqueness, and anndata's make-unique rule."""

from __future__ import annotations

import math

import anndata
import numpy as np
import pandas as pd
import pytest

from cellucid.sinks.anndata.names import (
    gene_name_text,
    make_unique,
    require_distinct_keys,
    require_element_key,
    unique_names_note,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize(
    "key", ["a/b", "a\\b", "a:b", 'a"b', "a|b", "a?b", "a*b", "a<b", "a>b", "a\tb", "a\x00"]
)
def test_unportable_characters_refused(key):
    with pytest.raises(ValueError, match="obs column"):
        require_element_key(key, "obs column")


@pytest.mark.parametrize("key", [".", "..", ".zattrs", "zarr.json", "a.", "a ", "CON", "lpt1.x"])
def test_reserved_names_refused(key):
    with pytest.raises(ValueError, match="rename it"):
        require_element_key(key, "Embedding")


@pytest.mark.parametrize("key", ["", None, 3])
def test_non_text_names_refused(key):
    with pytest.raises(TypeError, match="var column"):
        require_element_key(key, "var column")


@pytest.mark.parametrize("key", ["cell type", "COM0", "CONSOLE", "é", ".hidden", "n_genes"])
def test_portable_names_kept(key):
    assert require_element_key(key, "obs column") == key


def test_case_folded_duplicates_refused():
    require_distinct_keys(["a", "b"], "obs column")
    with pytest.raises(ValueError, match="'Sex' and 'sex' differ only in letter case"):
        require_distinct_keys(["Sex", "sex"], "obs column")
    with pytest.raises(ValueError, match="appears twice"):
        require_distinct_keys(["x", "x"], "obs column")


def test_make_unique_matches_anndata():
    names = ["c0", "c0", "c5", "c5-1", "c5", "c0", "a", "a-1", "a", "a-2", "a"]
    mine = make_unique(names)
    theirs = anndata.utils.make_index_unique(pd.Index(names))
    assert mine.names == list(theirs)
    assert mine.names[4] == "c5-2"
    assert mine.renamed[0] == ("c0", "c0-1")


def test_make_unique_random_lists_match_anndata():
    rng = np.random.default_rng(0)
    pool = np.array(["x", "x-1", "x-2", "y", "y-1", "x-1-1"])
    for _ in range(200):
        names = list(rng.choice(pool, 12))
        assert make_unique(names).names == list(anndata.utils.make_index_unique(pd.Index(names)))


def test_unique_list_unchanged_and_no_note():
    result = make_unique(["a", "b"])
    assert result.names == ["a", "b"] and result.renamed == []
    assert unique_names_note(result) is None


def test_missing_names_filled_from_index():
    result = make_unique(["A", None, "", math.nan, "A"], index=["i0", "i1", "i2", "i3", "i4"])
    assert result.names == ["A", "i1", "i2", "i3", "A-1"]
    assert result.filled == 3
    note = unique_names_note(result, source="symbol")
    assert "3 genes have no 'symbol' value" in note and "'A' → 'A-1'" in note
    with pytest.raises(ValueError, match="position 1"):
        make_unique(["A", None], index=[0, 1])
    with pytest.raises(ValueError, match="int"):
        make_unique(["A", 5])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (True, "True"),
        (np.bool_(False), "False"),
        (7, "7"),
        (np.int64(3), "3"),
        (2.5, "2.5"),
        (None, None),
        (math.nan, None),
        (pd.NA, None),
        ("", None),
    ],
)
def test_gene_name_text(value, text):
    assert gene_name_text(value) == text


def test_gene_name_text_refuses_other_values():
    with pytest.raises(ValueError, match="list"):
        gene_name_text([1])
