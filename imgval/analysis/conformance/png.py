"""PNG (ISO/IEC 15948): signature, chunk structure, CRCs and chunk order.

Checked: the signature; every chunk's length within the file and its CRC; IHDR first, with
valid fields; PLTE where the colour type needs or forbids it; IDAT chunks consecutive; the
ancillary chunks that must come before PLTE or IDAT; IEND last, empty, with nothing after it;
unknown critical chunks. Not checked: the compressed image data (the decoder reads it).
"""
from __future__ import annotations

import math
import struct

import imagecodecs
import numpy as np

from imgval.analysis.conformance.issues import Issue, invalid, malformed

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 100_000  # steps of the walk; a run of equal IDAT chunks (any number) is one step
_BIT_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_KNOWN_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
_BEFORE_PLTE = {b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV"}
_BEFORE_IDAT = _BEFORE_PLTE | {b"tRNS", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"oFFs", b"pCAL", b"sCAL"}
_crc32 = imagecodecs.deflate_crc32  # libdeflate: ~20 GB/s, where zlib.crc32 does ~2
MIN_RUN = 8  # equal IDAT chunks checked together (libpng writes 8 KB ones: ~5,000 in a 20 MP PNG)


def check(data) -> list[Issue]:
    """Every issue of a PNG file's chunk structure, in file order (bytes or a buffer)."""
    if bytes(data[:8]) != SIGNATURE:
        return [malformed("does not start with the PNG signature")]
    issues: list[Issue] = []
    order = _Order(issues)
    size, pos = len(data), 8
    view, array = memoryview(data), np.frombuffer(data, np.uint8)  # no copies of the file
    for _ in range(MAX_CHUNKS):
        if pos == size:
            issues.append(malformed("no IEND chunk: the file ends before it (truncated)"))
            break
        if pos + 12 > size:
            issues.append(malformed(f"chunk at byte {pos} is cut off (truncated)"))
            break
        length, kind = struct.unpack_from(">I4s", data, pos)
        name = kind.decode("latin-1")
        if not kind.isalpha():
            issues.append(malformed(f"chunk at byte {pos} has the type {name!r}, not four letters: the chunk "
                                    f"structure is broken"))
            break
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            issues.append(malformed(f"{name} chunk at byte {pos}: its length {length} runs past the end of the "
                                    f"file (truncated)"))
            break
        if kind == b"IDAT" and length:
            run = _run_of_equal_chunks(array, pos, length, size)
            if run >= MIN_RUN:
                for index in _bad_chunks(array, pos, length, 0, run):
                    issues.append(malformed(f"IDAT chunk at byte {pos + index * (length + 12)}: CRC mismatch (the "
                                            f"chunk is corrupt)"))
                order.see(kind, pos, b"", length, run)
                pos += run * (length + 12)
                continue
        stored = struct.unpack_from(">I", data, end - 4)[0]
        if _crc32(view[pos + 4:end - 4]) != stored:
            issues.append(malformed(f"{name} chunk at byte {pos}: CRC mismatch (the chunk is corrupt)"))
        order.see(kind, pos, bytes(view[pos + 8:pos + 8 + min(length, 13)]), length)
        pos = end
        if kind == b"IEND":
            if pos < size:
                issues.append(invalid(f"{size - pos} bytes after the IEND chunk"))
            break
    else:
        issues.append(invalid(f"more than {MAX_CHUNKS} chunks: the rest was not checked"))
        return issues
    issues.extend(order.final_issues())
    return issues


def _run_of_equal_chunks(array: np.ndarray, pos: int, length: int, size: int) -> int:
    """How many IDAT chunks of this length follow one another from pos (1 or more). Looked at
    in doubling windows, so a file of unequal chunks costs MIN_RUN headers per chunk, not the
    rest of the file each time."""
    step, expected = length + 12, np.frombuffer(struct.pack(">I4s", length, b"IDAT"), np.uint8)
    limit = min((size - pos) // step, MAX_CHUNKS)
    run, window = 0, MIN_RUN
    while run < limit:
        count = min(window, limit - run)
        heads = array[(pos + step * (run + np.arange(count)))[:, None] + np.arange(8)]
        same = (heads == expected).all(axis=1)
        if not same.all():
            return run + int(np.argmin(same))
        run, window = run + count, 2 * window
    return run


def _bad_chunks(array: np.ndarray, pos: int, length: int, first: int, count: int) -> list[int]:
    """Which of `count` equal chunks from chunk `first` of the run at pos have a wrong CRC, found
    by halving: a good run costs one combined check, each bad chunk about 2 log2(count) more."""
    if _crcs_match(array, pos + first * (length + 12), length, count):
        return []
    if count == 1:
        return [first]
    half = count // 2
    return (_bad_chunks(array, pos, length, first, half)
            + _bad_chunks(array, pos, length, first + half, count - half))


def _crcs_match(array: np.ndarray, pos: int, length: int, count: int) -> bool:
    """Whether `count` consecutive chunks of one length all have correct CRCs, in two passes over
    their bytes instead of `count` calls (~2 us each: 10 ms for a 20 MP PNG).

    CRC-32 is linear (up to a constant fixed by the length): the CRC of the XOR of several
    messages is the XOR of their CRCs, and appending j zero bytes to a message maps its CRC
    through a fixed linear map. The chunks are laid out as a grid, k = row * columns + column;
    the XOR of each column (and, second pass, of each row) is shifted by its index and all are
    XORed into one buffer whose CRC must equal the same combination of the stored CRCs. Damage
    in one chunk always shows; damage in several cancels out only if it is identical, at the
    same offsets, in chunks that pair up in both passes (and then only with the 2^-32 chance of
    any CRC)."""
    n, step = length + 4, length + 12
    columns = math.isqrt(count - 1) + 1
    rows = count // columns
    used = rows * columns
    grid = array[pos:pos + used * step].reshape(rows, columns, step)  # chunk k = row * columns + column
    by_column = grid[0].copy()
    by_row = np.empty((rows, step), np.uint8)
    for row in range(rows):  # one pass: each row's chunks are XORed into both while in cache
        if row:
            np.bitwise_xor(by_column, grid[row], out=by_column)
        np.bitwise_xor.reduce(grid[row], axis=0, out=by_row[row])
    stored = array[(pos + 8 + length + step * np.arange(used))[:, None] + np.arange(4)].astype(np.uint32)
    stored = (stored << np.array([24, 16, 8, 0], np.uint32)).sum(axis=1, dtype=np.uint32).reshape(rows, columns)
    if not (_combination_matches(by_column[:, 4:4 + n], np.bitwise_xor.reduce(stored, axis=0), rows)
            and _combination_matches(by_row[:, 4:4 + n], np.bitwise_xor.reduce(stored, axis=1), columns)):
        return False
    view = memoryview(array)
    for k in range(used, count):  # fewer than `columns` left over: one by one
        start = pos + k * step
        if _crc32(view[start + 4:start + 4 + n]) != int.from_bytes(view[start + 4 + n:start + 8 + n], "big"):
            return False
    return True


def _combination_matches(blocks: np.ndarray, stored: np.ndarray, members: int) -> bool:
    """blocks[b]: the XOR of `members` chunk bodies; stored[b]: the XOR of their stored CRCs.
    Compares the pure (zero-initialised) CRC of sum_b blocks[b] * x^(8b) with what the stored
    CRCs say it is."""
    count, n = blocks.shape
    buffer = np.zeros(n + count - 1, np.uint8)
    for b in range(count):  # block b followed by b zero bytes
        buffer[count - 1 - b:count - 1 - b + n] ^= blocks[b]
    length_constant = _crc32(bytes(n)) if members % 2 else 0  # crc32(m) = pure(m) ^ crc32(zeros of len(m))
    expected = 0
    for b in range(count):
        expected ^= _append_zeros(int(stored[b]) ^ length_constant, b)
    return _crc32(buffer) ^ _crc32(bytes(len(buffer))) == expected


def _append_zeros(pure: int, zeros: int) -> int:
    """The pure CRC of a message followed by `zeros` zero bytes, from the message's pure CRC."""
    return _crc32(bytes(zeros), pure ^ 0xFFFFFFFF) ^ 0xFFFFFFFF if zeros else pure


class _Order:
    """Which chunks came, and in what order."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        self.count = 0
        self.colour_type: int | None = None
        self.seen: set[bytes] = set()
        self.idat_ended = False  # a chunk other than IDAT came after IDATs

    def see(self, kind: bytes, pos: int, head: bytes, length: int, chunks: int = 1) -> None:
        self.count += chunks
        name = kind.decode("latin-1")
        if self.count == 1 and kind != b"IHDR":
            self.issues.append(malformed(f"the first chunk is {name}, not IHDR"))
        if kind == b"IHDR":
            if self.count != 1:
                self.issues.append(malformed(f"IHDR chunk at byte {pos} is not the first chunk"))
            else:
                self._header(head, length)
        elif kind == b"IDAT":
            if self.idat_ended:
                self.issues.append(invalid(f"IDAT chunk at byte {pos} is not consecutive with the other IDATs"))
        elif b"IDAT" in self.seen:
            self.idat_ended = True
        if kind == b"PLTE":
            self._palette(pos, length)
        elif kind in _BEFORE_IDAT and b"IDAT" in self.seen:
            self.issues.append(invalid(f"{name} chunk at byte {pos} comes after the image data (IDAT)"))
        elif kind in _BEFORE_PLTE and b"PLTE" in self.seen:
            self.issues.append(invalid(f"{name} chunk at byte {pos} comes after PLTE"))
        if kind == b"IEND" and length:
            self.issues.append(invalid(f"IEND chunk at byte {pos} is not empty ({length} bytes)"))
        if kind[0:1].isupper() and kind not in _KNOWN_CRITICAL:
            self.issues.append(invalid(f"unknown critical chunk {name} at byte {pos}"))
        if kind in (b"IHDR", b"PLTE") and kind in self.seen:
            self.issues.append(invalid(f"a second {name} chunk at byte {pos}"))
        self.seen.add(kind)

    def _header(self, head: bytes, length: int) -> None:
        if length != 13:
            self.issues.append(malformed(f"IHDR chunk has length {length} (13 required)"))
            return
        width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", head)
        self.colour_type = colour
        if not (0 < width < 2**31 and 0 < height < 2**31):
            self.issues.append(malformed(f"IHDR gives the size {width}x{height} (each 1 to 2^31-1)"))
        if depth not in _BIT_DEPTHS.get(colour, ()):
            self.issues.append(invalid(f"IHDR: bit depth {depth} with colour type {colour} is not allowed"))
        if compression or filtering or interlace > 1:
            self.issues.append(invalid(f"IHDR: compression {compression}, filter {filtering}, interlace "
                                       f"{interlace} (0, 0 and 0 or 1 required)"))

    def _palette(self, pos: int, length: int) -> None:
        if b"IDAT" in self.seen:
            self.issues.append(invalid(f"PLTE chunk at byte {pos} comes after the image data (IDAT)"))
        if self.colour_type in (0, 4):
            self.issues.append(invalid(f"PLTE chunk at byte {pos} in a greyscale image (colour type {self.colour_type})"))
        if length % 3 or not 3 <= length <= 768:
            self.issues.append(invalid(f"PLTE chunk at byte {pos} has length {length} (a multiple of 3, 3 to 768)"))

    def final_issues(self) -> list[Issue]:
        issues = []
        if self.count and b"IDAT" not in self.seen:
            issues.append(malformed("no IDAT chunk: the file has no image data"))
        if self.colour_type == 3 and b"PLTE" not in self.seen:
            issues.append(invalid("no PLTE chunk in a palette image (colour type 3)"))
        return issues
