"""StoreRequest and check_request: format, out_path, zarr_format, force, MuData arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellucid.sinks.anndata.arguments import StoreRequest, StoreTarget, check_request


def request(out: object, **arguments: object) -> StoreRequest:
    return StoreRequest(out, **{"format": "zarr", **arguments})


def test_upstream_keywords_and_defaults():
    names = [
        "out_path", "format", "data", "embeddings", "dataset_id", "dataset_name", "obs", "var",
        "gene_expression", "connectivities", "vector_fields", "modalities", "gene_identifiers",
        "dataset_description", "citation_text", "citation_url", "source_name", "source_url",
        "embedding_defaults", "latent_key", "obs_keys", "var_gene_id_column",
        "vector_field_default", "normalize_embeddings", "centroid_min_points", "modality",
        "zarr_format", "force",
    ]  # fmt: skip
    given = StoreRequest("a.zarr", format="zarr")
    assert [name for name in names if not hasattr(given, name)] == []
    assert given.force is False and given.data is None
    with pytest.raises(TypeError):
        StoreRequest("a.zarr", "zarr")  # keywords only after out_path
    with pytest.raises(AttributeError):
        given.force = True  # frozen
    assert StoreRequest("a.zarr", format="zarr", latent_key="X", force=True).given() == {
        "latent_key": "X"
    }


@pytest.mark.parametrize(
    ("output_format", "name", "kind", "zipped", "zarr_format"),
    [
        ("zarr", "a.zarr", "zarr", False, 2),
        ("zarr.zip", "a.ZARR.zip", "zarr", True, 2),
        ("h5ad", "a.h5ad", "h5ad", False, None),
    ],
)
def test_targets(tmp_path, output_format, name, kind, zipped, zarr_format):
    target = check_request(request(tmp_path / "sub" / ".." / name, format=output_format))
    assert target == StoreTarget(tmp_path.resolve() / name, kind, zipped, zarr_format)


def test_zarr_format():
    assert check_request(request("a.zarr", zarr_format=3)).zarr_format == 3
    for value in (4, 2.0, True, "3"):
        with pytest.raises(ValueError, match="zarr_format must be 2 or 3"):
            check_request(request("a.zarr", zarr_format=value))
    with pytest.raises(ValueError, match='zarr_format applies to format="zarr"'):
        check_request(request("a.h5ad", format="h5ad", zarr_format=2))


@pytest.mark.parametrize(
    ("output_format", "name", "message"),
    [
        ("zarr", "a.h5ad", "ends in .h5ad: write 'a.zarr' instead"),
        ("zarr", "a", "does not end in .zarr: write 'a.zarr'"),
        ("zarr", ".zarr", "is the suffix alone: write 'data.zarr'"),
        ("h5ad", "a.zarr.zip", "ends in .zarr.zip: write 'a.h5ad'"),
        ("zarr.zip", "a.zarr", "ends in .zarr: write 'a.zarr.zip'"),
    ],
)
def test_suffix_refusals(output_format, name, message):
    with pytest.raises(ValueError, match=message.replace(".", "\\.")):
        check_request(request(name, format=output_format))


def test_format_refusals():
    with pytest.raises(TypeError, match="prepare\\(\\) needs format="):
        check_request(StoreRequest("a.zarr"))
    with pytest.raises(ValueError, match='format must be "h5ad", "zarr" or "zarr.zip"'):
        check_request(request("a.zarr", format="loom"))
    with pytest.raises(ValueError, match="MuData"):
        check_request(request("a.h5mu", format="h5mu"))
    with pytest.raises(ValueError, match="modalities"):
        check_request(request("a.zarr", modalities=["rna"]))
    with pytest.raises(TypeError, match="out_path must be"):
        check_request(request(3))
    with pytest.raises(TypeError, match="force must be exactly True or False"):
        check_request(request("a.zarr", force=1))


def test_existing_outputs(tmp_path: Path):
    store = tmp_path / "a.zarr"
    store.mkdir()
    with pytest.raises(FileExistsError, match="force=True"):
        check_request(request(store))
    with pytest.raises(ValueError, match="is no Zarr store"):
        check_request(request(store, force=True))
    (store / "zarr.json").write_text("{}")
    assert check_request(request(store, force=True)).path == store
    folder = tmp_path / "b.h5ad"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        check_request(request(folder, format="h5ad", force=True))
    link = tmp_path / "c.zarr.zip"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(ValueError, match="symbolic link"):
        check_request(request(link, format="zarr.zip", force=True))
