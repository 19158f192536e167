"""A DEFLATE encoder for sparse columns that never searches the runs of background.

A gene column is mostly one repeated item, the background (the code of an implicit
zero). Instead of an LZ77 search, the column is turned straight into DEFLATE symbols
(RFC 1951): other items as literals, short background runs (up to three items) as
literals, longer ones as one item of literals and then back-references to it (distance
1 when the background's bytes are all equal, else its item size), 258 bytes at a time.
The symbols go into one dynamic Huffman block whose codes come from their exact counts,
and an empty stored block ends the piece byte-aligned and not final, as a sync flush
does, so pieces concatenate with those of
:func:`~cellucid.sinks.folder.format.gzip_pieces.compress_piece`.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros
from zlib_ng import zlib_ng

from cellucid.engine.jit import njit_cached
from cellucid.sinks.folder.format.gzip_pieces import Piece, compress_piece
from cellucid.sinks.folder.format.huffman import code_lengths, reversed_codes

# Longest match, and the literal/length symbol that codes it with no extra bits.
MAX_MATCH = 258
# A piece of 2- or 4-byte items whose share of non-background items is above this is also
# compressed by zlib-ng, whose LZ77 finds repeated multi-byte values (a float32 1.0 is 4
# literals here); the shorter output is kept. Byte codes are i.i.d. enough that literals
# win (measured: never worse than zlib-ng level 6 on realistic 8-bit genes), so they skip it.
DENSE_SHARE = 1 / 8
LITTLE_ENDIAN = sys.byteorder == "little"
# the bit writer's one integer type (see _put)
U64 = np.uint64
EMPTY_STORED_BLOCK = b"\x00\x00\x00\xff\xff"
UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32}
CODE_LENGTH_ORDER = np.array(
    [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15], dtype=np.int64
)


def _length_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symbol, extra-bit count and extra-bit value of each match length 0..258."""
    bases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59]
    bases += [67, 83, 99, 115, 131, 163, 195, 227, 258]
    extra = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
    symbol = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    n_extra = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    value = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    for length in range(3, MAX_MATCH + 1):
        # 258 has its own symbol (285); 284 + 31 would also decode to it but is not used
        code = 28 if length == MAX_MATCH else max(c for c in range(28) if bases[c] <= length)
        symbol[length] = 257 + code
        n_extra[length] = extra[code]
        value[length] = length - bases[code]
    return symbol, n_extra, value


LENGTH_SYMBOL, LENGTH_EXTRA_BITS, LENGTH_EXTRA_VALUE = _length_table()


@njit_cached(inline="always")
def _emit_run(symbols, k, run, background, itemsize, same_bytes):  # noqa: ANN001, ANN202
    """Append a run of ``run`` background items; symbols >= 256 are 256 + match length."""
    if run <= 3:
        for _ in range(run):
            for b in range(itemsize):
                symbols[k] = (background >> (8 * b)) & 0xFF
                k += 1
        return k
    if same_bytes:
        symbols[k] = background & 0xFF
        k += 1
        remaining = run * itemsize - 1
    else:
        for b in range(itemsize):
            symbols[k] = (background >> (8 * b)) & 0xFF
            k += 1
        remaining = (run - 1) * itemsize
    while remaining > 0:
        take = remaining
        if remaining > MAX_MATCH:
            # never leave a tail of 1 or 2 bytes: matches are at least 3 long
            take = MAX_MATCH if remaining - MAX_MATCH >= 3 else remaining - 3
        symbols[k] = 256 + take
        k += 1
        remaining -= take
    return k


