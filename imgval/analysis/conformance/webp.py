"""WebP (RIFF container, RFC 9649): the RIFF structure and the chunks' layout.

Checked: the RIFF header and its size against the file's; every chunk inside the file; the
first chunk VP8, VP8L or VP8X; the VP8 start code and VP8L signature; VP8X's feature flags
against the chunks present; an image (or animation frames) present. Not checked: the
compressed image data (the decoder reads it).
"""
from __future__ import annotations

import struct

from imgval.analysis.conformance.issues import Issue, invalid, malformed

MAX_CHUNKS = 100_000
# VP8X flag -> the chunk it announces
_FLAGS = {0x20: b"ICCP", 0x10: b"ALPH", 0x08: b"EXIF", 0x04: b"XMP ", 0x02: b"ANIM"}


def check(data) -> list[Issue]:
    """Every issue of a WebP file's RIFF structure (bytes or a buffer)."""
    head = bytes(data[:12])
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return [malformed("does not start with a RIFF header of form WEBP")]
    issues: list[Issue] = []
    size = len(data)
    riff_end = 8 + struct.unpack("<I", head[4:8])[0]
    if riff_end > size:
        issues.append(malformed(f"the RIFF header gives {riff_end} bytes, the file has {size} (truncated)"))
    elif riff_end < size:
        issues.append(invalid(f"{size - riff_end} bytes after the RIFF chunk"))
    end = min(riff_end, size)
    chunks = _chunks(data, end, issues)
    if not chunks:
        issues.append(malformed("no chunks after the RIFF header: no image"))
        return issues
    first, first_at, first_size = chunks[0]
    if first == b"VP8X":
        _extended(data, chunks, issues)
    elif first in (b"VP8 ", b"VP8L"):
        _bitstream_header(data, first, first_at, first_size, issues)
        if len(chunks) > 1:
            issues.append(invalid(f"{len(chunks) - 1} chunks after the image in a simple WebP file (extra chunks "
                                  f"need a VP8X header)"))
    else:
        issues.append(malformed(f"the first chunk is {first.decode('latin-1')!r}, not VP8, VP8L or VP8X"))
    return issues


def _chunks(data, end: int, issues: list[Issue]) -> list[tuple[bytes, int, int]]:
    chunks, pos = [], 12
    while pos < end:
        if len(chunks) >= MAX_CHUNKS:
            issues.append(invalid(f"more than {MAX_CHUNKS} chunks: the rest was not checked"))
            break
        if pos + 8 > end:
            issues.append(malformed(f"chunk header at byte {pos} is cut off"))
            break
        kind, length = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + length > end:
            issues.append(malformed(f"{kind.decode('latin-1')!r} chunk at byte {pos}: its size {length} runs past "
                                    f"the end of the RIFF data (truncated)"))
            break
        chunks.append((kind, pos, length))
        pos += 8 + length + (length & 1)  # chunks are padded to an even size
    return chunks


def _bitstream_header(data, kind: bytes, at: int, length: int, issues: list[Issue]) -> None:
    body = bytes(data[at + 8:at + 8 + min(length, 10)])
    if kind == b"VP8 " and body[3:6] != b"\x9d\x01\x2a":
        issues.append(malformed(f"VP8 chunk at byte {at} lacks the VP8 start code"))
    if kind == b"VP8L" and body[:1] != b"\x2f":
        issues.append(malformed(f"VP8L chunk at byte {at} lacks the VP8L signature byte"))


def _extended(data, chunks: list[tuple[bytes, int, int]], issues: list[Issue]) -> None:
    _, at, length = chunks[0]
    kinds = [kind for kind, _, _ in chunks]
    if length != 10:
        issues.append(malformed(f"VP8X chunk has size {length} (10 required)"))
        return
    flags = data[at + 8]
    for flag, kind in _FLAGS.items():
        name = kind.decode("latin-1").strip()
        if flag & flags and kind not in kinds and flag != 0x10:  # alpha may live in VP8L itself
            issues.append(invalid(f"VP8X announces {name} but the file has no {name} chunk"))
        if not flag & flags and kind in kinds:
            issues.append(invalid(f"the file has a {name} chunk but VP8X does not announce it"))
    images = [chunk for chunk in chunks if chunk[0] in (b"VP8 ", b"VP8L")]
    if flags & 0x02:
        if b"ANMF" not in kinds:
            issues.append(malformed("an animated WebP without frames (ANMF)"))
    elif not images:
        issues.append(malformed("no image chunk (VP8 or VP8L) after VP8X"))
    else:
        _bitstream_header(data, *images[0], issues)
