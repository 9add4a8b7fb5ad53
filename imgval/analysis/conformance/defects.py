"""Each defect the conformance checks look for, made deliberately: DEFECTS[format][name] is
(damage, verdict, words): damage takes a valid file's bytes and returns a damaged copy (None when
it does not apply to that file), which must get the verdict and an issue containing the words."""
from __future__ import annotations

import struct
import zlib
from typing import Callable

from imgval.analysis.conformance.issues import NOT_WELL_FORMED, WELL_FORMED_NOT_VALID
from imgval.analysis.conformance.layouts import drop_jpeg_segments, jpeg_segments


def _cut(fraction: float):
    return lambda data: data[:int(len(data) * fraction)]


def _append(data: bytes) -> bytes:
    return data + bytes(range(256)) * 4


def _jpeg_edit(marker: int, edit: Callable[[bytearray, int, int], None]):
    def damage(data: bytes) -> bytes | None:
        for found, start, end in jpeg_segments(data):
            if found == marker or (marker == 0xC0 and found in (0xC0, 0xC1, 0xC2)):
                copy = bytearray(data)
                edit(copy, start, end)
                return bytes(copy)
        return None
    return damage


def _jfif_moved(data: bytes) -> bytes | None:
    segments = jpeg_segments(data)
    if not segments or segments[0][0] != 0xE0:
        return None
    _, start, end = segments[0]
    _, dqt_start, dqt_end = next(s for s in segments if s[0] == 0xDB)
    return data[:2] + data[end:dqt_end] + data[start:end] + data[dqt_end:]


def _jpeg_garbage(data: bytes) -> bytes:
    _, _, end = jpeg_segments(data)[0]
    return data[:end] + b"\x00\x00" + data[end:]


def _no_sof(data: bytes) -> bytes:
    return drop_jpeg_segments(data, {0xC0, 0xC1, 0xC2})


def _no_dht(data: bytes) -> bytes | None:
    if not any(marker == 0xC4 for marker, _, _ in jpeg_segments(data)):
        return None
    return drop_jpeg_segments(data, {0xC4})


def _add(position: int, amount: int):
    def edit(copy: bytearray, start: int, end: int) -> None:
        copy[start + position] = (copy[start + position] + amount) % 256
    return edit


JPEG_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "truncated-in-headers": (lambda d: d[:jpeg_segments(d)[1][1] + 10], NOT_WELL_FORMED, "runs past the end"),
    "no-soi": (lambda d: d[2:], NOT_WELL_FORMED, "SOI marker"),
    "no-eoi": (lambda d: d[:-2], NOT_WELL_FORMED, "no EOI marker"),
    "data-after-eoi": (_append, WELL_FORMED_NOT_VALID, "after the EOI marker"),
    "no-jfif-exif-adobe": (lambda d: drop_jpeg_segments(d, {0xE0, 0xE1, 0xEE}), WELL_FORMED_NOT_VALID,
                           "no JFIF (APP0), Exif (APP1) or Adobe"),
    "jfif-not-first": (_jfif_moved, WELL_FORMED_NOT_VALID, "does not follow SOI"),
    "dqt-length-wrong": (_jpeg_edit(0xDB, _add(3, 3)), NOT_WELL_FORMED, "DQT segment"),
    "sof-components-wrong": (_jpeg_edit(0xC0, _add(9, 1)), NOT_WELL_FORMED, "frame header (SOF)"),
    "sos-components-wrong": (_jpeg_edit(0xDA, _add(4, 1)), NOT_WELL_FORMED, "scan header (SOS)"),
    "no-frame-header": (_no_sof, NOT_WELL_FORMED, "before any frame header"),
    "no-huffman-tables": (_no_dht, WELL_FORMED_NOT_VALID, "no Huffman table"),
    "garbage-between-segments": (_jpeg_garbage, NOT_WELL_FORMED, "expected a marker"),
}