@njit_cached
def _symbols(column, words, background, background_word, itemsize, same_bytes):  # noqa: ANN001, ANN202, E501
    """The column as literal (< 256) and match (256 + length) symbols, and its count of
    non-background items. Every symbol covers at least one byte, so bytes bound them.

    ``column`` is the column's bytes and ``background`` its item as a little-endian
    integer: one compiled version serves every item width.

    ``words`` is the column's whole 8-byte words: a word of background is skipped at
    once, which is most of the column's bytes for a sparse gene.
    """
    symbols = np.empty(column.shape[0], dtype=np.int32)
    per_word = 8 // itemsize
    n_items = column.shape[0] // itemsize
    # typed counters: literal 0s would compile the helpers once more
    k = np.int64(0)
    run = np.int64(0)
    others = np.int64(0)
    n_words = words.shape[0]
    w = 0
    while True:
        # tight loop over whole words of background: most of a sparse column
        start = w
        while w < n_words and words[w] == background_word:
            w += 1
        run += (w - start) * per_word
        # then the items of one word holding something else (or of the tail)
        first = w * per_word
        stop = min(n_items, first + per_word) if w < n_words else n_items
        for i in range(first, stop):
            value = np.int64(0)
            for b in range(itemsize):
                value |= np.int64(column[i * itemsize + b]) << (8 * b)
            if value == background:
                run += 1
                continue
            if run:
                k = _emit_run(symbols, k, run, background, itemsize, same_bytes)
                run = 0
            for b in range(itemsize):
                symbols[k] = (value >> (8 * b)) & 0xFF
                k += 1
            others += 1
        if w >= n_words:
            break
        w += 1
    if run:
        k = _emit_run(symbols, k, run, background, itemsize, same_bytes)
    return symbols[:k], others


@njit_cached(inline="always")
def _put(out, pos, buffer, n_bits, value, width):  # noqa: ANN001, ANN202
    """Append ``width`` bits of ``value``, LSB first; spill whole 32-bit words to ``out``.

    Everything is uint64 (mixing signed and unsigned integers makes numba use floats) and
    words are stored whole: both measured 4-5x faster than byte stores.
    """
    buffer |= value << n_bits
    n_bits += width
    if n_bits >= np.uint64(32):
        out[pos] = np.uint32(buffer & np.uint64(0xFFFFFFFF))
        pos += 1
        buffer >>= np.uint64(32)
        n_bits -= np.uint64(32)
    return pos, buffer, n_bits


@njit_cached
def _run_length_code(lengths):  # noqa: ANN001, ANN202
    """Code lengths as code-length symbols (0-15, 16 repeat, 17/18 zero runs) + extras."""
    n = lengths.shape[0]
    symbols = np.empty(n, dtype=np.int64)
    extras = np.zeros(n, dtype=np.int64)
    k = 0
    i = 0
    while i < n:
        length = lengths[i]
        run = 1
        while i + run < n and lengths[i + run] == length:
            run += 1
        i += run
        if length == 0:
            while run >= 11:
                take = min(run, 138)
                symbols[k] = 18
                extras[k] = take - 11
                k += 1
                run -= take
            if run >= 3:
                symbols[k] = 17
                extras[k] = run - 3
                k += 1
                run = 0
        else:
            symbols[k] = length
            k += 1
            run -= 1
            while run >= 3:
                take = min(run, 6)
                symbols[k] = 16
                extras[k] = take - 3
                k += 1
                run -= take
        for _ in range(run):
            symbols[k] = length
            k += 1
    return symbols[:k], extras[:k]


@njit_cached
def _count_symbols(symbols):  # noqa: ANN001, ANN202
    """How often each stream symbol (literal, or 256 + match length) occurs."""
    # counted per stream symbol and folded to the alphabet after: no branch per symbol,
    # which dense columns would mispredict
    counts = np.zeros(256 + MAX_MATCH + 1, dtype=np.int64)
    for s in symbols:
        counts[s] += 1
    return counts


@njit_cached
def _literal_code(counts, sym_table):  # noqa: ANN001, ANN202
    """Code lengths (at most 15 bits) and reversed codes of the literal/length alphabet,
    from the count of each stream symbol."""
    freq = np.zeros(286, dtype=np.int64)
    freq[:256] = counts[:256]
    for length in range(3, MAX_MATCH + 1):
        freq[sym_table[length]] += counts[256 + length]
    freq[256] = 1
    if np.count_nonzero(freq) < 2:
        freq[0] = 1
    lengths = code_lengths(freq, np.int64(15)).astype(np.int64)
    return lengths, reversed_codes(lengths.astype(np.uint8)).astype(np.int64)


