"""Checksums of every block of every input, so a resumed export never mixes two inputs.

The fingerprint of :mod:`cellucid.engine.state` samples a few rows; a change elsewhere
(an input rewritten after a killed run) would slip through it. Every input is read once
more here on a fixed grid of rows (the matrix on the gene grid, in slabs of genes when
dense) and each block's bytes get a CRC-32 (zlib-ng, which releases the GIL). The grid
depends on the data only, never on ``chunk_size``, so a rerun compares block by block and
can say which input changed and in which rows.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from zlib_ng import zlib_ng

from cellucid.checked import CheckedInputs
from cellucid.engine.genes import choose_piece_cells, slab_genes_for
from cellucid.engine.inputs import as_cell_chunked, is_sparse_array

#: rows per block of every input but the expression matrix
CHECK_ROWS = 65536


def block_crc(block: Any) -> int:
    """CRC-32 of a block's shape, dtype and values (sparse blocks in canonical CSR form)."""
    if sp.issparse(block):
        csr = sp.csr_matrix(block, copy=True)
        csr.sum_duplicates()
        parts = [csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data]
        head = f"csr{csr.shape}{csr.data.dtype.str}"
    else:
        array = np.ascontiguousarray(np.asarray(block))
        parts = [array]
        head = f"dense{array.shape}{array.dtype.str}"
    crc = zlib_ng.crc32(head.encode())
    for part in parts:
        crc = zlib_ng.crc32(memoryview(np.ascontiguousarray(part)).cast("B"), crc)
    return crc


def _gridded(inputs: CheckedInputs) -> dict[str, tuple[da.Array, int]]:
    """Every array input on its checksum grid, with the grid's rows per block."""
    arrays: dict[str, da.Array] = {f"X_umap_{d}d": x for d, x in inputs.embeddings.items()}
    arrays["latent_space"] = inputs.latent
    for field_id, dims in inputs.vectors.items():
        arrays |= {f"vector_fields[{field_id!r}] ({d}D)": x for d, x in dims.items()}
    if inputs.connectivities is not None:
        arrays["connectivities"] = inputs.connectivities
    grids = {name: (x.rechunk({0: CHECK_ROWS, 1: -1}), CHECK_ROWS) for name, x in arrays.items()}
    if inputs.matrix is not None:
        rows = choose_piece_cells(inputs.matrix)
        dense = not is_sparse_array(inputs.matrix)
        slab = slab_genes_for(rows, inputs.matrix.shape[1], dense)
        if isinstance(inputs.matrix_source, da.Array):
            matrix = inputs.matrix.rechunk({0: rows, 1: slab if dense else -1})
        else:
            # read the source straight on the grid: rechunking would read chunks whole
            matrix = as_cell_chunked(inputs.matrix_source, rows, slab if dense else -1)
        grids["gene_expression"] = (matrix, rows)
    return grids


def _combine(crcs: list[int]) -> int:
    return zlib_ng.crc32(np.asarray(crcs, dtype=np.int64).tobytes())


def input_checksums(inputs: CheckedInputs) -> dict[str, dict[str, Any]]:
    """``{input: {"rows": rows per block, "blocks": [crc, ...]}}`` for every input.

    obs columns are already in memory and get one checksum each.
    """
    grids = _gridded(inputs)
    tasks = {
        name: [[dask.delayed(block_crc)(b) for b in row] for row in x.to_delayed()]
        for name, (x, _) in grids.items()
    }
    (computed,) = dask.compute(tasks)
    result = {
        name: {"rows": grids[name][1], "blocks": [_combine(row) for row in rows]}
        for name, rows in computed.items()
    }
    for key in inputs.obs.columns:
        values = inputs.obs[key].to_numpy()
        result[f"obs[{key!r}]"] = {"rows": len(values), "blocks": [block_crc(values)]}
    return result


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Which inputs differ between two checksum sets, in words; None when none does."""
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None or after is None:
            changes.append(f"{name} was {'added' if before is None else 'removed'}")
            continue
        pairs = zip(before.get("blocks", []), after["blocks"], strict=False)
        block = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
        if block is None or before.get("rows") != after["rows"]:
            changes.append(f"{name} changed")
        else:
            start = block * after["rows"]
            changes.append(f"{name} changed in rows {start:,}-{start + after['rows'] - 1:,}")
    return "; ".join(changes) or None
