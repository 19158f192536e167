"""The errors cellucid raises to its users, one base for all of them.

Every class derives from :class:`CellucidError` and from the builtin error it has always
been (``ValueError``, ``OSError``, ...), so ``except cellucid.CellucidError`` catches any of
them and ``except ValueError`` keeps working where it did. This module imports nothing from
cellucid: every layer may raise these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cellucid.sinks.anndata.x_values import ValueFaults


class CellucidError(Exception):
    """Base of the errors cellucid raises to its users."""


# -- inputs and paths --------------------------------------------------------------------
class InputNotFoundError(CellucidError, FileNotFoundError):
    """The input path does not exist."""


class InputFileError(CellucidError, ValueError):
    """The input path exists but is not a readable .h5ad file or AnnData Zarr store."""


class OutputPathError(CellucidError, ValueError):
    """The output folder cannot be created where it was asked for."""


class ExpressionValuesError(CellucidError, ValueError):
    """The expression matrix holds values Cellucid cannot store (NaN, infinities, or
    finite values beyond the float32 range).

    Attributes
    ----------
    faults
        What was found, counted, with the first affected cell and gene.
    count
        How many values are refused.
    cell, gene
        Row (cell) and input column (gene) of the first refused value: the lowest cell,
        then the lowest column within it.
    """

    def __init__(self, faults: ValueFaults, label: str = "gene_expression") -> None:
        self.faults = faults
        self.count = faults.count
        self.cell = faults.cell
        self.gene = faults.gene
        super().__init__(faults.describe(label))


# -- writing an export -------------------------------------------------------------------
class ExportWriteError(CellucidError, OSError):
    """The export folder cannot be written (full disk, no permission, ...)."""


class ExportLockedError(CellucidError, RuntimeError):
    """Another run is writing into the same export folder."""


class ExportMismatchError(CellucidError, ValueError):
    """The output folder holds an export of other inputs or settings."""


class DamagedRecordError(CellucidError, ValueError):
    """The export record cannot be read, or lists files this export could not own."""


# -- reading an export -------------------------------------------------------------------
class NotAnExportError(CellucidError, FileNotFoundError):
    """The folder does not exist or holds no dataset_identity.json."""


__all__ = [
    "CellucidError",
    "DamagedRecordError",
    "ExportLockedError",
    "ExportMismatchError",
    "ExportWriteError",
    "ExpressionValuesError",
    "InputFileError",
    "InputNotFoundError",
    "NotAnExportError",
    "OutputPathError",
]