class _Tiff:
    """The first IFD of a classic TIFF, for editing its entries in place."""

    def __init__(self, data: bytes):
        self.data = bytearray(data)
        self.order = "<" if data[:2] == b"II" else ">"
        self.ifd = struct.unpack_from(self.order + "I", data, 4)[0]
        count = struct.unpack_from(self.order + "H", data, self.ifd)[0]
        self.entries = {}  # tag -> position of its 12-byte entry
        for i in range(count):
            position = self.ifd + 2 + 12 * i
            self.entries[struct.unpack_from(self.order + "H", data, position)[0]] = position
        self.next_at = self.ifd + 2 + 12 * count

    @classmethod
    def of(cls, data: bytes) -> "_Tiff | None":
        return cls(data) if struct.unpack_from("<H" if data[:2] == b"II" else ">H", data, 2)[0] == 42 else None

    def field(self, tag: int) -> tuple[int, int, int]:
        return struct.unpack_from(self.order + "HII", self.data, self.entries[tag] + 2)

    def put(self, position: int, code: str, value) -> bytes:
        struct.pack_into(self.order + code, self.data, position, value)
        return bytes(self.data)

    def value_position(self, tag: int) -> int:
        kind, count, value = self.field(tag)
        width = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}.get(kind, 4)
        return self.entries[tag] + 8 if width * count <= 4 else value


def _tiff_defect(edit: Callable[[_Tiff], bytes | None], needs: tuple[int, ...] = ()):
    def damage(data: bytes) -> bytes | None:
        tiff = _Tiff.of(data)
        if tiff is None or any(tag not in tiff.entries for tag in needs):
            return None
        return edit(tiff)
    return damage


def _odd_ifd(tiff: _Tiff) -> bytes:
    """A copy of IFD 0 at an odd offset at the end of the file, pointed to by the header."""
    ifd = bytes(tiff.data[tiff.ifd:tiff.next_at + 4])
    moved = bytearray(tiff.data)
    if len(moved) % 2 == 0:
        moved += b"\x00"
    struct.pack_into(tiff.order + "I", moved, 4, len(moved))
    return bytes(moved + ifd)


def _swap_first_entries(tiff: _Tiff) -> bytes:
    first, second = tiff.ifd + 2, tiff.ifd + 14
    data = tiff.data
    data[first:first + 12], data[second:second + 12] = data[second:second + 12], data[first:first + 12]
    return bytes(data)


def _external_value_past_end(tiff: _Tiff) -> bytes | None:
    for tag, position in tiff.entries.items():
        kind, count, _ = tiff.field(tag)
        if tag not in (273, 279, 324, 325) and {1: 1, 2: 1, 3: 2, 4: 4, 5: 8}.get(kind, 4) * count > 4:
            return tiff.put(position + 8, "I", len(tiff.data) + 10)
    return None


def _first_offset_past_end(tiff: _Tiff) -> bytes:
    tag = 273 if 273 in tiff.entries else 324
    kind, _, _ = tiff.field(tag)
    return tiff.put(tiff.value_position(tag), "H" if kind == 3 else "I", len(tiff.data) - 10)


def _photometric_mismatch(tiff: _Tiff) -> bytes:
    current = struct.unpack_from(tiff.order + "H", tiff.data, tiff.entries[262] + 8)[0]
    return tiff.put(tiff.entries[262] + 8, "H", 1 if current in (2, 5, 6, 8) else 2)  # colour <-> one sample


def _strip_counts_short(tiff: _Tiff) -> bytes | None:
    kind, count, value = tiff.field(279)
    if count < 4:
        return None
    return tiff.put(tiff.entries[279] + 4, "I", count - 1)


def _uncompressed_counts_short(tiff: _Tiff) -> bytes | None:
    if tiff.field(259)[2] not in (1, 0x10000) or 279 not in tiff.entries:  # Compression 1, either byte order
        return None
    kind, count, _ = tiff.field(279)
    position = tiff.value_position(279)
    return tiff.put(position, "H" if kind == 3 else "I", 1)


def _bad_datetime(tiff: _Tiff) -> bytes | None:
    if 306 not in tiff.entries:
        return None
    position = tiff.value_position(306)
    tiff.data[position + 4] = ord("-")
    return bytes(tiff.data)


