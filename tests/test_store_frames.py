"""obs and var columns as the store holds them (anndata's encodings, 0.9.5's rules)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellucid.sinks.anndata.frames import (
    convert_obs,
    frame_column,
    require_frame,
    row_names,
    text_column,
)


def column(values, dtype=None):
    return frame_column(pd.Series(values, dtype=dtype), "obs column 'c'")


def test_repeated_text_becomes_categorical_in_code_point_order():
    stored = column(np.array(["b", "a", "é", "B", "a"], dtype=object))
    assert isinstance(stored, pd.Categorical)
    assert list(stored.categories) == ["B", "a", "b", "é"]
    assert stored.categories.dtype == object
    assert stored.codes.dtype == np.int8
    assert not stored.ordered


def test_unique_text_stays_strings_missing_text_is_categorical():
    unique = column(np.array(["x", "y"], dtype=object))
    assert isinstance(unique, np.ndarray) and unique.dtype == object
    missing = column(np.array(["x", None, "y", np.nan], dtype=object))
    assert isinstance(missing, pd.Categorical)
    assert list(missing.codes) == [0, -1, 1, -1]
    everything_missing = column(np.array([None, None], dtype=object))
    assert list(everything_missing.categories) == [] and list(everything_missing.codes) == [-1, -1]


def test_pandas_strings_follow_the_text_rule():
    assert isinstance(column(["a", "b"], "string"), np.ndarray)
    assert isinstance(column(["a", pd.NA], "string"), pd.Categorical)


def test_mixed_text_and_numbers_refused():
    with pytest.raises(TypeError, match="obs column 'c' mixes text with int"):
        column(np.array(["a", 1], dtype=object))
    with pytest.raises(TypeError, match="mixes text"):
        column(np.array(["a", pd.NaT], dtype=object))


def test_nullable_columns():
    with_na = column([1, None, 3], "Int64")
    assert isinstance(with_na, pd.arrays.IntegerArray)
    without = column([1, 2], "Int16")
    assert isinstance(without, np.ndarray) and without.dtype == np.int16
    flags = column([True, None], "boolean")
    assert isinstance(flags, pd.arrays.BooleanArray)
    assert column([True, False], "boolean").dtype == np.bool_
    floats = column([0.5, None], "Float32")
    assert floats.dtype == np.float32 and np.isnan(floats[1])


def test_numbers_kept_infinities_refused():
    assert column(np.array([1, 2], dtype=np.uint8)).dtype == np.uint8
    assert column(np.array([0.5, np.nan], dtype=np.float32)).dtype == np.float32
    assert column(np.array([True])).dtype == np.bool_
    with pytest.raises(
        ValueError, match=r"obs column 'c' holds 2 infinite values \(the first at row 1"
    ):
        column(np.array([0, np.inf, -np.inf]))


def test_categoricals_kept_with_unused_categories_and_order():
    values = pd.Categorical(["late", "early"], categories=["early", "mid", "late"], ordered=True)
    stored = column(values)
    assert list(stored.categories) == ["early", "mid", "late"] and stored.ordered
    numbers = column(pd.Categorical([3, 1, 3]))
    assert numbers.categories.dtype == np.int64
    with pytest.raises(TypeError, match="not all text"):
        column(pd.Categorical(["a", 1]))
    with pytest.raises(TypeError, match="datetime64"):
        column(pd.Categorical(pd.date_range("2020", periods=2)))


@pytest.mark.parametrize(
    "values",
    [pd.date_range("2020", periods=2), np.array([1j, 2j]), pd.period_range("2020", periods=2)],
)
def test_unstorable_types_refused(values):
    with pytest.raises(TypeError, match="obs column 'c'"):
        column(values)


def test_frame_rules():
    with pytest.raises(TypeError, match="obs must be a pandas DataFrame"):
        require_frame({"a": [1]}, "obs", rows=1, rows_of="the embeddings")
    with pytest.raises(ValueError, match="obs has 2 rows, and the embeddings have 3"):
        require_frame(pd.DataFrame({"a": [1, 2]}), "obs", rows=3, rows_of="the embeddings")
    with pytest.raises(ValueError, match="'_index'"):
        require_frame(pd.DataFrame({"_index": [1]}), "var", rows=1, rows_of="X")
    with pytest.raises(TypeError, match="var column names"):
        require_frame(pd.DataFrame({0: [1]}), "var", rows=1, rows_of="X")


def test_row_names():
    assert row_names(pd.DataFrame(index=pd.RangeIndex(3)), "obs") is None
    assert row_names(pd.DataFrame(index=["a", "b"]), "obs") == ["a", "b"]
    with pytest.raises(TypeError, match="row 0 is 1"):
        row_names(pd.DataFrame(index=pd.RangeIndex(1, 3)), "obs")
    with pytest.raises(TypeError, match="row 1 is ''"):
        row_names(pd.DataFrame(index=["a", ""]), "obs")


def test_convert_obs_names_cells_and_reports_renames():
    heard = []
    index, columns = convert_obs(
        pd.DataFrame({"v": [1, 2, 3]}, index=["a", "a", "b"]), 3, heard.append
    )
    assert list(index) == ["a", "a-1", "b"] and list(columns) == ["v"]
    assert heard == ["Cell names: 1 duplicate name was made unique, e.g. 'a' → 'a-1'."]
    index, columns = convert_obs(None, 2)
    assert list(index) == ["0", "1"] and columns == {}
    index, _ = convert_obs(pd.DataFrame({"v": [1, 2]}), 2)
    assert list(index) == ["0", "1"] and index.dtype == object


def test_text_column_keeps_values_array_untouched():
    values = np.array(["a", None, "a"], dtype=object)
    text_column(values, "x")
    assert values[1] is None