@njit_cached
def _write_header(out, lit_lengths, distance_code, cl_order):  # noqa: ANN001, ANN202
    """Write a dynamic block's header (RFC 1951 3.2.7) into ``out``: bit writer state."""
    n_lit = np.int64(286)
    while lit_lengths[n_lit - 1] == 0:
        n_lit -= 1
    n_lit = max(n_lit, 257)
    # all matches share one distance: two 1-bit codes make a complete distance code
    n_dist = max(distance_code, 1) + 1
    all_lengths = np.zeros(n_lit + n_dist, dtype=np.int64)
    all_lengths[:n_lit] = lit_lengths[:n_lit]
    all_lengths[n_lit + distance_code] = 1
    all_lengths[n_lit + (1 if distance_code == 0 else 0)] = 1
    cl_symbols, cl_extras = _run_length_code(all_lengths)
    cl_freq = np.zeros(19, dtype=np.int64)
    for s in cl_symbols:
        cl_freq[s] += 1
    if np.count_nonzero(cl_freq) < 2:
        cl_freq[0 if cl_freq[0] == 0 else 1] += 1
    cl_lengths = code_lengths(cl_freq, np.int64(7)).astype(np.int64)
    cl_codes = reversed_codes(cl_lengths.astype(np.uint8)).astype(np.int64)
    n_cl = np.int64(19)
    while n_cl > 4 and cl_lengths[cl_order[n_cl - 1]] == 0:
        n_cl -= 1
    pos, buffer, n_bits = np.int64(0), np.uint64(0), np.uint64(0)
    # BFINAL 0, BTYPE 10 (dynamic), HLIT, HDIST, HCLEN
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(4), U64(3))
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(n_lit - 257), U64(5))
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(n_dist - 1), U64(5))
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(n_cl - 4), U64(4))
    for i in range(n_cl):
        pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(cl_lengths[cl_order[i]]), U64(3))
    extra_width = np.zeros(19, dtype=np.int64)
    extra_width[16], extra_width[17], extra_width[18] = 2, 3, 7
    # each code-length symbol and its extra bits in one write, with _put written out: a
    # couple of hundred calls of it cost more than the rest of the header
    for i in range(cl_symbols.shape[0]):
        s = cl_symbols[i]
        buffer |= (U64(cl_codes[s]) | (U64(cl_extras[i]) << U64(cl_lengths[s]))) << n_bits
        n_bits += U64(cl_lengths[s] + extra_width[s])
        if n_bits >= U64(32):
            out[pos] = np.uint32(buffer & U64(0xFFFFFFFF))
            pos += 1
            buffer >>= U64(32)
            n_bits -= U64(32)
    return pos, buffer, n_bits


@njit_cached
def _deflate_symbols(symbols, counts, distance_code, sym_table, extra_bits, extra_value, cl_order):  # noqa: ANN001, ANN202, E501
    """One dynamic-Huffman block (not final) of ``symbols`` (``counts``: their
    :func:`_count_symbols`), then the header of an empty stored block, padded to a byte:
    32-bit words, and the bits left in the buffer."""
    lit_lengths, lit_codes = _literal_code(counts, sym_table)
    # literal <= 15 bits, match <= 15 + 5 + 1: at most 3 bytes per symbol; the header is
    # at most 17 + 19 * 3 + 316 * (7 + 7) bits, under 600 bytes
    out = np.empty(3 * symbols.shape[0] // 4 + 192, dtype=np.uint32)
    pos, buffer, n_bits = _write_header(out, lit_lengths, distance_code, cl_order)
    # each stream symbol's whole bit string: Huffman code, and for a match its length
    # extra bits and the 1-bit distance code (the only distance) in one write
    distance_bit = np.int64(0 if distance_code == 0 else 1)
    emit_value = np.zeros(256 + MAX_MATCH + 1, dtype=np.uint64)
    emit_width = np.zeros(256 + MAX_MATCH + 1, dtype=np.uint64)
    emit_value[:256] = lit_codes[:256]
    emit_width[:256] = lit_lengths[:256]
    for length in range(3, MAX_MATCH + 1):
        if counts[256 + length] == 0:
            continue  # a piece uses a few match lengths: the others are never looked up
        code = sym_table[length]
        width = lit_lengths[code]
        value = lit_codes[code] | (extra_value[length] << width)
        width += extra_bits[length]
        emit_value[256 + length] = value | (distance_bit << width)
        emit_width[256 + length] = width + 1
    # _put written out: through a call (even inlined by numba) this loop is 4x slower.
    # Branch-free: the low word is stored every time and kept once it is full (the flush
    # branch is taken every few symbols, too irregularly to predict)
    for s in symbols:
        buffer |= emit_value[s] << n_bits
        n_bits += emit_width[s]
        out[pos] = np.uint32(buffer & U64(0xFFFFFFFF))
        full = n_bits >> U64(5)
        pos += np.int64(full)
        buffer >>= full << U64(5)
        n_bits -= full << U64(5)
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(lit_codes[256]), U64(lit_lengths[256]))
    # empty stored block: 3 header bits, pad to a byte, LEN 0000, NLEN ffff
    pos, buffer, n_bits = _put(out, pos, buffer, n_bits, U64(0), U64(3))
    pos, buffer, n_bits = _put(
        out, pos, buffer, n_bits, U64(0), U64((8 - np.int64(n_bits) % 8) % 8)
    )
    # the caller appends the last whole bytes of ``buffer`` and the stored block's
    # LEN 0000 NLEN ffff
    return out[:pos], buffer, n_bits


