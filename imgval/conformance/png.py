"""PNG (ISO/IEC 15948): signature, chunk structure, CRCs and chunk order.

Checked: the signature; every chunk's length within the file and its CRC; IHDR first, with
valid fields; PLTE where the colour type needs or forbids it; IDAT chunks consecutive; the
ancillary chunks that must come before PLTE or IDAT; IEND last, empty, with nothing after it;
unknown critical chunks. Not checked: the compressed image data (the decoder reads it).
"""
from __future__ import annotations

import struct

import imagecodecs

from .issues import Issue, invalid, malformed

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 1_000_000  # a 40 MB PNG of 8 KB IDATs has ~5,000; bounded by the file size anyway
_BIT_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_KNOWN_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
_BEFORE_PLTE = {b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV"}
_BEFORE_IDAT = _BEFORE_PLTE | {b"tRNS", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"oFFs", b"pCAL", b"sCAL"}
_crc32 = imagecodecs.deflate_crc32  # libdeflate: ~20 GB/s, where zlib.crc32 does ~2


def check(data) -> list[Issue]:
    """Every issue of a PNG file's chunk structure, in file order (bytes or a buffer)."""
    if bytes(data[:8]) != SIGNATURE:
        return [malformed("does not start with the PNG signature")]
    issues: list[Issue] = []
    order = _Order(issues)
    size, pos = len(data), 8
    view = memoryview(data)
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
    view.release()
    issues.extend(order.final_issues())
    return issues


class _Order:
    """Which chunks came, and in what order."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        self.count = 0
        self.colour_type: int | None = None
        self.seen: set[bytes] = set()
        self.idat_ended = False  # a chunk other than IDAT came after IDATs

    def see(self, kind: bytes, pos: int, head: bytes, length: int) -> None:
        self.count += 1
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