def _retag(old: int, new: int):
    return lambda tiff: tiff.put(tiff.entries[old], "H", new)


TIFF_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "past the end"),
    "bad-version": (lambda d: d[:2] + (b"\x29\x00" if d[:2] == b"II" else b"\x00\x29") + d[4:], NOT_WELL_FORMED,
                    "version number"),
    "ifd-offset-past-end": (_tiff_defect(lambda t: t.put(4, "I", len(t.data) + 100)), NOT_WELL_FORMED,
                            "past the end of the file"),
    "ifd-not-word-aligned": (_tiff_defect(_odd_ifd), WELL_FORMED_NOT_VALID, "not word-aligned"),
    "ifd-chain-loop": (_tiff_defect(lambda t: t.put(t.next_at, "I", t.ifd)), NOT_WELL_FORMED, "loops back"),
    "ifd-entry-count-wrong": (_tiff_defect(lambda t: t.put(t.ifd, "H", 65000)), NOT_WELL_FORMED, "entries"),
    "tags-out-of-order": (_tiff_defect(_swap_first_entries), WELL_FORMED_NOT_VALID, "out of order"),
    "unknown-field-type": (_tiff_defect(lambda t: t.put(t.entries[max(t.entries)] + 2, "H", 99)),
                           WELL_FORMED_NOT_VALID, "unknown field type"),
    "wrong-tag-type": (_tiff_defect(lambda t: t.put(t.entries[277] + 2, "H", 4), (277,)), WELL_FORMED_NOT_VALID,
                       "SamplesPerPixel has type LONG"),
    "wrong-tag-count": (_tiff_defect(lambda t: t.put(t.entries[259] + 4, "I", 2), (259,)), WELL_FORMED_NOT_VALID,
                        "Compression has 2 values"),
    "value-past-end": (_tiff_defect(_external_value_past_end), NOT_WELL_FORMED, "runs past the end"),
    "strip-past-end": (_tiff_defect(_first_offset_past_end), NOT_WELL_FORMED, "run past the end of the file"),
    "strip-counts-mismatch": (_tiff_defect(_strip_counts_short, (279,)), WELL_FORMED_NOT_VALID, "StripByteCounts"),
    "uncompressed-strips-short": (_tiff_defect(_uncompressed_counts_short, (259,)), NOT_WELL_FORMED,
                                  "the uncompressed strips hold"),
    "no-photometric": (_tiff_defect(_retag(262, 263), (262,)), WELL_FORMED_NOT_VALID,
                       "PhotometricInterpretation is missing"),
    "no-image-width": (_tiff_defect(_retag(256, 255), (256,)), NOT_WELL_FORMED, "ImageWidth is missing"),
    "photometric-vs-samples": (_tiff_defect(_photometric_mismatch, (262,)), WELL_FORMED_NOT_VALID, "colour samples"),
    "bad-datetime": (_tiff_defect(_bad_datetime), WELL_FORMED_NOT_VALID, "DateTime"),
}


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every chunk."""
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks.append((kind, pos, pos + 12 + length))
        pos += 12 + length
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_insert(kind: bytes, body: bytes, after: bytes):
    def damage(data: bytes) -> bytes:
        _, _, end = [c for c in _png_chunks(data) if c[0] == after][-1]
        return data[:end] + _chunk(kind, body) + data[end:]
    return damage


def _png_split_idat(data: bytes) -> bytes:
    _, start, end = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
    body = data[start + 8:end - 4]
    half = len(body) // 2
    middle = _chunk(b"IDAT", body[:half]) + _chunk(b"tEXt", b"Note\x00split") + _chunk(b"IDAT", body[half:])
    return data[:start] + middle + data[end:]


def _png_flip_idat_byte(data: bytes) -> bytes:
    _, start, _ = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
    copy = bytearray(data)
    copy[start + 20] ^= 0x55
    return bytes(copy)


def _png_swap_ihdr(data: bytes) -> bytes:
    (_, a, b), (_, _, c) = _png_chunks(data)[:2]
    return data[:8] + data[b:c] + data[a:b] + data[c:]


def _png_ihdr_depth(data: bytes) -> bytes:
    body = bytearray(data[16:29])
    body[8] = 3
    return data[:8] + _chunk(b"IHDR", bytes(body)) + data[33:]


def _png_drop_plte(data: bytes) -> bytes | None:
    plte = [c for c in _png_chunks(data) if c[0] == b"PLTE"]
    if not plte:
        return None
    _, start, end = plte[0]
    return data[:start] + data[end:]


def _png_idat_length(data: bytes) -> bytes:
    _, start, _ = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
    return data[:start] + struct.pack(">I", len(data)) + data[start + 4:]


PNG_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "bad-signature": (lambda d: d[:7] + b"\x00" + d[8:], NOT_WELL_FORMED, "PNG signature"),
    "crc-mismatch": (_png_flip_idat_byte, NOT_WELL_FORMED, "CRC mismatch"),
    "no-iend": (lambda d: d[:-12], NOT_WELL_FORMED, "no IEND chunk"),
    "data-after-iend": (_append, WELL_FORMED_NOT_VALID, "after the IEND chunk"),
    "ihdr-not-first": (_png_swap_ihdr, NOT_WELL_FORMED, "not IHDR"),
    "idat-not-consecutive": (_png_split_idat, WELL_FORMED_NOT_VALID, "not consecutive"),
    "unknown-critical-chunk": (_png_insert(b"ABCD", b"1234", b"IDAT"), WELL_FORMED_NOT_VALID,
                               "unknown critical chunk"),
    "gama-after-idat": (_png_insert(b"gAMA", struct.pack(">I", 45455), b"IDAT"), WELL_FORMED_NOT_VALID,
                        "comes after the image data"),
    "bad-bit-depth": (_png_ihdr_depth, WELL_FORMED_NOT_VALID, "bit depth"),
    "no-plte-in-palette-image": (_png_drop_plte, WELL_FORMED_NOT_VALID, "no PLTE chunk"),
    "chunk-length-past-end": (_png_idat_length, NOT_WELL_FORMED, "runs past the end"),
}


def _replace_after(marker: bytes, offset: int, value: bytes):
    def damage(data: bytes) -> bytes | None:
        at = data.find(marker)
        if at < 0:
            return None
        at += offset
        return data[:at] + value + data[at + len(value):]
    return damage


JP2_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "EOC"),
    "no-eoc": (lambda d: d[:-2], NOT_WELL_FORMED, "EOC"),
    "ihdr-box-length": (_replace_after(b"ihdr", -4, b"\x00\x00\x00\x14"), NOT_WELL_FORMED, "boxLengthIsValid"),
    "colour-method": (_replace_after(b"colr", 4, b"\x09"), WELL_FORMED_NOT_VALID, "methIsValid"),
    "file-type-brand": (_replace_after(b"ftyp", 4, b"xxx "), WELL_FORMED_NOT_VALID, "brandIsValid"),
    "siz-components": (_replace_after(b"\xff\x51", 38, b"\x00\x07"), WELL_FORMED_NOT_VALID, "jpylyzer test"),
}


def _riff_size(delta: int):
    return lambda d: d[:4] + struct.pack("<I", struct.unpack_from("<I", d, 4)[0] + delta) + d[8:]


def _webp_first_chunk(edit: Callable[[bytearray], None]):
    def damage(data: bytes) -> bytes:
        copy = bytearray(data)
        edit(copy)
        return bytes(copy)
    return damage


def _webp_bitstream(data: bytes) -> bytes:
    """Break the VP8 start code or the VP8L signature of the first image chunk."""
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, pos)
        if kind in (b"VP8 ", b"VP8L"):
            copy = bytearray(data)
            copy[pos + 8 + (3 if kind == b"VP8 " else 0)] ^= 0xFF
            return bytes(copy)
        pos += 8 + length + (length & 1)
    return None


def _webp_clear_flags(data: bytes) -> bytes | None:
    if data[12:16] != b"VP8X" or not data[20] & 0x2C:
        return None
    return data[:20] + bytes([data[20] & ~0x2C & 0xFF]) + data[21:]


def _webp_chunk_past_end(data: bytes) -> bytes:
    return _riff_size(1000)(data[:16] + struct.pack("<I", struct.unpack_from("<I", data, 16)[0] + 1000) + data[20:])


WEBP_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "riff-size-too-large": (_riff_size(100), NOT_WELL_FORMED, "truncated"),
    "data-after-riff": (_append, WELL_FORMED_NOT_VALID, "after the RIFF chunk"),
    "bitstream-signature": (_webp_bitstream, NOT_WELL_FORMED, "lacks the"),
    "unannounced-chunks": (_webp_clear_flags, WELL_FORMED_NOT_VALID, "does not announce"),
    "chunk-past-end": (_webp_chunk_past_end, NOT_WELL_FORMED, "runs past"),
    "unknown-first-chunk": (_webp_first_chunk(lambda c: c.__setitem__(slice(12, 16), b"ABCD")), NOT_WELL_FORMED,
                            "not VP8, VP8L or VP8X"),
}


def _gif_first_image(data: bytes) -> int | None:
    """Offset of the first image descriptor (0x2C) found by walking the blocks."""
    pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while pos < len(data):
        if data[pos] == 0x2C:
            return pos
        if data[pos] != 0x21:
            return None
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    return None


def _gif_lzw(data: bytes) -> bytes | None:
    at = _gif_first_image(data)
    if at is None:
        return None
    packed = data[at + 9]
    code_at = at + 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    return data[:code_at] + b"\x0c" + data[code_at + 1:]


def _gif_87a(data: bytes) -> bytes | None:
    if data[3:6] != b"89a":
        return None
    return data[:3] + b"87a" + data[6:]


GIF_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "no-trailer": (lambda d: d[:-1], NOT_WELL_FORMED, "no trailer"),
    "data-after-trailer": (_append, WELL_FORMED_NOT_VALID, "after the trailer"),
    "unknown-block": (lambda d: d[:-1] + b"\x99" + d[-1:], NOT_WELL_FORMED, "unknown block"),
    "lzw-code-size": (_gif_lzw, WELL_FORMED_NOT_VALID, "LZW minimum code size"),
    "extension-in-gif87a": (_gif_87a, WELL_FORMED_NOT_VALID, "in a GIF87a file"),
    "unknown-version": (lambda d: d[:3] + b"88a" + d[6:], WELL_FORMED_NOT_VALID, "unknown GIF version"),
}


def _bmp_field(offset: int, code: str, value):
    def damage(data: bytes) -> bytes:
        copy = bytearray(data)
        struct.pack_into("<" + code, copy, offset, value(data) if callable(value) else value)
        return bytes(copy)
    return damage


def _bmp_compression_mismatch(data: bytes) -> bytes:
    bits = struct.unpack_from("<H", data, 28)[0]
    return _bmp_field(30, "I", 2 if bits == 8 else 1)(data)


BMP_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "size-field-short": (_bmp_field(2, "I", lambda d: len(d) - 100), WELL_FORMED_NOT_VALID, "after the size"),
    "planes": (_bmp_field(26, "H", 2), WELL_FORMED_NOT_VALID, "colour planes"),
    "bits-per-pixel": (_bmp_field(28, "H", 7), WELL_FORMED_NOT_VALID, "bits per pixel"),
    "compression-vs-depth": (_bmp_compression_mismatch, WELL_FORMED_NOT_VALID, "compression"),
    "pixel-offset-past-end": (_bmp_field(10, "I", lambda d: len(d) + 10), NOT_WELL_FORMED, "offset"),
    "dib-header-size": (_bmp_field(14, "I", 41), NOT_WELL_FORMED, "DIB header size"),
    "zero-width": (_bmp_field(18, "i", 0), NOT_WELL_FORMED, "gives the size"),
}

DEFECTS = {"JPEG": JPEG_DEFECTS, "TIFF": TIFF_DEFECTS, "PNG": PNG_DEFECTS, "JPEG2000": JP2_DEFECTS,
           "WEBP": WEBP_DEFECTS, "GIF": GIF_DEFECTS, "BMP": BMP_DEFECTS}
