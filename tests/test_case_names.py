"""Keys that differ only by case: refused in the key layout, accepted in the index layout.

In the key layout a file is named from its key, so ``CD4`` and ``Cd4`` would overwrite
each other on case-insensitive disks (macOS and Windows defaults, zip tools).
"""

from __future__ import annotations

import pytest

from cellucid import prepare, validate_export
from cellucid.demo import make_demo_arrays


def arguments(out, *, genes=None, obs_rename=None, vectors=None) -> dict:
    a = make_demo_arrays(n_cells=300, n_genes=12, seed=1)
    var = a["var"]
    if genes is not None:
        var = var.copy()
        var.index = list(genes) + [f"g{i}" for i in range(len(var) - len(genes))]
    obs = a["obs"]
    if obs_rename is not None:
        obs = obs.copy()
        obs[obs_rename[1]] = obs[obs_rename[0]].to_numpy()[::-1].copy()
    return {
        "latent_space": a["X_pca"],
        "obs": obs,
        "var": var,
        "gene_expression": a["X"],
        "X_umap_2d": a["X_umap_2d"],
        "vector_fields": vectors(a) if vectors else None,
        "out_dir": out,
        "quiet": True,
    }


def _numeric_column() -> str:
    obs = make_demo_arrays(n_cells=300, n_genes=12, seed=1)["obs"]
    return next(c for c in obs.columns if obs[c].dtype.kind == "f")


CASES = {
    "genes": ({"genes": ["CD4", "Cd4"]}, r"Gene ids 'CD4' and 'Cd4' differ only by case"),
    # a copy of a numeric column under the same name with every letter's case swapped
    "obs": (
        {"obs_rename": (_numeric_column(), _numeric_column().swapcase())},
        rf"obs keys '{_numeric_column()}' and '{_numeric_column().swapcase()}' differ only by case",
    ),
    "vectors": (
        {
            "vectors": lambda a: {
                "velocity_umap_2d": a["velocity_umap_2d"],
                "Velocity_umap_2d": -a["velocity_umap_2d"],
            }
        },
        r"Vector field ids 'Velocity_umap' and 'velocity_umap' differ only by case",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_case_only_differences_are_refused_in_key_layout_and_accepted_in_index(tmp_path, case):
    options, pattern = CASES[case]
    out = tmp_path / "key" / "export"
    with pytest.raises(ValueError, match=pattern) as caught:
        prepare(**arguments(out, **options))
    message = str(caught.value)
    assert "layout='index'" in message and "--layout index" in message
    assert not out.exists() and not out.parent.exists()  # nothing written
    done = prepare(**arguments(tmp_path / "index" / "export", **options), layout="index")
    assert validate_export(done).ok


def test_validate_warns_about_an_older_key_export_with_case_only_differences(tmp_path):
    """An export written before the refusal (here: tampered into that shape) gets a warning."""
    import json

    out = prepare(**arguments(tmp_path / "export", genes=["CD4", "CD8"]))
    manifest = json.loads((out / "var_manifest.json").read_text())
    assert manifest["fields"][1][0] == "CD8"
    manifest["fields"][1][0] = "Cd4"
    (out / "var_manifest.json").write_text(json.dumps(manifest))
    for path in (out / "var").glob("CD8.*"):
        path.rename(path.with_name(path.name.replace("CD8", "Cd4")))
    report = validate_export(out)
    assert report.ok, report.format()
    assert any("'CD4' and 'Cd4' differ only by case" in w for w in report.warnings)
