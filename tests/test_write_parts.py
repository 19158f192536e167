"""The atomic writers: write_parts (gene files) and BinaryStream (every other binary)."""

from __future__ import annotations

import errno
import os

import pytest

import cellucid.engine.files as files
from cellucid.engine.files import write_parts
from cellucid.errors import ExportWriteError


def test_parts_are_written_back_to_back_past_the_writev_batch(tmp_path):
    parts = [bytes([i % 251]) * (i % 7) for i in range(2500)]
    path = tmp_path / "gene.values.u8.gz"
    write_parts(str(path), [memoryview(p) if i % 2 else p for i, p in enumerate(parts)])
    assert path.read_bytes() == b"".join(parts)
    assert os.listdir(tmp_path) == [path.name]


def test_short_writes_are_finished(tmp_path, monkeypatch):
    real = os.writev

    def short(fd, buffers):  # the kernel may write less than asked
        joined = b"".join(bytes(b) for b in buffers)
        return real(fd, [joined[: len(joined) // 3]])

    monkeypatch.setattr(files.os, "writev", short)
    parts = [b"header", b"a" * 1000, memoryview(b"b" * 333), b"", b"trailer"]
    path = tmp_path / "f.bin"
    write_parts(str(path), parts)
    assert path.read_bytes() == b"".join(bytes(p) for p in parts)


def test_a_failed_write_leaves_neither_the_file_nor_its_temp(tmp_path, monkeypatch):
    def full(fd, buffers):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "writev", full)
    with pytest.raises(ExportWriteError, match="No space left") as caught:
        write_parts(str(tmp_path / "f.bin"), [b"x"])
    assert str(tmp_path) in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_stream_gives_the_same_bytes_however_it_is_fed(tmp_path, monkeypatch):
    import zlib

    import numpy as np

    from cellucid.sinks.folder import binary_files
    from cellucid.sinks.folder.binary_files import BinaryStream, write_binary

    monkeypatch.setattr(binary_files, "PIECE_BYTES", 4096)  # many pieces in flight at once
    values = np.random.default_rng(1).normal(size=50_000).astype(np.float32)
    write_binary(tmp_path / "whole.gz", values, 6)
    with BinaryStream(tmp_path / "fed.gz", 6) as stream:
        for start in range(0, len(values), 777):
            stream.write(values[start : start + 777])
    whole = (tmp_path / "whole.gz").read_bytes()
    assert (tmp_path / "fed.gz").read_bytes() == whole
    assert zlib.decompress(whole, 31) == values.tobytes()
    with pytest.raises(RuntimeError, match="stop"):
        with BinaryStream(tmp_path / "failed.gz", 6) as stream:
            stream.write(values)
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fed.gz", "whole.gz"]
