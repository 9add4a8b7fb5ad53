"""BMP (Windows and OS/2 bitmaps): the file and DIB headers against the file's size.

Checked: the BM signature; the file size field; the DIB header size, planes, bits per pixel,
compression (and that it suits the bit depth); the pixel data offset; the palette size; for
uncompressed bitmaps, that the pixel rows fit in the file. Not checked: RLE, JPEG or PNG
compressed pixel data (the decoder reads it).
"""
from __future__ import annotations

import struct

from imgval.analysis.conformance.issues import Issue, invalid, malformed

_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_BITS = {1, 2, 4, 8, 16, 24, 32}
# compression -> the bit depths it applies to (None: any)
_COMPRESSION = {0: None, 1: {8}, 2: {4}, 3: {16, 32}, 4: None, 5: None, 6: {16, 32}}


def check(data) -> list[Issue]:
    """Every issue of a BMP file's headers (bytes or a buffer)."""
    head = bytes(data[:54])
    if head[:2] != b"BM":
        return [malformed("does not start with the BM signature")]
    if len(head) < 18:
        return [malformed("the BMP headers are cut off (truncated)")]
    issues: list[Issue] = []
    size = len(data)
    stated, offset, header_size = struct.unpack_from("<I4xII", head, 2)
    if stated > size:
        issues.append(malformed(f"the header gives a file size of {stated} bytes, the file has {size} (truncated)"))
    elif stated and stated < size:
        issues.append(invalid(f"{size - stated} bytes after the size the header gives"))
    if header_size not in _HEADER_SIZES:
        return issues + [malformed(f"unknown DIB header size {header_size}")]
    if 14 + header_size > size:
        return issues + [malformed("the DIB header is cut off (truncated)")]
    if header_size == 12:
        width, height, planes, bits = struct.unpack_from("<HHHH", head, 18)
        compression, colours = 0, 0
    else:
        width, height, planes, bits, compression = struct.unpack_from("<iiHHI", head, 18)
        colours = struct.unpack_from("<I", head, 46)[0] if header_size >= 40 else 0
    if width <= 0 or height == 0:
        issues.append(malformed(f"the DIB header gives the size {width}x{height}"))
    if planes != 1:
        issues.append(invalid(f"{planes} colour planes (1 required)"))
    if bits not in _BITS:
        issues.append(invalid(f"{bits} bits per pixel (1, 4, 8, 16, 24 or 32)"))
    if compression not in _COMPRESSION:
        issues.append(invalid(f"unknown compression {compression}"))
    elif _COMPRESSION[compression] is not None and bits not in _COMPRESSION[compression]:
        issues.append(invalid(f"compression {compression} with {bits} bits per pixel"))
    if bits <= 8 and colours > 2 ** bits:
        issues.append(invalid(f"a palette of {colours} colours for {bits} bits per pixel"))
    if offset >= size:
        issues.append(malformed(f"the pixel data offset {offset} is past the end of the file"))
    elif compression in (0, 3, 6) and width > 0 and bits in _BITS:
        needed = ((width * bits + 31) // 32) * 4 * abs(height)
        if offset + needed > size:
            issues.append(malformed(f"the pixel rows need {needed} bytes from byte {offset}, the file has "
                                    f"{size - offset} (truncated)"))
    return issues