def deflate_column(column: np.ndarray, background: float | int) -> tuple[bytes, int]:
    """Raw DEFLATE piece of a 1-D column of uint8, uint16 or float32 items.

    Parameters
    ----------
    column
        The encoded column (quantization codes or float32 values), contiguous.
    background
        The item to treat as the repeated background (for genes: the encoding of 0).
        Any value decodes correctly; the common one compresses best.

    Returns
    -------
    The piece (byte-aligned, not final, so pieces concatenate) and the number of items
    that differ from the background.
    """
    column = np.ascontiguousarray(column)
    itemsize = column.dtype.itemsize
    if column.ndim != 1 or itemsize not in UNSIGNED:
        raise ValueError(f"expected a 1-D column of 1, 2 or 4 byte items, got {column.dtype}")
    if column.shape[0] == 0:
        return EMPTY_STORED_BLOCK, 0
    # a plain Python number as the cache key (numpy scalars and 0-d arrays alike)
    same_bytes, bits, background_word = _background(column.dtype.str, np.asarray(background).item())
    whole_words = column.shape[0] * itemsize // 8
    everything = column.view(np.uint8)
    words, buffer, n_bits, others = _deflate(
        everything,
        everything[: whole_words * 8].view(np.uint64),
        bits,
        background_word,
        itemsize,
        same_bytes,
    )
    tail = int(buffer).to_bytes(int(n_bits) // 8, "little")
    if not LITTLE_ENDIAN:
        words = words.astype("<u4")
    return words.tobytes() + tail + b"\x00\x00\xff\xff", int(others)


@functools.lru_cache(maxsize=1024)
def _background(dtype: str, background: float | int) -> tuple[bool, np.int64, np.uint64]:
    """Whether the background item's bytes are all equal, the item as a little-endian
    integer, and a word of it repeated (cached: a block has few distinct backgrounds)."""
    itemsize = np.dtype(dtype).itemsize
    bits = int(np.array([background], dtype=dtype).view(UNSIGNED[itemsize])[0])
    pattern = bits.to_bytes(itemsize, "little")
    word = np.uint64(int.from_bytes(pattern * (8 // itemsize), "little"))
    return pattern == pattern[:1] * itemsize, np.int64(bits), word


@njit_cached
def _deflate(column, words, background, background_word, itemsize, same_bytes):  # noqa: ANN001, ANN202, E501
    """:func:`_symbols` then :func:`_deflate_symbols`, in one call from Python."""
    symbols, others = _symbols(column, words, background, background_word, itemsize, same_bytes)
    distance_code = 0 if same_bytes else itemsize - 1
    out, buffer, n_bits = _deflate_symbols(
        symbols,
        _count_symbols(symbols),
        distance_code,
        LENGTH_SYMBOL,
        LENGTH_EXTRA_BITS,
        LENGTH_EXTRA_VALUE,
        CODE_LENGTH_ORDER,
    )
    return out, buffer, n_bits, others


def compress_column_piece(column: np.ndarray, background: float | int, level: int | None) -> Piece:
    """A gene piece: :func:`deflate_column`, or zlib-ng when that is shorter on dense data.

    Parameters
    ----------
    column
        The encoded column (uint8 / uint16 codes or float32 values), 1-D.
    background
        The encoding of an implicit zero for this column.
    level
        gzip level; ``None`` or 0 keeps the column raw, as :func:`compress_piece` does.
        The sparse encoder has no levels: every level 1-9 gives its bytes, except that a
        uint16 or float32 column with more than ``DENSE_SHARE`` non-background items is
        also compressed by zlib-ng at ``level`` and the shorter piece is kept (ties: the
        sparse one). The choice depends on the data only.

    Returns
    -------
    The piece, its CRC-32 and raw length, as :func:`compress_piece` returns them.
    """
    raw = memoryview(np.ascontiguousarray(column)).cast("B")
    if not level:
        return compress_piece(raw, level)
    data, others = deflate_column(column, background)
    if column.dtype.itemsize > 1 and others > DENSE_SHARE * column.shape[0]:
        fallback = compress_piece(raw, level)
        if len(fallback.data) < len(data):
            return fallback
    return Piece(data, zlib_ng.crc32(raw), len(raw))


@njit_cached(inline="always")
def _emit_byte_run(symbols, counts, k, run, background):  # noqa: ANN001, ANN202
    """:func:`_emit_run` for 1-byte items, counting each symbol it appends.

    ``symbols`` must have 3 spare items past the last symbol: the common cases store
    before they branch.
    """
    symbols[k] = background
    symbols[k + 2] = background
    remaining = run - 1
    # a run of 0 (two differing items in a row) takes this path too and appends nothing
    if remaining <= MAX_MATCH:
        # up to 3 literals, or one literal and one match: selects, not branches (which of
        # the two a gap needs is as good as random)
        small = run <= 3
        symbols[k + 1] = background if small else 256 + remaining
        counts[background] += run if small else 1
        counts[256 + remaining] += 0 if small else 1
        return k + (run if small else 2)
    symbols[k + 1] = background
    counts[background] += 1
    k += 1
    while remaining > 0:
        take = remaining
        if remaining > MAX_MATCH:
            take = MAX_MATCH if remaining - MAX_MATCH >= 3 else remaining - 3
        symbols[k] = 256 + take
        counts[256 + take] += 1
        k += 1
        remaining -= take
    return k


# the high bit of each byte, the other seven, and the multiplier that gathers eight high
# bits (moved down to bit 0 of their bytes) into the top byte, byte i as bit i
_HIGH_BITS = U64(0x8080808080808080)
_LOW_BITS = U64(0x7F7F7F7F7F7F7F7F)
_GATHER = U64(0x0102040810204080)


@njit_cached(inline="always")
def _differing_bytes(word, background_word):  # noqa: ANN001, ANN202
    """An 8-bit mask of the bytes of ``word`` that differ from the background's."""
    x = word ^ background_word
    high = (((x & _LOW_BITS) + _LOW_BITS) | x) & _HIGH_BITS
    return ((high >> U64(7)) * _GATHER) >> U64(56)


@njit_cached
def _byte_symbols(column, words, background, background_word, symbols, counts):  # noqa: ANN001, ANN202, E501
    """:func:`_symbols` of a column of 1-byte items, into ``symbols``, counted in ``counts``.

    The same symbols, found faster: the bytes that differ from the background are found
    64 at a time, as the set bits of one mask built without branches from eight words,
    so only they cost any work (a branch per word was mispredicted about as often as a
    word of a sparse gene holds something). Returns how many symbols were written.
    """
    n_items = column.shape[0]
    n_words = words.shape[0]
    k = np.int64(0)
    done = np.int64(0)  # items before this one are in ``symbols``
    for first in range(0, n_words, 8):
        mask = U64(0)
        for j in range(min(8, n_words - first)):
            mask |= _differing_bytes(words[first + j], background_word) << U64(8 * j)
        while mask != U64(0):
            at = first * 8 + np.int64(trailing_zeros(mask))
            mask &= mask - U64(1)
            # a run of 0 items appends nothing
            k = _emit_byte_run(symbols, counts, k, at - done, background)
            value = column[at]
            symbols[k] = value
            counts[value] += 1
            k += 1
            done = at + 1
    for at in range(n_words * 8, n_items):
        if column[at] != background:
            k = _emit_byte_run(symbols, counts, k, at - done, background)
            symbols[k] = column[at]
            counts[column[at]] += 1
            k += 1
            done = at + 1
    if n_items > done:
        k = _emit_byte_run(symbols, counts, k, n_items - done, background)
    return k


@njit_cached
def _deflate_byte_rows(rows, backgrounds, out, ends, sym_table, extra_bits, extra_value, cl_order):  # noqa: ANN001, ANN202, E501
    """Every row of a 2-D uint8 array as one piece, back to back in ``out``.

    The same bytes as :func:`deflate_column` on each row, without a Python call per row;
    ``ends[r]`` is where row ``r``'s piece ends. Returns the bytes written.
    """
    n_items = rows.shape[1]
    whole = n_items // 8
    symbols = np.empty(n_items + 3, dtype=np.int32)  # 3 spare: see _emit_byte_run
    counts = np.zeros(256 + MAX_MATCH + 1, dtype=np.int64)
    pos = 0
    for r in range(rows.shape[0]):
        column = rows[r]
        words = np.ascontiguousarray(column[: whole * 8]).view(np.uint64)
        background = np.int64(backgrounds[r])
        background_word = U64(background) * U64(0x0101010101010101)
        counts[:] = 0
        n_symbols = _byte_symbols(column, words, background, background_word, symbols, counts)
        piece, buffer, n_bits = _deflate_symbols(
            symbols[:n_symbols], counts, 0, sym_table, extra_bits, extra_value, cl_order
        )
        piece_bytes = piece.view(np.uint8)
        out[pos : pos + piece_bytes.shape[0]] = piece_bytes
        pos += piece_bytes.shape[0]
        for k in range(np.int64(n_bits) // 8):
            out[pos] = np.uint8((buffer >> U64(8 * k)) & U64(0xFF))
            pos += 1
        out[pos] = 0
        out[pos + 1] = 0
        out[pos + 2] = 0xFF
        out[pos + 3] = 0xFF
        pos += 4
        ends[r] = pos
    return pos


def deflate_byte_rows(rows: np.ndarray, backgrounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw DEFLATE pieces of every row of a 2-D uint8 array, in one compiled call.

    Parameters
    ----------
    rows
        (n_rows, n_items) uint8 codes, one column of a gene per row.
    backgrounds
        The background code of each row.

    Returns
    -------
    The pieces back to back, and the end offset of each piece in that buffer. Each piece
    is byte for byte what :func:`deflate_column` gives for its row.
    """
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if not LITTLE_ENDIAN or rows.shape[1] == 0:
        raise ValueError("deflate_byte_rows needs a little-endian machine and non-empty rows")
    # literal codes are at most 15 bits per item, plus the block header
    out = np.empty(rows.shape[0] * (2 * rows.shape[1] + 1024), dtype=np.uint8)
    ends = np.zeros(rows.shape[0], dtype=np.int64)
    used = _deflate_byte_rows(
        rows,
        np.ascontiguousarray(backgrounds, dtype=np.uint8),
        out,
        ends,
        LENGTH_SYMBOL,
        LENGTH_EXTRA_BITS,
        LENGTH_EXTRA_VALUE,
        CODE_LENGTH_ORDER,
    )
    return out[:used], ends


def encoder_kernel(bits: int | None) -> object:
    """The compiled kernel that compresses gene pieces of ``bits``-bit codes (None: float32).

    8-bit codes go through :func:`deflate_byte_rows` (on a little-endian machine), every
    other column through :func:`deflate_column`; each kernel has one signature.
    """
    return _deflate_byte_rows if bits == 8 and LITTLE_ENDIAN else _deflate


def compile_encoder(bits: int | None) -> None:
    """Compile, or load from numba's cache, the kernel :func:`encoder_kernel` names."""
    if bits == 8 and LITTLE_ENDIAN:
        deflate_byte_rows(np.zeros((1, 16), dtype=np.uint8), np.zeros(1, dtype=np.uint8))
    else:
        deflate_column(np.zeros(16, dtype=np.uint8), 0)
