"""A compressed sparse matrix (``X`` gene-major, the graph cell-major), checked streaming.

The pointers (one per gene or cell) are read whole; the entries are read a bounded block of
whole genes (rows) at a time, so a store of any size is checked in bounded memory. A block
holds at most :data:`~.context.BLOCK_ENTRIES` entries, or one gene's alone when it has more
(a gene has at most ``n_cells`` entries, which may be held).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import context as _context
from .context import Context, amount, number

INT32_MAX = 2**31 - 1


@dataclass
class Compressed:
    """A compressed matrix's group, its sizes, and its pointers when they are valid."""

    path: str
    #: ``csc_matrix`` or ``csr_matrix``.
    kind: str
    #: Entries of the compressed axis (genes of a CSC X, cells of a CSR graph).
    major: int
    #: Length of the indexed axis (cells for both).
    minor: int
    nnz: int
    #: int64 pointers, or None when they are broken (then no per-gene check is made).
    indptr: np.ndarray | None = None
    #: The element names of the two axes, for messages (``gene``/``row``).
    major_word: str = "gene"


@dataclass
class Issues:
    """Per kind of defect: how many entries have it, and the first one (position, major)."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, tuple[int, int | None, str]] = field(default_factory=dict)
    #: Whether every finite value is a whole number, and the largest magnitude among them.
    integral: bool = True
    largest: float = 0.0

    def measure(self, values: np.ndarray) -> None:
        """Track whether the values are integer counts, and how large (float64 X's rule)."""
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if finite.size:
            self.integral = self.integral and bool(np.all(np.floor(finite) == finite))
            self.largest = max(self.largest, float(np.abs(finite).max()))

    def note(
        self, kind: str, mask: np.ndarray, lo: int, majors: np.ndarray | None, describe: np.ndarray
    ) -> None:
        """Count the entries of a block that ``mask`` flags; keep the first one."""
        hits = np.flatnonzero(mask)
        if hits.size == 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + int(hits.size)
        if kind not in self.first:
            at = int(hits[0])
            major = None if majors is None else int(majors[at])
            self.first[kind] = (lo + at, major, number(describe[at]))


def read_structure(
    ctx: Context, path: str, kind: str, shape: tuple[int, int], major_word: str
) -> Compressed | None:
    """The group's encoding, shape attribute, arrays, dtypes and pointers; None if unusable."""
    group = ctx.group(path, f"a {kind} group")
    if group is None or not ctx.encoding(group, kind, "0.1.0"):
        return None
    stored = group.attrs.get("shape")
    if not (isinstance(stored, list) and [int(v) for v in stored] == list(shape)):
        ctx.add(path, f"shape attribute {stored!r}", f"{list(shape)}")
    if set(group.children) != {"data", "indices", "indptr"}:
        ctx.add(path, f"members {list(group.children)}", "exactly data, indices and indptr")
    nodes = {
        name: ctx.array(f"{path}/{name}", "a 1-D array") for name in ("data", "indices", "indptr")
    }
    if any(node is None or node.shape is None or len(node.shape) != 1 for node in nodes.values()):
        for node in nodes.values():
            if node is not None and node.shape is not None and len(node.shape) != 1:
                ctx.add(node.path, f"shape {node.shape}", "a 1-D array")
        return None
    major = shape[1] if kind == "csc_matrix" else shape[0]
    minor = shape[0] if kind == "csc_matrix" else shape[1]
    nnz = nodes["data"].shape[0]
    matrix = Compressed(path, kind, major, minor, nnz, major_word=major_word)
    if nodes["indices"].shape[0] != nnz:
        ctx.add(
            f"{path}/indices",
            f"length {nodes['indices'].shape[0]:,}",
            f"{nnz:,}, the length of {path}/data",
        )
        return None
    _check_index_dtypes(ctx, matrix, nodes["indptr"].dtype, nodes["indices"].dtype)
    if nodes["indptr"].shape[0] != major + 1:
        ctx.add(
            f"{path}/indptr",
            f"length {nodes['indptr'].shape[0]:,}",
            f"{major + 1:,}: one more than the {major:,} {major_word}s",
        )
        return matrix
    matrix.indptr = _valid_pointers(ctx, matrix, ctx.store.read(f"{path}/indptr"))
    return matrix


def _check_index_dtypes(
    ctx: Context, matrix: Compressed, indptr: np.dtype | None, indices: np.dtype | None
) -> None:
    wide_pointers = matrix.nnz >= 2**31
    want = np.dtype(np.int64 if wide_pointers else np.int32)
    if indptr != want:
        ctx.add(
            f"{matrix.path}/indptr",
            f"dtype {indptr}",
            f"{want}: int64 only from 2^31 stored values on",
        )
    want = np.dtype(np.int64 if matrix.minor > INT32_MAX else np.int32)
    if indices != want:
        ctx.add(
            f"{matrix.path}/indices", f"dtype {indices}", f"{want}: int64 only past 2^31 - 1 cells"
        )


def _valid_pointers(ctx: Context, matrix: Compressed, indptr: np.ndarray) -> np.ndarray | None:
    where = f"{matrix.path}/indptr"
    if indptr.dtype.kind not in "iu":
        return None
    pointers = indptr.astype(np.int64)
    valid = True
    if pointers[0] != 0:
        ctx.add(where, f"starts at {int(pointers[0]):,}", "0")
        valid = False
    falls = np.flatnonzero(np.diff(pointers) < 0)
    if falls.size:
        at = int(falls[0])
        ctx.add(
            where,
            f"decreases after {matrix.major_word} {at:,} "
            f"({int(pointers[at]):,} then {int(pointers[at + 1]):,}), "
            f"{amount(int(falls.size), 'time')}",
            "non-decreasing pointers",
        )
        valid = False
    if pointers[-1] != matrix.nnz:
        ctx.add(
            where,
            f"ends at {int(pointers[-1]):,}",
            f"{matrix.nnz:,}, the number of stored values (nnz)",
        )
        valid = False
    return pointers if valid else None


def blocks(matrix: Compressed) -> Iterator[tuple[int | None, int | None, int, int]]:
    """``(first major, end major, first entry, end entry)`` of each block of whole majors.

    Without valid pointers, fixed blocks of entries with no majors.
    """
    budget = _context.BLOCK_ENTRIES
    if matrix.indptr is None:
        for lo in range(0, matrix.nnz, budget):
            yield None, None, lo, min(matrix.nnz, lo + budget)
        return
    pointers = matrix.indptr
    first = 0
    while first < matrix.major:
        end = int(np.searchsorted(pointers, pointers[first] + budget, side="right")) - 1
        end = min(matrix.major, max(end, first + 1))
        yield first, end, int(pointers[first]), int(pointers[end])
        first = end


def majors_of(matrix: Compressed, first: int, end: int) -> np.ndarray:
    """The major index of every entry of the block of majors ``[first, end)``."""
    counts = np.diff(matrix.indptr[first : end + 1])
    return np.repeat(np.arange(first, end, dtype=np.int64), counts)


def scan(ctx: Context, matrix: Compressed, graph: bool = False) -> Issues:
    """Every entry: index in range and increasing within its major, value finite and non-zero.

    With ``graph``, also a negative weight and a stored diagonal entry.
    """
    issues = Issues()
    for first, end, lo, hi in blocks(matrix):
        if hi <= lo:
            continue
        indices = ctx.store.read(f"{matrix.path}/indices", slice(lo, hi)).astype(np.int64)
        values = ctx.store.read(f"{matrix.path}/data", slice(lo, hi))
        majors = None if first is None else majors_of(matrix, first, end)
        issues.note("range", (indices < 0) | (indices >= matrix.minor), lo, majors, indices)
        if values.dtype.kind == "f":
            issues.note("finite", ~np.isfinite(values), lo, majors, values)
        if values.dtype == np.float64:
            issues.measure(values)
        issues.note("zero", values == 0, lo, majors, values)
        if graph:
            issues.note("negative", values < 0, lo, majors, values)
        if majors is None:
            continue
        if graph:
            issues.note("diagonal", indices == majors, lo, majors, indices)
        falls = np.zeros(indices.size, dtype=bool)
        falls[1:] = indices[1:] <= indices[:-1]
        # Each major's first entry starts afresh (an empty major's start may be the block end).
        starts = matrix.indptr[first:end] - lo
        falls[starts[starts < indices.size]] = False
        issues.note("order", falls, lo, majors, indices)
    return issues


def report(
    ctx: Context, matrix: Compressed, issues: Issues, wording: dict[str, tuple[str, str, str]]
) -> None:
    """One line per kind of defect found: ``wording[kind] = (array, what, expected)``."""
    for kind, (array, what, expected) in wording.items():
        count = issues.counts.get(kind)
        if not count:
            continue
        position, major, value = issues.first[kind]
        where = f"entry {position:,}"
        if major is not None:
            where += f", {matrix.major_word} {major:,}"
        ctx.add(
            f"{matrix.path}/{array}",
            f"{what} at {amount(count, 'entry', 'entries')} (first at {where}: {value})",
            expected,
        )
