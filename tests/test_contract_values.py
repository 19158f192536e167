"""Export a rich fixture, decode every file and compare with the inputs (format contract)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellucid import prepare
from cellucid.verify import assert_valid_export

from .decode import dequantize, read_array, read_json

N = 400


def safe(key: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")
    return out or "field"


@pytest.fixture(scope="module")
def atlas():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, N)
    obs = pd.DataFrame(
        {
            "cell type": pd.Categorical(
                np.array(["a", "b", "c", "d"])[labels], categories=["d", "c", "b", "a", "unused"]
            ),
            "is_good": rng.random(N) > 0.5,
            "donor": np.where(rng.random(N) > 0.9, None, rng.choice(["x", "y", "z"], N)),
            "score": rng.normal(5, 2, N),
            "constant": np.full(N, 3.5),
            "count": rng.integers(0, 100, N),
            "many": pd.Categorical([f"k{i % 300:03d}" for i in range(N)]),
        }
    )
    obs.loc[3, "score"] = np.nan
    obs.loc[4, "score"] = np.inf
    obs.loc[5, "score"] = -np.inf
    obs.loc[6, "cell type"] = np.nan
    dense = rng.random((N, 30)) * (rng.random((N, 30)) < 0.2) * 10
    dense[:, 1] = 2.0  # constant gene
    dense[:, 2] = 0.0  # empty gene
    dense[10, 3] = np.nan
    dense[11, 4] = np.inf
    dense[:, 5] = -dense[:, 5]  # negative values
    var = pd.DataFrame({"symbol": [f"S{i}" for i in range(30)]}, index=[f"g{i}" for i in range(30)])
    graph = sp.random(N, N, density=0.02, random_state=3, format="csr")
    graph.setdiag(0.5)
    centers = rng.normal(0, 5, (4, 3))
    umap3 = centers[labels] + rng.normal(0, 1, (N, 3))
    return {
        "obs": obs,
        "var": var,
        "X": dense.astype(np.float32),
        "latent": (centers[labels] @ rng.normal(0, 1, (3, 5)) + rng.normal(0, 1, (N, 5))),
        "graph": graph,
        "umap1": rng.normal(0, 3, (N, 1)) + 10,
        "umap2": umap3[:, :2] * np.array([1.0, 0.2]) + 100,
        "umap3": umap3.astype(np.float32),
        "velocity2": rng.normal(0, 1, (N, 2)).astype(np.float32),
        "drift3": rng.normal(0, 1, (N, 3)).astype(np.float32),
    }


def export(atlas, out, **options):
    velocity = atlas["velocity2"].copy()
    result = prepare(
        latent_space=atlas["latent"],
        obs=atlas["obs"],
        var=atlas["var"],
        gene_expression=sp.csr_matrix(atlas["X"]),
        connectivities=atlas["graph"],
        out_dir=out,
        X_umap_1d=atlas["umap1"],
        X_umap_2d=atlas["umap2"],
        X_umap_3d=atlas["umap3"],
        vector_fields={"velocity_umap_2d": velocity, "drift": atlas["drift3"]},
        quiet=True,
        **options,
    )
    np.testing.assert_array_equal(velocity, atlas["velocity2"])  # caller's array untouched
    return result


def normalized(points: np.ndarray) -> tuple[np.ndarray, float]:
    lo, hi = points.min(0).astype(np.float64), points.max(0).astype(np.float64)
    span = (hi - lo).max()
    span = span if span >= 1e-8 else 1.0
    return (points - (lo + hi) / 2) * (2 / span), 2 / span


SETTINGS = [
    {},
    {"compression": 6, "var_quantization": 8, "obs_continuous_quantization": 8},
    {"compression": 1, "var_quantization": 16, "obs_continuous_quantization": 16},
]


@pytest.fixture(scope="module", params=range(len(SETTINGS)), ids=["f32", "q8-gz6", "q16-gz1"])
def exported(request, atlas, tmp_path_factory):
    options = SETTINGS[request.param]
    out = export(atlas, tmp_path_factory.mktemp("x") / "export", **options)
    assert_valid_export(out)
    return out, options


def path_of(out, pattern: str, key: str, ext: str = "") -> object:
    return out / pattern.replace("{key}", safe(key)).replace("{ext}", ext)


def test_points(exported, atlas):
    out, options = exported
    gz = ".gz" if options.get("compression") else ""
    for d, key in ((1, "umap1"), (2, "umap2"), (3, "umap3")):
        points = read_array(out / f"points_{d}d.bin{gz}", "float32", d)
        expected, _ = normalized(atlas[key].astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(points, expected, atol=2e-6)
        assert np.abs(points).max() == pytest.approx(1.0, abs=1e-6)


def check_continuous(decoded_or_codes, source, entry, bits):
    finite = np.where(np.isfinite(source), source, np.nan).astype(np.float32).astype(np.float64)
    if bits is None:
        np.testing.assert_array_equal(decoded_or_codes, finite.astype(np.float32))
        return
    lo, hi = entry[1], entry[2]
    valid = finite[np.isfinite(finite)]
    if len(valid) == 0:
        assert (lo, hi) == (0, 1)
    elif valid.min() == valid.max():
        assert (lo, hi) == (valid.min(), valid.min() + 1)
    else:
        assert (lo, hi) == pytest.approx((valid.min(), valid.max()))
    decoded = dequantize(decoded_or_codes, lo, hi, bits)
    np.testing.assert_array_equal(np.isnan(decoded), np.isnan(finite))
    step = (hi - lo) / (254 if bits == 8 else 65534)
    if np.isfinite(finite).any():
        assert np.nanmax(np.abs(decoded - finite)) <= step / 2 + 1e-9 * abs(hi)


def test_obs_fields(exported, atlas):
    out, options = exported
    bits = options.get("obs_continuous_quantization")
    manifest = read_json(out / "obs_manifest.json")
    assert list(manifest) == [
        "_format",
        "n_points",
        "centroid_outlier_quantile",
        "latent_key",
        "compression",
        "_obsSchemas",
        "_continuousFields",
        "_categoricalFields",
    ]
    assert manifest["_format"] == "compact_v1" and manifest["n_points"] == N
    assert manifest["compression"] == options.get("compression")
    schema = manifest["_obsSchemas"]["continuous"]
    ext = {None: "f32", 8: "u8", 16: "u16"}[bits]
    dtype = {None: "float32", 8: "uint8", 16: "uint16"}[bits]
    assert schema["ext"] == ext and schema["dtype"] == dtype and schema["quantized"] == bool(bits)
    obs = atlas["obs"]
    continuous = {e[0]: e for e in manifest["_continuousFields"]}
    assert list(continuous) == ["score", "constant", "count"]
    for key, entry in continuous.items():
        values = read_array(path_of(out, schema["pathPattern"], key), dtype)
        check_continuous(values, obs[key].to_numpy(dtype=np.float64), entry, bits)
    categorical = {e[0]: e for e in manifest["_categoricalFields"]}
    assert list(categorical) == ["cell type", "is_good", "donor", "many"]
    expected_categories = {
        "cell type": ["d", "c", "b", "a", "unused"],
        "is_good": ["False", "True"],
        "donor": ["x", "y", "z"],
        "many": [f"k{i:03d}" for i in range(300)],
    }
    cat_schema = manifest["_obsSchemas"]["categorical"]
    for key, entry in categorical.items():
        assert entry[1] == expected_categories[key]
        assert entry[2] == ("uint16" if key == "many" else "uint8")
        assert entry[3] == (65535 if key == "many" else 255)
        code_ext = "u16" if key == "many" else "u8"
        codes = read_array(path_of(out, cat_schema["codesPathPattern"], key, code_ext), entry[2])
        series = obs[key].astype("category")
        expected = series.cat.codes.to_numpy().astype(np.int64)
        expected[expected < 0] = entry[3]
        np.testing.assert_array_equal(codes, expected)
        assert len(entry) == (7 if bits else 5)


def reference_outliers(latent, codes, n_categories, min_points):
    result = np.full(len(codes), np.nan)
    for c in range(n_categories):
        members = np.flatnonzero(codes == c)
        if len(members) < min_points or len(members) == 0:
            continue
        values = latent[members].astype(np.float32).astype(np.float64)
        dist = np.linalg.norm(values - values.mean(0), axis=1)
        result[members] = [(dist <= d).sum() / len(members) for d in dist]
    return result


def reference_centroids(points, codes, categories, min_points, quantile):
    entries = []
    for c, name in enumerate(categories):
        members = points[codes == c].astype(np.float64)
        if len(members) < min_points or len(members) == 0:
            continue
        center = members.mean(0)
        used = len(members)
        if len(members) > min_points:
            dist = np.linalg.norm(members - center, axis=1)
            inliers = members[dist <= np.quantile(dist, quantile)]
            if len(inliers) >= min_points:
                center, used = inliers.mean(0), len(inliers)
        entries.append((name, center, used))
    return entries


def test_centroids_and_outliers(exported, atlas):
    out, options = exported
    bits = options.get("obs_continuous_quantization")
    manifest = read_json(out / "obs_manifest.json")
    schema = manifest["_obsSchemas"]["categorical"]
    gz = ".gz" if options.get("compression") else ""
    for entry in manifest["_categoricalFields"]:
        key, categories = entry[0], entry[1]
        codes = atlas["obs"][key].astype("category").cat.codes.to_numpy()
        for d in (1, 2, 3):
            points = read_array(out / f"points_{d}d.bin{gz}", "float32", d)
            expected = reference_centroids(points, codes, categories, 10, 0.95)
            got = entry[4][str(d)]
            assert [g["category"] for g in got] == [e[0] for e in expected]
            for g, (_, center, used) in zip(got, expected, strict=True):
                assert g["n_points"] == used
                np.testing.assert_allclose(g["position"], center, atol=1e-6)
        expected = reference_outliers(atlas["latent"], codes, len(categories), 10)
        dtype = {None: "float32", 8: "uint8", 16: "uint16"}[bits]
        stored = read_array(path_of(out, schema["outlierPathPattern"], key), dtype)
        if bits is None:
            np.testing.assert_allclose(stored, expected, atol=1e-6)
        else:
            check_continuous(stored, expected, [key, entry[5], entry[6]], bits)
    assert manifest["_categoricalFields"][3][4]["2"] == []  # 300 categories of 1-2 cells


def test_genes(exported, atlas):
    out, options = exported
    bits = options.get("var_quantization")
    manifest = read_json(out / "var_manifest.json")
    assert list(manifest) == [
        "_format",
        "n_points",
        "var_gene_id_column",
        "compression",
        "quantization",
        "_varSchema",
        "fields",
    ]
    schema = manifest["_varSchema"]
    assert list(schema)[:5] == ["kind", "pathPattern", "ext", "dtype", "quantized"]
    assert [f[0] for f in manifest["fields"]] == [f"g{i}" for i in range(30)]
    for i, entry in enumerate(manifest["fields"]):
        stored = read_array(path_of(out, schema["pathPattern"], entry[0]), schema["dtype"])
        check_continuous(stored, atlas["X"][:, i].astype(np.float64), entry, bits)


def test_connectivity(exported, atlas):
    out, options = exported
    manifest = read_json(out / "connectivity_manifest.json")
    assert list(manifest) == [
        "format",
        "n_cells",
        "n_edges",
        "max_neighbors",
        "index_bytes",
        "index_dtype",
        "sourcesPath",
        "destinationsPath",
        "weightsPath",
        "weight_dtype",
        "weight_bytes",
        "compression",
    ]
    assert (manifest["weight_dtype"], manifest["weight_bytes"]) == ("float64", 8)
    src = read_array(out / manifest["sourcesPath"], "uint16")
    dst = read_array(out / manifest["destinationsPath"], "uint16")
    weights = read_array(out / manifest["weightsPath"], "float64")
    graph = atlas["graph"].toarray()
    sym = graph + graph.T
    rows, cols = np.nonzero(np.triu(sym, k=1))
    expected = list(zip(rows.tolist(), cols.tolist(), strict=True))
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == expected
    # the weight of {i, j} is max(C[i, j], C[j, i])
    assert np.array_equal(weights, np.maximum(graph, graph.T)[rows, cols])
    assert manifest["n_edges"] == len(expected)
    degree = np.bincount(src, minlength=N) + np.bincount(dst, minlength=N)
    assert manifest["max_neighbors"] == degree.max()
    assert manifest["index_dtype"] == "uint16" and manifest["index_bytes"] == 2


def test_vector_fields_and_identity(exported, atlas, monkeypatch):
    out, options = exported
    gz = ".gz" if options.get("compression") else ""
    identity = read_json(out / "dataset_identity.json")
    assert list(identity) == [
        "version",
        "id",
        "name",
        "description",
        "created_at",
        "cellucid_data_version",
        "stats",
        "embeddings",
        "obs_fields",
        "export_settings",
        "vector_fields",
    ]
    assert identity["name"] == "export" and identity["id"] == "export"
    assert identity["stats"] == {
        "n_cells": N,
        "n_genes": 30,
        "n_obs_fields": 7,
        "n_categorical_fields": 4,
        "n_continuous_fields": 3,
        "has_connectivity": True,
        "n_edges": read_json(out / "connectivity_manifest.json")["n_edges"],
    }
    assert identity["embeddings"]["available_dimensions"] == [1, 2, 3]
    assert identity["embeddings"]["default_dimension"] == 3
    fields = identity["vector_fields"]["fields"]
    assert identity["vector_fields"]["default_field"] == "velocity_umap"
    assert fields["velocity_umap"]["label"] == "Velocity (UMAP)"
    assert fields["velocity_umap"]["basis"] == "umap"
    # every field has a basis: the BSD viewers refuse a field without one
    assert fields["drift"] == {
        "label": "Drift",
        "basis": "umap",
        "available_dimensions": [3],
        "default_dimension": 3,
        "files": {"3d": f"vectors/drift_3d.bin{gz}"},
    }
    for name, d, key, points in (
        ("velocity_umap", 2, "velocity2", "umap2"),
        ("drift", 3, "drift3", "umap3"),
    ):
        stored = read_array(out / fields[name]["files"][f"{d}d"], "float32", d)
        _, scale = normalized(atlas[points].astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(stored, atlas[key] * scale, rtol=1e-6)
