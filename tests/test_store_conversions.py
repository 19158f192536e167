"""build_content() against upstream cellucid 0.9.5: the same elements, and the same refusals.

Upstream runs once, in its own interpreter (tests/reference095.py finds it; the tests skip
without it), on inputs built there from the text of tests/store_conversion_inputs.py. It
records what its prepare() would write (the elements handed to its store writer, so the
order of every dict counts), writes the Zarr stores of the scenarios, and records how it
refuses each refusal case. Our StoreContent is compared with both.
"""

from __future__ import annotations

import pickle
import subprocess
import warnings
from pathlib import Path
from typing import Any

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from cellucid.sinks.anndata.arguments import StoreRequest
from cellucid.sinks.anndata.build import build_content
from cellucid.sinks.anndata.content import StoreContent

from . import store_conversion_inputs as inputs
from .reference095 import SKIP_REASON, reference_python
from .store_content_diff import content_differences

INPUTS_FILE = Path(inputs.__file__)

# Runs in upstream's interpreter: argv = inputs file, output folder, pickle path.
_UPSTREAM = r"""
import pickle, sys, warnings
from pathlib import Path
import cellucid
from cellucid.prepare_data import _prepare

warnings.simplefilter("ignore")
namespace = {"__name__": "store_conversion_inputs"}
exec(compile(Path(sys.argv[1]).read_text(), sys.argv[1], "exec"), namespace)
folder = Path(sys.argv[2])
captured = {}
write_store = _prepare.write_store

class NotRefused(Exception):
    pass

def capture(target, elements):
    captured["elements"] = {
        name: getattr(elements, name)
        for name in ("x", "obs_index", "obs", "var_index", "var", "obsm", "obsp", "uns")
    }
    if captured.get("dry"):
        raise NotRefused()
    write_store(target, elements)

_prepare.write_store = capture
results = {"scenarios": {}, "refusals": {}}
for name in namespace["SCENARIOS"]:
    captured.clear()
    out = folder / f"{name}.zarr"
    cellucid.prepare(out, format="zarr", **namespace["scenario"](name))
    results["scenarios"][name] = {"elements": captured["elements"], "store": str(out)}
for case, (name, changes, _) in namespace["REFUSALS"].items():
    captured.clear()
    captured["dry"] = True
    arguments = {**namespace["scenario"](name), **changes}
    arguments = {key: value for key, value in arguments.items() if value is not None}
    try:
        cellucid.prepare(folder / f"refused-{case}.zarr", format="zarr", **arguments)
    except NotRefused:
        results["refusals"][case] = None
    except Exception as error:
        results["refusals"][case] = (type(error).__name__, str(error))
with open(sys.argv[3], "wb") as file:
    pickle.dump(results, file)
"""


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What upstream 0.9.5 writes and refuses for every scenario and case (skips without it)."""
    python = reference_python()
    if python is None:
        pytest.skip(SKIP_REASON)
    folder = tmp_path_factory.mktemp("upstream")
    result_file = folder / "results.pickle"
    command = [python, "-I", "-c", _UPSTREAM, str(INPUTS_FILE), str(folder)]
    run = subprocess.run(
        [*command, str(result_file)], capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr[-4000:]
    with result_file.open("rb") as file:
        return pickle.load(file)


def ours(name: str, tmp_path: Path, **changes: Any) -> tuple[StoreContent, Any]:
    """Our content and X source for one scenario, with ``changes`` to its arguments."""
    arguments = {**inputs.scenario(name), **changes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_content(
            StoreRequest(tmp_path / f"{name}.zarr", format="zarr", **arguments), note=None
        )


# -- comparison -------------------------------------------------------------------------


def selected_x(source: Any) -> sparse.csc_matrix | np.ndarray:
    """X as upstream stores it, made from our source's matrix and columns (before dtype)."""
    matrix = source.matrix
    if source.sparse:
        chosen = sparse.csc_matrix(matrix)[:, source.columns]
        chosen.sum_duplicates()
        chosen.eliminate_zeros()
        return chosen
    return np.asarray(matrix)[:, source.columns]


# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(inputs.SCENARIOS))
def test_same_elements_as_upstream(upstream, name, tmp_path):
    content, _ = ours(name, tmp_path)
    assert content.x is None
    assert content_differences(content, upstream["scenarios"][name]["elements"]) == []


