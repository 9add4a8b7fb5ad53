"""GIF (87a and 89a): header, colour tables and the block structure.

Checked: the signature and version; the logical screen descriptor and colour tables inside the
file; every image descriptor, extension and data sub-block chain inside the file; the LZW
minimum code size; 89a extensions in an 87a file; at least one image; the trailer, with
nothing after it. Not checked: the LZW-compressed data (the decoder reads it).
"""
from __future__ import annotations

import numpy as np

from imgval.analysis.conformance.issues import Issue, invalid, malformed

MAX_BLOCKS = 100_000  # images and extensions (an animation has one of each per frame)


def check(data) -> list[Issue]:
    """Every issue of a GIF file's block structure (bytes or a buffer)."""
    head = bytes(data[:13])
    if head[:3] != b"GIF":
        return [malformed("does not start with the GIF signature")]
    issues: list[Issue] = []
    version = head[3:6]
    if version not in (b"87a", b"89a"):
        issues.append(invalid(f"unknown GIF version {version.decode('latin-1')!r} (87a or 89a)"))
    if len(head) < 13:
        return issues + [malformed("the logical screen descriptor is cut off (truncated)")]
    size = len(data)
    pos = 13 + _table_size(head[10])
    if pos > size:
        return issues + [malformed("the global colour table runs past the end of the file (truncated)")]
    images = 0
    array = np.frombuffer(data, np.uint8)
    for _ in range(MAX_BLOCKS):
        if pos >= size:
            issues.append(malformed("no trailer (3B): the file ends inside its blocks (truncated)"))
            break
        introducer = data[pos]
        if introducer == 0x3B:
            if pos + 1 < size:
                issues.append(invalid(f"{size - pos - 1} bytes after the trailer"))
            break
        if introducer == 0x2C:
            images += 1
            if pos + 10 > size:
                issues.append(malformed(f"image descriptor at byte {pos} is cut off (truncated)"))
                break
            start, pos = pos, pos + 10 + _table_size(data[pos + 9])
            if pos >= size:
                issues.append(malformed(f"image at byte {start}: the file ends before its data (truncated)"))
                break
            if not 2 <= data[pos] <= 8:
                issues.append(invalid(f"image at byte {start}: LZW minimum code size {data[pos]} (2 to 8)"))
            pos += 1
        elif introducer == 0x21:
            if version == b"87a":
                issues.append(invalid(f"extension block at byte {pos} in a GIF87a file (extensions are 89a)"))
            pos += 2
        else:
            issues.append(malformed(f"unknown block 0x{introducer:02X} at byte {pos}: the block structure is broken"))
            break
        pos = _skip_sub_blocks(data, array, pos, size)
        if pos is None:
            issues.append(malformed("a data sub-block runs past the end of the file (truncated)"))
            break
    else:
        return issues + [invalid(f"more than {MAX_BLOCKS} blocks: the rest was not checked")]
    if not images:
        issues.append(malformed("no image in the file"))
    return issues


def _table_size(packed: int) -> int:
    """Bytes of the colour table a descriptor's packed field announces (0 when absent)."""
    return 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data, array: np.ndarray, pos: int, size: int) -> int | None:
    """Past the chain of data sub-blocks starting at pos (None: it runs past the end). Encoders
    write image data as full 255-byte sub-blocks: runs of those are skipped with one numpy
    step each (a 20 MP GIF has ~40,000), the rest one by one. Each step advances, so it ends."""
    while pos < size:
        if data[pos] == 255:  # image data: a run of full sub-blocks, measured in a window
            full = array[pos:min(size, pos + 256 * 4096):256] == 255
            pos += 256 * (len(full) if full.all() else int(np.argmin(full)))
            if pos >= size:
                return None
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    return None
