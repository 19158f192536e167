"""The containers of the Cellucid-ready AnnData store, driven directly: chunk keys, skipped
fill chunks, streamed chunks in any order (Zarr) or grid order (h5ad), the zip's entries."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from cellucid.sinks.anndata.backend import ArraySpec, make_pool, ordered_map
from cellucid.sinks.anndata.containers import open_container
from cellucid.sinks.anndata.containers.zip_archive import work_folder, zip_entries

ARRAY = {"encoding-type": "array", "encoding-version": "0.2.0"}
VECTOR = np.arange(1, 26, dtype=np.int32)  # 25 values in chunks of 10: the last one short
MATRIX = np.arange(1, 31, dtype=np.float32).reshape(6, 5)  # chunks (4, 3): four, edges short
STRINGS = np.array(["a", "bb", "", "ü", "e"], dtype=object)


def declare(store) -> None:
    store.group("", {"encoding-type": "anndata", "encoding-version": "0.1.0"})
    store.group("g", {"encoding-type": "dict", "encoding-version": "0.1.0"})
    store.array(ArraySpec("g/v", (25,), np.dtype(np.int32), (10,), ARRAY))
    store.array(ArraySpec("g/m", (6, 5), np.dtype(np.float32), (4, 3), ARRAY, shuffle=False))
    store.array(ArraySpec("g/s", (5,), np.dtype(object), (2,), ARRAY))
    store.array(ArraySpec("g/zero", (25,), np.dtype(np.int64), (10,), ARRAY))
    store.array(ArraySpec("g/n", (), np.dtype(np.int64), (), ARRAY))
    store.array(ArraySpec("g/nil", (), np.dtype(np.int64), (), ARRAY))
    store.array(ArraySpec("g/t", (), np.dtype(object), (), ARRAY))
    store.array(ArraySpec("g/empty", (0,), np.dtype(np.float32), (1,), ARRAY))


def fill(store) -> None:
    store.write("g/v", VECTOR)
    store.write("g/m", MATRIX)
    store.write("g/s", STRINGS)
    store.write("g/zero", np.zeros(25, dtype=np.int64))
    store.write("g/n", np.asarray(7))
    store.write("g/nil", np.asarray(0))
    store.write("g/t", np.array("title", dtype=object))
    store.write("g/empty", np.zeros(0, dtype=np.float32))


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def assert_values(group) -> None:
    np.testing.assert_array_equal(group["g/v"][...], VECTOR)
    np.testing.assert_array_equal(group["g/m"][...], MATRIX)
    assert [text(value) for value in group["g/s"][...]] == list(STRINGS)
    np.testing.assert_array_equal(group["g/zero"][...], np.zeros(25))
    assert group["g/n"][()] == 7 and group["g/nil"][()] == 0
    assert text(group["g/t"][()]) == "title"
    assert group["g/empty"].shape == (0,)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_folder(tmp_path, zarr_format):
    path = tmp_path / "s.zarr"
    store = open_container(path, "zarr", zarr_format=zarr_format, workers=2)
    declare(store)
    fill(store)
    store.close()
    assert_values(zarr.open_group(path, mode="r"))
    files = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    chunks = {name for name in files if not name.rsplit("/", 1)[-1].startswith((".", "zarr"))}
    if zarr_format == 2:
        expected = {"g/v/0", "g/v/1", "g/v/2", "g/s/0", "g/s/1", "g/s/2", "g/n/0", "g/t/0"}
        expected |= {f"g/m/{i}.{j}" for i in (0, 1) for j in (0, 1)}
        assert ".zmetadata" in files
    else:
        expected = {"g/v/c/0", "g/v/c/1", "g/v/c/2", "g/s/c/0", "g/s/c/1", "g/s/c/2"}
        expected |= {"g/n/c", "g/t/c"} | {f"g/m/c/{i}/{j}" for i in (0, 1) for j in (0, 1)}
    # no chunk of all-zero values, a zero scalar, or an empty array
    assert chunks == expected


def test_zarr_edge_chunks_are_padded(tmp_path):
    path = tmp_path / "s.zarr"
    store = open_container(path, "zarr", zarr_format=2, workers=1)
    declare(store)
    fill(store)
    store.close()
    last = np.frombuffer(zlib.decompress((path / "g/m/1.1").read_bytes()), np.float32)
    assert last.size == 12 and last.reshape(4, 3)[2:].sum() == 0 and last[0] == MATRIX[4, 3]


def test_zarr_streams_in_any_order(tmp_path):
    path = tmp_path / "s.zarr"
    store = open_container(path, "zarr", zarr_format=3, workers=2)
    declare(store)
    chunks = [("g/v", (i,), VECTOR[i * 10 : (i + 1) * 10]) for i in (2, 0, 1)]
    assert store.write_chunks(iter(chunks), ["g/v"]) == {"g/v": 3}
    store.close()
    np.testing.assert_array_equal(zarr.open_array(path / "g/v", mode="r")[...], VECTOR)


@pytest.mark.parametrize(
    "chunks, message",
    [
        ([("g/v", (0,), VECTOR[:10])], "before every chunk"),
        ([("g/v", (0,), VECTOR[:10])] * 2, "twice"),
        ([("g/v", (3,), VECTOR[:5])], "outside"),
        ([("g/x", (0,), VECTOR[:5])], "not an array of this stream"),
        ([("g/v", (2,), VECTOR[:10])], "shape"),
    ],
)
def test_zarr_stream_errors(tmp_path, chunks, message):
    store = open_container(tmp_path / "s.zarr", "zarr", zarr_format=2, workers=1)
    declare(store)
    with pytest.raises(ValueError, match=message):
        store.write_chunks(iter(chunks), ["g/v"])
    store.abort()


def test_zarr_needs_an_empty_folder(tmp_path):
    (tmp_path / "s.zarr").mkdir()
    (tmp_path / "s.zarr" / "x").write_text("")
    with pytest.raises(FileExistsError):
        open_container(tmp_path / "s.zarr", "zarr")
    with pytest.raises(ValueError, match="container"):
        open_container(tmp_path / "s.n5", "n5")  # type: ignore[arg-type]


def test_h5ad_file(tmp_path):
    path = tmp_path / "s.h5ad"
    store = open_container(path, "h5ad", workers=2)
    declare(store)
    fill(store)
    store.close()
    with h5py.File(path, "r") as file:
        assert_values(file)
        # h5ad writes every chunk, also all-zero ones; edge chunks at full size
        assert file["g/zero"].id.get_num_chunks() == 3
        _, stored = file["g/v"].id.read_direct_chunk((20,))
        raw = np.frombuffer(zlib.decompress(stored), np.uint8).reshape(4, -1).T.copy()
        np.testing.assert_array_equal(raw.view(np.int32).ravel(), [21, 22, 23, 24, 25] + [0] * 5)
        assert file["g/m"].shuffle is False and file["g/v"].shuffle is True
        assert file["g/n"].chunks is None and file["g/empty"].chunks is None


def test_h5ad_stores_interleaved_streams_one_after_the_other(tmp_path):
    path = tmp_path / "s.h5ad"
    store = open_container(path, "h5ad", workers=2)
    declare(store)
    other = VECTOR * 3
    store.array(ArraySpec("g/w", (25,), np.dtype(np.int32), (10,), {}))
    chunks = []
    for i in range(3):  # the later array's chunks first: spooled until g/v is complete
        chunks += [("g/w", (i,), other[i * 10 : (i + 1) * 10])]
        chunks += [("g/v", (i,), VECTOR[i * 10 : (i + 1) * 10])]
    assert store.write_chunks(iter(chunks), ["g/v", "g/w"]) == {"g/v": 3, "g/w": 3}
    store.close()
    with h5py.File(path, "r") as file:
        np.testing.assert_array_equal(file["g/w"][...], other)
        offsets = [
            file[name].id.get_chunk_info(i).byte_offset for name in ("g/v", "g/w") for i in range(3)
        ]
        assert offsets == sorted(offsets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5ad"]  # the spool is gone


def test_h5ad_needs_grid_order(tmp_path):
    store = open_container(tmp_path / "s.h5ad", "h5ad", workers=1)
    declare(store)
    with pytest.raises(ValueError, match="out of grid order"):
        store.write_chunks(iter([("g/v", (1,), VECTOR[10:20])]), ["g/v"])
    store.abort()


def test_zip_archive(tmp_path):
    path = tmp_path / "s.zarr.zip"
    store = open_container(path, "zarr.zip", zarr_format=3, workers=2)
    declare(store)
    store.array(ArraySpec("g/long", (120,), np.dtype(np.int32), (10,), ARRAY))
    fill(store)
    store.write("g/long", np.arange(1, 121, dtype=np.int32))
    store.close()
    assert not work_folder(path).exists()
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    long_chunks = [name for name in names if name.startswith("g/long/c/")]
    assert long_chunks == [f"g/long/c/{i}" for i in range(12)]  # numeric, not text, order
    first_document = names.index(next(n for n in names if n.endswith("zarr.json")))
    assert all(n.endswith("zarr.json") for n in names[first_document:])
    assert names[-1] == "zarr.json" and "consolidated_metadata" in json.loads(
        zipfile.ZipFile(path).read("zarr.json")
    )
    assert {(e.date_time, e.external_attr >> 16, e.create_system) for e in entries} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644, 3)
    }
    zip_store = zarr.storage.ZipStore(path, mode="r")
    assert_values(zarr.open_group(zip_store, mode="r"))
    zip_store.close()


def test_zip_entry_order_of_a_v2_folder(tmp_path):
    folder = tmp_path / "f"
    for name in ("m/0.10", "m/0.9", "m/1.0", "a/.zarray", "m/.zarray", ".zmetadata", ".zgroup"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("")
    order = [p.relative_to(folder).as_posix() for p in zip_entries(folder)]
    assert order == ["m/0.9", "m/0.10", "m/1.0", "a/.zarray", "m/.zarray", ".zgroup", ".zmetadata"]


def test_zip_abort_removes_the_work_folder(tmp_path):
    path = tmp_path / "s.zarr.zip"
    store = open_container(path, "zarr.zip", zarr_format=2, workers=1)
    declare(store)
    assert work_folder(path).is_dir()
    store.abort()
    assert not work_folder(path).exists() and not path.exists()


def test_ordered_map_keeps_order_and_window():
    pool = make_pool(2)
    seen: list[int] = []

    def items():
        for i in range(20):
            seen.append(i)
            yield (i,)

    results = []
    for result in ordered_map(pool, lambda i: i * i, items(), window=3):
        results.append(result)
        assert len(seen) - len(results) <= 3  # never more than the window in flight
    assert results == [i * i for i in range(20)]
    pool.shutdown()


def test_paths(tmp_path: Path):
    assert work_folder(tmp_path / "a.zarr.zip") == tmp_path / "a.zarr.zip.zarr"