@pytest.mark.parametrize("name", sorted(inputs.SCENARIOS))
def test_x_source_selects_upstreams_genes(upstream, name, tmp_path):
    _, source = ours(name, tmp_path)
    theirs = upstream["scenarios"][name]["elements"]["x"]
    if theirs is None:
        assert source is None
        return
    mine = selected_x(source)
    assert source.sparse == sparse.issparse(theirs)
    assert mine.shape == theirs.shape == (source.shape[0], source.n_genes)
    if source.sparse:
        assert np.array_equal(mine.indptr, theirs.indptr)
        assert np.array_equal(mine.indices, theirs.indices)
        assert np.array_equal(mine.data.astype(theirs.dtype), theirs.data)
    else:
        assert np.array_equal(mine.astype(theirs.dtype), theirs)


def test_integer_counts_past_2_24_are_float64_upstream(upstream):
    """The fact the X scan must reproduce: one count above 2^24 in a kept gene -> float64."""
    assert upstream["scenarios"]["explicit"]["elements"]["x"].dtype == np.float64
    assert upstream["scenarios"]["rich"]["elements"]["x"].dtype == np.float32
    assert upstream["scenarios"]["recorded"]["elements"]["x"].dtype == np.float32


def test_outlier_quantiles_bit_for_bit(upstream, tmp_path):
    content, _ = ours("rich", tmp_path)
    mine = content.uns["cellucid"]["outlierQuantiles"]
    theirs = upstream["scenarios"]["rich"]["elements"]["uns"]["cellucid"]["outlierQuantiles"]
    assert list(mine["fields"]) == list(theirs["fields"])
    assert len(mine["fields"]) >= 5
    for column, values in mine["fields"].items():
        assert values.dtype == np.float32
        assert values.tobytes() == theirs["fields"][column].tobytes(), column


def test_matches_upstreams_store_read_back(upstream, tmp_path):
    """Upstream's written store, read with anndata, holds what our content holds."""
    content, _ = ours("rich", tmp_path)
    store = anndata.read_zarr(upstream["scenarios"]["rich"]["store"])
    assert list(store.obs_names) == list(content.obs_index)
    assert list(store.var_names) == list(content.var_index)
    assert list(store.obs.columns) == list(content.obs)
    for column, values in content.obs.items():
        expected = pd.Series(values).reset_index(drop=True)
        assert store.obs[column].reset_index(drop=True).equals(expected), column
    for column, values in content.var.items():
        expected = pd.Series(values).reset_index(drop=True)
        assert store.var[column].reset_index(drop=True).equals(expected), column
    assert sorted(store.obsm) == sorted(content.obsm)
    for key, values in content.obsm.items():
        assert store.obsm[key].dtype == np.float32
        assert np.array_equal(store.obsm[key], values), key
    graph = store.obsp["connectivities"]
    assert (graph != content.obsp["connectivities"]).nnz == 0
    record = store.uns["cellucid"]
    assert record["id"] == content.uns["cellucid"]["id"]
    assert store.uns["title"] == content.uns["title"]
    for column, values in content.uns["cellucid"]["outlierQuantiles"]["fields"].items():
        stored = record["outlierQuantiles"]["fields"][column]
        assert stored.tobytes() == values.tobytes(), column


@pytest.mark.parametrize("case", sorted(inputs.REFUSALS))
def test_refusals_name_the_parameter(case, tmp_path):
    name, changes, parameter = inputs.REFUSALS[case]
    with pytest.raises((TypeError, ValueError)) as raised:
        ours(name, tmp_path, **changes)
    assert parameter in str(raised.value)
    assert not (tmp_path / f"{name}.zarr").exists()


@pytest.mark.parametrize("case", sorted(inputs.REFUSALS))
def test_refused_like_upstream(upstream, case, tmp_path):
    name, changes, parameter = inputs.REFUSALS[case]
    theirs = upstream["refusals"][case]
    assert theirs is not None, f"upstream accepts {case}"
    with pytest.raises((TypeError, ValueError)) as raised:
        ours(name, tmp_path, **changes)
    # Upstream's DataMappingError is a ValueError.
    expected = {"DataMappingError": "ValueError"}.get(theirs[0], theirs[0])
    assert type(raised.value).__name__ == expected, (str(raised.value), theirs)
    assert parameter in str(raised.value), (str(raised.value), theirs)


def test_upstream_refusals_are_all_covered(upstream):
    assert set(upstream["refusals"]) == set(inputs.REFUSALS)
