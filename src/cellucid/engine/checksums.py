"""Checksums of every block of every input, so a resumed export never mixes two inputs.

The fingerprint of :mod:`cellucid.sinks.folder.state` holds shapes and dtypes only; a changed
value (an input rewritten after a killed run) is found here. Every input is read on a
fixed grid of rows (the matrix on the genes' pass-one grid, in slabs of genes when dense)
and each block's bytes get a CRC-32 (zlib-ng, which releases the GIL). The grid depends on
the data only, never on ``chunk_size``, so a rerun compares block by block and can say
which input changed and in which rows.

The matrix is the big one. When no earlier record needs its checksums before the run
starts, they are left :data:`PENDING` and pass one takes them on the blocks it reads
anyway, writing them into the record before any file made from the matrix exists.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da

from cellucid.checks.checked import CheckedInputs
from cellucid.engine.block_crc import block_crc, combine_block_crcs
from cellucid.engine.block_grid import grid_matrix, pass_one_blocks

#: rows per block of every input but the expression matrix
CHECK_ROWS = 65536
#: the expression matrix's name in the checksums
MATRIX = "gene_expression"
#: the record entry of a matrix whose checksums pass one has not taken yet
PENDING = {"pending": True}


def _gridded(inputs: CheckedInputs, with_matrix: bool) -> dict[str, tuple[da.Array, int]]:
    """Every array input on its checksum grid, with the grid's rows per block.

    The matrix's grid is the genes' pass one (:func:`~cellucid.engine.block_grid.pass_one_blocks`),
    so pass one can checksum the blocks it reads anyway.
    """
    arrays: dict[str, da.Array] = {f"X_umap_{d}d": x for d, x in inputs.embeddings.items()}
    if inputs.latent is not None:
        arrays["latent_space"] = inputs.latent
    for field_id, dims in inputs.vectors.items():
        arrays |= {f"vector_fields[{field_id!r}] ({d}D)": x for d, x in dims.items()}
    if inputs.connectivities is not None:
        arrays["connectivities"] = inputs.connectivities
    grids = {name: (x.rechunk({0: CHECK_ROWS, 1: -1}), CHECK_ROWS) for name, x in arrays.items()}
    # with no gene exported, no file is made from the matrix: nothing to guard
    if inputs.matrix is not None and with_matrix and len(inputs.gene_columns):
        matrix, rows = grid_matrix(inputs.matrix, inputs.matrix_source)
        grids[MATRIX] = (pass_one_blocks(matrix, inputs.gene_columns, rows), rows)
    return grids


def input_checksums(inputs: CheckedInputs, with_matrix: bool = True) -> dict[str, dict[str, Any]]:
    """``{input: {"rows": rows per block, "blocks": [crc, ...]}}`` for every input.

    obs columns are already in memory and get one checksum each. Without ``with_matrix``
    the expression matrix is marked :data:`PENDING`: the genes' pass one computes its
    checksums while it reads the matrix (see :func:`matrix_checksums`).
    """
    grids = _gridded(inputs, with_matrix)
    tasks = {
        name: [[dask.delayed(block_crc)(b) for b in row] for row in x.to_delayed()]
        for name, (x, _) in grids.items()
    }
    (computed,) = dask.compute(tasks)
    result = {
        name: {"rows": grids[name][1], "blocks": [combine_block_crcs(row) for row in rows]}
        for name, rows in computed.items()
    }
    for key in inputs.obs.columns:
        values = inputs.obs[key].to_numpy()
        result[f"obs[{key!r}]"] = {"rows": len(values), "blocks": [block_crc(values)]}
    if inputs.matrix is not None and not with_matrix:
        result[MATRIX] = dict(PENDING)
    return result


def is_pending(entry: dict[str, Any] | None) -> bool:
    """Whether a record's checksum entry waits for pass one (see :data:`PENDING`)."""
    return entry is not None and entry.get("pending") is True


def matrix_checksums(rows: int, crcs: list[list[int]]) -> dict[str, Any]:
    """The matrix's record entry from the CRCs pass one took of each (row, slab) block."""
    return {"rows": rows, "blocks": [combine_block_crcs(row) for row in crcs]}


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Which inputs differ between two checksum sets, in words; None when none does."""
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after or is_pending(before):
            # pending: the run stopped before it wrote anything made from this input
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
