"""Length-limited canonical Huffman codes, as DEFLATE (RFC 1951) needs them.

Code lengths come from an optimal Huffman tree; when the tree is deeper than the limit
(15 bits for literals/lengths, 7 for the code-length alphabet) its leaf counts per depth
are reshaped into a complete code no deeper than the limit (the adjustment of JPEG,
ITU T.81 annex K.3), and the shortest lengths go to the most frequent symbols.
"""

from __future__ import annotations

import numpy as np

from cellucid.engine.jit import njit_cached

# counts below this are ordered by one counting pass; the few at or above it after them
_SMALL_COUNT = 255
# that many large counts or fewer are put in order by insertion, more by radix passes
_FEW = 16


@njit_cached
def _radix_by_count(freqs, used):  # noqa: ANN001, ANN202
    """``used`` ordered by ascending count, ties in the order given: a stable LSD radix
    sort on the counts' bytes, skipping bytes that are zero in every count."""
    order = used.copy()
    spare = np.empty_like(order)
    largest = 0
    for symbol in used:
        largest = max(largest, freqs[symbol])
    shift = 0
    while (largest >> shift) > 0:
        bins = np.zeros(257, dtype=np.int64)
        for symbol in order:
            bins[((freqs[symbol] >> shift) & 0xFF) + 1] += 1
        for b in range(256):
            bins[b + 1] += bins[b]
        for symbol in order:
            digit = (freqs[symbol] >> shift) & 0xFF
            spare[bins[digit]] = symbol
            bins[digit] += 1
        order, spare = spare, order
        shift += 8
    return order


@njit_cached
def _by_count(freqs, used):  # noqa: ANN001, ANN202
    """``used`` (ascending symbols) ordered by ascending count, ties by symbol number.

    The code then depends on the counts only. Most symbols of a piece occur fewer than
    255 times: one stable counting pass orders them, with every larger count in one last
    bucket (still by symbol), which is then put in order on its own. A comparison sort,
    then two radix passes over every symbol, were most of the cost of building a code.
    """
    bins = np.zeros(_SMALL_COUNT + 2, dtype=np.int64)
    for symbol in used:
        bins[min(freqs[symbol], _SMALL_COUNT) + 1] += 1
    for b in range(_SMALL_COUNT + 1):
        bins[b + 1] += bins[b]
    first_large = bins[_SMALL_COUNT]
    order = np.empty_like(used)
    for symbol in used:
        bucket = min(freqs[symbol], _SMALL_COUNT)
        order[bins[bucket]] = symbol
        bins[bucket] += 1
    n = order.shape[0]
    if n - first_large > _FEW:
        order[first_large:] = _radix_by_count(freqs, order[first_large:])
        return order
    # stable insertion: a symbol moves before the larger counts only
    for i in range(first_large + 1, n):
        symbol = order[i]
        count = freqs[symbol]
        j = i
        while j > first_large and freqs[order[j - 1]] > count:
            order[j] = order[j - 1]
            j -= 1
        order[j] = symbol
    return order


@njit_cached
def code_lengths(freqs: np.ndarray, limit: int) -> np.ndarray:
    """Huffman code length of each symbol, at most ``limit`` bits; 0 for unused symbols.

    Parameters
    ----------
    freqs
        int64 count of each symbol. At least two must be non-zero (a one-symbol code is
        incomplete, which some inflaters reject).
    limit
        Longest allowed code, in bits; ``2**limit`` must be at least the number of used
        symbols.

    Returns
    -------
    uint8 array of code lengths, one per symbol.
    """
    n_symbols = freqs.shape[0]
    lengths = np.zeros(n_symbols, dtype=np.uint8)
    used = np.nonzero(freqs)[0]
    n = used.shape[0]
    order = _by_count(freqs, used)
    weight = np.empty(2 * n - 1, dtype=np.int64)
    parent = np.empty(2 * n - 1, dtype=np.int64)
    for i in range(n):
        weight[i] = freqs[order[i]]
    # two-queue construction: leaves ascending, internal nodes are created ascending too
    leaf = 0
    node = n
    for created in range(n, 2 * n - 1):
        pair = 0
        for _ in range(2):
            if leaf < n and (node >= created or weight[leaf] <= weight[node]):
                child = leaf
                leaf += 1
            else:
                child = node
                node += 1
            parent[child] = created
            pair += weight[child]
        weight[created] = pair
    depth = np.zeros(2 * n - 1, dtype=np.int64)
    deepest = 0
    for i in range(2 * n - 3, -1, -1):
        depth[i] = depth[parent[i]] + 1
        if i < n and depth[i] > deepest:
            deepest = depth[i]
    if deepest <= limit:
        for i in range(n):
            lengths[order[i]] = depth[i]
        return lengths
    count = np.zeros(deepest + 1, dtype=np.int64)
    for i in range(n):
        count[depth[i]] += 1
    for bits in range(deepest, limit, -1):
        while count[bits] > 0:
            # two deepest leaves leave; their sibling slot moves up, and a shallower leaf
            # becomes a node holding itself and one of them (the code stays complete)
            shallow = bits - 2
            while count[shallow] == 0:
                shallow -= 1
            count[bits] -= 2
            count[bits - 1] += 1
            count[shallow + 1] += 2
            count[shallow] -= 1
    # least frequent symbols (front of ``order``) get the longest codes
    i = 0
    for bits in range(limit, 0, -1):
        for _ in range(count[bits]):
            lengths[order[i]] = bits
            i += 1
    return lengths


# each byte with its bits in reverse order (a compile-time constant of the kernels)
_REVERSED_BYTE = np.array([int(f"{byte:08b}"[::-1], 2) for byte in range(256)], dtype=np.int64)


@njit_cached
def reversed_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical codes (RFC 1951 3.2.2), bit-reversed for an LSB-first bit writer.

    Parameters
    ----------
    lengths
        uint8 code length per symbol (0: unused).

    Returns
    -------
    uint32 array of codes, each ready to be written with its length in bits.
    """
    count = np.zeros(16, dtype=np.int64)
    for length in lengths:
        count[length] += 1
    count[0] = 0
    next_code = np.zeros(16, dtype=np.int64)
    code = 0
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    out = np.zeros(lengths.shape[0], dtype=np.uint32)
    for symbol in range(lengths.shape[0]):
        bits = lengths[symbol]
        if bits == 0:
            continue
        value = next_code[bits]
        next_code[bits] += 1
        # codes are at most 15 bits: reverse two bytes by table, drop the unused low bits
        both = (_REVERSED_BYTE[value & 0xFF] << 8) | _REVERSED_BYTE[(value >> 8) & 0xFF]
        out[symbol] = both >> (16 - bits)
    return out
