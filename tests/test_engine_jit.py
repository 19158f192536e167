"""Compiling the gene encoder is said, once, when it happens (#22 item 3).

The first export after an install compiled numba's kernels inside the first gene block,
leaving a bar at a standstill for 10-30 s with no word. :func:`is_compiled` tells a cold
kernel from one in memory or in numba's on-disk cache; the genes section says so and
compiles before its bar.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from cellucid.engine.jit import is_compiled
from cellucid.sinks.folder.format import sparse_deflate
from cellucid.sinks.folder.sections import genes as gene_section
from cellucid.verify import validate_export

COMPILING = "Compiling the gene encoder (first export after installing only; takes 10-30 s)..."
KERNEL = """from cellucid.engine.jit import njit_cached


@njit_cached
def add_one(x):
    return x + 1
"""


def _load(path, name: str = "cellucid_jit_probe"):
    """A fresh module object from ``path`` (same name: numba's cache files are named after it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_is_compiled_knows_memory_the_disk_cache_and_a_stale_cache(tmp_path):
    source = tmp_path / "cellucid_jit_probe.py"
    source.write_text(KERNEL)
    first = _load(source)
    assert not is_compiled(first.add_one)  # nothing on disk yet
    assert first.add_one(1) == 2
    assert is_compiled(first.add_one)  # in memory
    assert list((tmp_path / "__pycache__").glob("*.nbi"))
    again = _load(source)  # as a new process sees it: a fresh dispatcher, a cache on disk
    assert not again.add_one.overloads
    assert is_compiled(again.add_one)
    source.write_text(KERNEL + "\n# edited: the cached machine code is stale\n")
    edited = _load(source)
    assert not is_compiled(edited.add_one)


def test_a_kernel_that_cannot_be_cached_is_never_compiled_beforehand():
    import numba

    kernel = numba.njit(lambda x: x + 1)  # a NullCache: every process compiles it
    assert not is_compiled(kernel)
    kernel(1)
    assert is_compiled(kernel)


def test_each_setting_names_the_kernel_it_uses():
    assert sparse_deflate.encoder_kernel(8) is sparse_deflate._deflate_byte_rows
    assert sparse_deflate.encoder_kernel(16) is sparse_deflate._deflate
    assert sparse_deflate.encoder_kernel(None) is sparse_deflate._deflate


def _context(bits, compression, said):
    return SimpleNamespace(
        plan=SimpleNamespace(settings=SimpleNamespace(var_quantization=bits)),
        compression=compression,
        say=said.append,
        phase=lambda name: contextlib.nullcontext(),
    )


@pytest.mark.parametrize(
    ("compiled", "compression", "expected"),
    [(False, 6, [COMPILING]), (True, 6, []), (False, None, [])],
)
def test_the_compile_is_said_only_when_it_happens(monkeypatch, compiled, compression, expected):
    compiles = []
    monkeypatch.setattr(gene_section, "is_compiled", lambda kernel: compiled)
    monkeypatch.setattr(gene_section, "compile_encoder", compiles.append)
    said: list[str] = []
    gene_section._compile_encoder(_context(16, compression, said))
    assert said == expected
    assert compiles == ([16] if expected else [])


@pytest.mark.slow
def test_first_export_with_a_cold_numba_cache_says_it_compiles(tmp_path):
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),  # a fresh install's empty cache
        CELLUCID_WEB_CACHE_DIR=str(tmp_path / "web"),
    )

    def demo(name: str) -> list[str]:
        out = tmp_path / name
        result = subprocess.run(
            [sys.executable, "-m", "cellucid", "demo", str(out), "--n-cells", "500",
             "--n-genes", "20"],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert validate_export(out).ok
        return result.stdout.splitlines()

    first = demo("first")
    assert first.count(COMPILING) == 1
    # said before the gene files, after the genes' ranges
    assert first.index(COMPILING) < next(
        i for i, line in enumerate(first) if line.startswith("✓ Wrote 20 gene files")
    )
    assert COMPILING not in demo("second")
