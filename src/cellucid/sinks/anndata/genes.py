"""The genes: the var index and columns, and which input columns of X are exported.

The var index names the genes; with pandas' default ``0 .. n-1`` index the column
``var_gene_id_column`` names them instead. Names are made unique (anndata's rule).
``gene_identifiers`` keeps those genes, in its order, matched against the names the
viewer shows: the ``var_gene_id_column`` values (a missing one replaced by the row's
index name, then made unique), else the unique index. Every var column is stored, for
the kept genes; the ``var_gene_id_column`` column is stored as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .frames import frame_columns, require_frame, row_names
from .names import UniqueNames, gene_name_text, make_unique, unique_names_note


@dataclass(frozen=True)
class Genes:
    """The exported genes.

    Attributes
    ----------
    index
        Gene names (object array of ``str``), unique, in store order.
    columns
        The stored var columns, in column order.
    positions
        int64: the input column of X of each exported gene, in store order.
    """

    index: np.ndarray
    columns: dict[str, Any]
    positions: np.ndarray


def column_gene_names(frame: pd.DataFrame, column: str) -> UniqueNames:
    """The unique gene names one var column gives (module docstring).

    Raises
    ------
    ValueError
        The column holds floats or booleans, a value that is neither text nor a number,
        or a missing value whose row has no text index name.
    """
    dtype = frame[column].dtype
    if dtype.kind == "f":
        raise ValueError(
            f"var_gene_id_column: var[{column!r}] holds floats, which cannot name genes."
        )
    if dtype.kind == "b":
        raise ValueError(
            f"var_gene_id_column: var[{column!r}] holds true/false values, which cannot name genes."
        )
    try:
        texts = [gene_name_text(value) for value in frame[column].tolist()]
        return make_unique(texts, index=frame.index.tolist())
    except ValueError as error:
        raise ValueError(f"var_gene_id_column: var[{column!r}]: {error}") from error


def _var_frame(var: object, n_genes: int, column: object) -> pd.DataFrame:
    if var is None:
        frame = pd.DataFrame(index=pd.RangeIndex(n_genes))
    else:
        frame = require_frame(var, "var", rows=n_genes, rows_of="gene_expression's columns")
    if column is not None and (not isinstance(column, str) or column not in frame.columns):
        raise ValueError(
            f"var_gene_id_column names var[{column!r}], which var does not have; var holds "
            f"{[str(name) for name in frame.columns]}."
        )
    return frame


def _selected(gene_identifiers: object, shown: list[str]) -> np.ndarray:
    """The positions of ``gene_identifiers`` among the names shown."""
    if isinstance(gene_identifiers, str | bytes) or not isinstance(gene_identifiers, Sequence):
        raise TypeError("gene_identifiers must be a sequence of gene names, such as a list.")
    wanted = list(gene_identifiers)
    if not all(isinstance(name, str) and name for name in wanted):
        raise TypeError("gene_identifiers must hold non-empty strings.")
    seen: set[str] = set()
    repeated = list(dict.fromkeys(name for name in wanted if name in seen or seen.add(name)))
    if repeated:
        raise ValueError(
            "gene_identifiers names a gene more than once "
            f"({', '.join(repr(g) for g in repeated[:5])}): list each gene once."
        )
    position = {name: at for at, name in enumerate(shown)}
    absent = [name for name in wanted if name not in position]
    if absent:
        more = f" and {len(absent) - 5:,} more" if len(absent) > 5 else ""
        raise ValueError(
            f"gene_identifiers names genes var does not have: {absent[:5]}{more}. They are "
            "matched against the names the viewer shows (var_gene_id_column's values, else "
            "the var index) after repeated names were made unique."
        )
    return np.asarray([position[name] for name in wanted], dtype=np.int64)


def resolve_genes(
    var: object,
    n_genes: int,
    var_gene_id_column: object,
    gene_identifiers: object,
    note: Callable[[str], None] | None = None,
) -> Genes:
    """The exported genes (module docstring); ``note`` hears about renamed genes.

    Raises
    ------
    TypeError, ValueError
        A refused ``var``, ``var_gene_id_column`` or ``gene_identifiers``, or genes
        without names.
    """
    frame = _var_frame(var, n_genes, var_gene_id_column)
    column = var_gene_id_column if isinstance(var_gene_id_column, str) else None
    names = row_names(frame, "var")
    if names is None:
        if column is None:
            raise ValueError(
                "The genes have no names: give var an index of gene names, or pass "
                "var_gene_id_column naming the var column that holds them."
            )
        names = column_gene_names(frame, column).names
    unique = make_unique(names)
    _tell(note, "Gene names", unique_names_note(unique))
    frame = frame.set_axis(pd.Index(unique.names, dtype=object), axis=0)
    positions = np.arange(n_genes, dtype=np.int64)
    if gene_identifiers is not None:
        shown = unique.names if column is None else column_gene_names(frame, column).names
        positions = _selected(gene_identifiers, shown)
        frame = frame.iloc[positions]
    if column is not None:
        # Stored as it is: the viewer fills and de-duplicates it when it reads it; say so now.
        told = unique_names_note(column_gene_names(frame, column), source=column)
        _tell(note, f"Gene names from var column {column!r}", told)
    index = np.asarray(frame.index.tolist(), dtype=object)
    return Genes(index=index, columns=frame_columns(frame, "var"), positions=positions)


def _tell(note: Callable[[str], None] | None, what: str, message: str | None) -> None:
    if note is not None and message is not None:
        note(f"{what}: {message}")
