"""Hostile image files, built in memory, for the tests and benchmarks/hostile_corpus.py.

Decompression bombs of every format imgval reads (a few kilobytes that claim, and often really
decode to, gigabytes of pixels), and damaged copies of valid files (truncated, bit-flipped,
fuzzed headers). Deterministic: a seed gives the same bytes. Never write their output into the
repository; decode them only under a memory limit (`prlimit --as=...`).
"""
from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator

import numpy as np
from PIL import Image


def _zeros_deflated(size: int, chunk: int = 1 << 22) -> bytes:
    """zlib stream of `size` zero bytes, compressed in chunks (never `size` bytes in memory)."""
    packer = zlib.compressobj(6)
    block = bytes(min(size, chunk))
    parts, left = [], size
    while left > 0:
        parts.append(packer.compress(block[:min(left, chunk)]))
        left -= chunk
    parts.append(packer.flush())
    return b"".join(parts)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int, bit_depth: int = 16, colour_type: int = 6) -> bytes:
    """A complete, valid PNG of zeros (colour type 6 = RGBA, 2 = RGB, 0 = gray): a few MB that
    decode to width x height x channels x bit_depth/8 bytes."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = 1 + width * channels * bit_depth // 8  # the filter byte, then the samples
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", _zeros_deflated(row * height)) + _png_chunk(b"IEND", b""))


def gif_screen_bomb(width: int = 15000, height: int = 15000) -> bytes:
    """A GIF of ~40 bytes: a width x height logical screen holding one 1x1 frame."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame + b";"


def _tiff(pages: list[dict[int, tuple[int, list[int]]]], data: bytes) -> bytes:
    """A little-endian TIFF: pages are {tag: (type, values)} with offsets relative to `data`,
    which is stored right after the 8-byte header."""
    out = bytearray(b"II*\0" + struct.pack("<I", 0) + data)
    previous_link = 4
    for tags in pages:
        if len(out) % 2:
            out += b"\0"
        extra = bytearray()
        start = len(out)
        entries_end = start + 2 + 12 * len(tags) + 4
        entries = bytearray(struct.pack("<H", len(tags)))
        for tag in sorted(tags):
            kind, values = tags[tag]
            fmt = {3: "H", 4: "I"}[kind]
            packed = struct.pack(f"<{len(values)}{fmt}", *values)
            if len(packed) <= 4:
                entries += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
            else:
                entries += struct.pack("<HHII", tag, kind, len(values), entries_end + len(extra))
                extra += packed
        struct.pack_into("<I", out, previous_link, start)
        out += entries
        previous_link = len(out)
        out += struct.pack("<I", 0) + extra
    return bytes(out)


def tiff_bomb(width: int, height: int, bits: int = 16, samples: int = 4, small_first_page: bool = False) -> bytes:
    """A Deflate-compressed TIFF of zeros, width x height x samples x bits (a real bomb); with
    small_first_page the big page hides behind a 16x16 first page."""
    size = width * height * samples * bits // 8
    strip = _zeros_deflated(size)

    def page(w: int, h: int, offset: int, count: int) -> dict:
        return {256: (4, [w]), 257: (4, [h]), 258: (3, [bits] * samples), 259: (3, [8]),
                262: (3, [2 if samples >= 3 else 1]), 273: (4, [offset]), 277: (3, [samples]),
                278: (4, [h]), 279: (4, [count]), 284: (3, [1]),
                **({338: (3, [2])} if samples in (2, 4) else {})}
    small = _zeros_deflated(16 * 16 * samples * bits // 8)
    if small_first_page:
        return _tiff([page(16, 16, 8, len(small)), page(width, height, 8 + len(small), len(strip))], small + strip)
    return _tiff([page(width, height, 8, len(strip))], strip)


def _pillow(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jp2_header_bomb(width: int = 40000, height: int = 40000) -> bytes:
    """A JPEG 2000 (JP2) file whose image header and codestream size claim width x height (one
    tile), with a 64x64 picture's coded data: OpenJPEG allocates the whole canvas, 4 bytes a
    sample, before it finds out."""
    data = bytearray(_pillow(Image.new("RGB", (64, 64), (90, 120, 30)), "JPEG2000", irreversible=False))
    ihdr = data.find(b"ihdr")
    struct.pack_into(">II", data, ihdr + 4, height, width)
    siz = data.find(b"\xff\x51")
    # SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz ...
    struct.pack_into(">II", data, siz + 6, width, height)
    struct.pack_into(">II", data, siz + 22, width, height)
    return bytes(data)


def webp_bomb(width: int = 16383, height: int = 16383) -> bytes:
    """A lossless WebP of one colour, re-labelled width x height: single-symbol Huffman codes
    cost no bits, so the few bytes of a 16x16 picture decode to a full-size canvas."""
    data = bytearray(_pillow(Image.new("RGBA", (16, 16), (10, 200, 30, 255)), "WEBP", lossless=True))
    vp8l = data.find(b"VP8L") + 8 + 1  # chunk header, then the 0x2f signature byte
    bits = int.from_bytes(data[vp8l:vp8l + 4], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[vp8l:vp8l + 4] = bits.to_bytes(4, "little")
    return bytes(data)


def bmp_bomb(width: int = 15000, height: int = 15000, bits: int = 32) -> bytes:
    """A BMP header claiming width x height at `bits` per pixel, with one row of pixel data."""
    row = (width * bits // 8 + 3) & ~3
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, row * height, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + row, 0, 0, 14 + len(info)) + info + bytes(row)


def bmp_rle_bomb(width: int = 15000, height: int = 15000) -> bytes:
    """A valid 8-bit RLE BMP of a few bytes: "end of bitmap" at once, the rest implied."""
    palette = bytes(4 * 256)
    pixels = b"\x00\x01"  # end of bitmap
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def jpeg_header_bomb(width: int = 15000, height: int = 15000) -> bytes:
    """A JPEG whose frame header claims width x height, cut short after a little scan data."""
    data = bytearray(_pillow(Image.new("RGB", (64, 64), (120, 60, 30)), "JPEG", quality=90))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data[:-2])  # without its end-of-image marker too


def heif_header_bomb(width: int = 15000, height: int = 15000) -> bytes | None:
    """A HEIF whose image-spatial-extents box (ispe) claims width x height; None without an
    encoder (pillow_heif built without x265)."""
    try:
        import pillow_heif
        pillow_heif.register_heif_opener()
        data = bytearray(_pillow(Image.new("RGB", (64, 64), (30, 90, 160)), "HEIF", quality=50))
    except Exception:
        return None
    at = 0
    while (at := data.find(b"ispe", at + 1)) > 0:
        struct.pack_into(">II", data, at + 8, width, height)  # after the box's version/flags
    return bytes(data)


def bombs() -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of a bomb of each supported format, each claiming well over a gigabyte of
    decoded pixels while staying under the default 250 MP pixel limit; and the containers
    imgval does not read (ICNS wrapping a JPEG 2000, ICO wrapping a PNG) that Pillow would open."""
    yield "png_16bit_rgba_12000.png", png_bomb(12000, 12000, 16, 6)
    # just under the default limit (1000 MB decoded): the most a file may really cost
    yield "png_8bit_rgb_11900.png", png_bomb(11900, 11900, 8, 2)
    yield "png_16bit_rgba_9100.png", png_bomb(9100, 9100, 16, 6)
    yield "tiff_8bit_rgb_11900.tif", tiff_bomb(11900, 11900, 8, 3)
    yield "tiff_16bit_rgb_10000.tif", tiff_bomb(10000, 10000, 16, 3)
    yield "webp_11900.webp", webp_bomb(11900, 11900)
    yield "bmp_rle8_11900.bmp", bmp_rle_bomb(11900, 11900)
    yield "gif_screen_11000.gif", gif_screen_bomb(11000, 11000)
    yield "png_8bit_rgba_15000.png", png_bomb(15000, 15000, 8, 6)
    yield "gif_screen_15000.gif", gif_screen_bomb()
    yield "tiff_16bit_rgba_12000.tif", tiff_bomb(12000, 12000)
    yield "tiff_second_page_12000.tif", tiff_bomb(12000, 12000, small_first_page=True)
    yield "jp2_header_15000.jp2", jp2_header_bomb(15000, 15000)
    yield "jp2_header_40000.jp2", jp2_header_bomb(40000, 40000)
    yield "webp_16383.webp", webp_bomb()
    yield "bmp_32bit_15000.bmp", bmp_bomb()
    yield "bmp_rle8_15000.bmp", bmp_rle_bomb()
    yield "jpeg_header_15000.jpg", jpeg_header_bomb()
    heif = heif_header_bomb()
    if heif is not None:
        yield "heif_ispe_15000.heic", heif
    jp2 = jp2_header_bomb(256, 1_014_197_964 // 256)
    yield "icns_wrapping_jp2.icns", b"icns" + struct.pack(">I", 8 + 8 + len(jp2)) + b"ic10" + struct.pack(">I", 8 + len(jp2)) + jp2
    ico_png = png_bomb(12000, 12000, 16, 6)
    yield "ico_wrapping_png.ico", (struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(ico_png), 22)
                                   + ico_png)


def valid_seeds(size: tuple[int, int] = (96, 64)) -> Iterator[tuple[str, bytes]]:
    """Small valid files of each format and several layouts, the seeds for damaged copies."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    gray16 = Image.fromarray(rng.integers(0, 65536, (size[1], size[0]), dtype=np.uint16))
    yield "seed.jpg", _pillow(rgb, "JPEG", quality=85)
    yield "seed_progressive.jpg", _pillow(rgb, "JPEG", quality=85, progressive=True)
    yield "seed.png", _pillow(rgb, "PNG")
    yield "seed_16bit.png", _pillow(gray16, "PNG")
    yield "seed_lzw.tif", _pillow(rgb, "TIFF", compression="tiff_lzw")
    yield "seed_deflate.tif", _pillow(rgb, "TIFF", compression="tiff_adobe_deflate")
    yield "seed_16bit.tif", _pillow(gray16, "TIFF")
    yield "seed.jp2", _pillow(rgb, "JPEG2000")
    yield "seed.webp", _pillow(rgb, "WEBP", quality=80)
    yield "seed_lossless.webp", _pillow(rgb, "WEBP", lossless=True)
    yield "seed.bmp", _pillow(rgb, "BMP")
    yield "seed.gif", _pillow(rgb.convert("P"), "GIF")
    heif = None
    try:
        import pillow_heif
        pillow_heif.register_heif_opener()
        heif = _pillow(rgb, "HEIF", quality=60)
    except Exception:
        pass
    if heif:
        yield "seed.heic", heif


def damaged(name: str, data: bytes, copies: int, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """Damaged copies of one valid file: truncations, bit flips over the whole file, and fuzzed
    headers (random bytes written over the first 64, where sizes and offsets live)."""
    rng = random.Random(f"{seed}:{name}")
    stem = name.replace(".", "_")
    for i in range(copies):
        kind = ("truncated", "bitflip", "header")[i % 3]
        mutated = bytearray(data)
        if kind == "truncated":
            mutated = mutated[:rng.randrange(1, len(data))]
        elif kind == "bitflip":
            for _ in range(rng.randint(1, 16)):
                at = rng.randrange(len(mutated))
                mutated[at] ^= 1 << rng.randrange(8)
        else:
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(min(64, len(mutated)))
                mutated[at] = rng.randrange(256)
        yield f"{stem}_{kind}_{i:03d}", bytes(mutated)


def _tifffile(array: np.ndarray, **params) -> bytes:
    import tifffile
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **params)
    return buffer.getvalue()


def _bmp(width: int, height: int, bits: int, pixels: bytes, compression: int = 0, masks=(), header: int = 40,
         palette: bytes = b"") -> bytes:
    """A BMP with a BITMAPINFOHEADER (40), V4 (108) or V5 (124) header and optional bit masks."""
    info = struct.pack("<IiiHHIIiiII", header, width, height, 1, bits, compression, len(pixels), 2835, 2835,
                       len(palette) // 4, 0)
    if header > 40:
        info += struct.pack("<4I", *(list(masks) + [0] * 4)[:4]) + bytes(header - 56)
    elif masks:
        info += struct.pack(f"<{len(masks)}I", *masks)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def _bmp_pixels(gray: np.ndarray, bits: int, masks: tuple[int, ...]) -> bytes:
    """Pack an 8-bit gray picture into `bits`-bit pixels through the given bit masks (bottom-up)."""
    value = np.zeros(gray.shape, np.uint64)
    for mask in masks[:3]:
        width = bin(mask).count("1")
        shift = (mask & -mask).bit_length() - 1
        scaled = gray.astype(np.uint64) >> (8 - width) if width <= 8 else gray.astype(np.uint64) << (width - 8)
        value |= (scaled << shift) & mask
    if len(masks) > 3:
        value |= masks[3]  # opaque
    dtype = np.dtype("<u2") if bits == 16 else np.dtype("<u4")
    rows = value.astype(dtype)[::-1]
    stride = (gray.shape[1] * bits // 8 + 3) & ~3
    return b"".join(row.tobytes().ljust(stride, b"\0") for row in rows)


def old_style_jpeg_tiff(rgb: np.ndarray) -> bytes:
    """A TIFF with old-style JPEG compression (6): a whole JFIF stream the TIFF points at
    (JPEGInterchangeFormat), as scanners of the 1990s wrote them."""
    jpeg = _pillow(Image.fromarray(rgb), "JPEG", quality=90, subsampling=0)
    height, width = rgb.shape[:2]
    return _tiff([{256: (4, [width]), 257: (4, [height]), 258: (3, [8, 8, 8]), 259: (3, [6]), 262: (3, [6]),
                   273: (4, [8]), 277: (3, [3]), 278: (4, [height]), 279: (4, [len(jpeg)]), 284: (3, [1]),
                   513: (4, [8]), 514: (4, [len(jpeg)]), 530: (3, [1, 1])}], jpeg)


def lzw_tiff_with_bad_code(rgb: np.ndarray, seed: int = 1) -> bytes:
    """An LZW TIFF with a few bytes of its compressed strips overwritten, such that libtiff reports
    damaged LZW data (a code not in the table) while OpenCV's read still returns pixels."""
    import imagecodecs
    data = _tifffile(rgb, photometric="rgb", compression="lzw", rowsperstrip=max(1, rgb.shape[0] // 4))
    rng = random.Random(seed)
    for _ in range(1000):
        mutated = bytearray(data)
        for _ in range(3):
            mutated[rng.randrange(len(data) // 4, len(data) * 3 // 4)] = rng.randrange(256)
        try:
            imagecodecs.tiff_decode(bytes(mutated))
        except Exception:
            return bytes(mutated)
    raise RuntimeError("no damaging mutation found")


def odd_layouts(picture: np.ndarray | None = None) -> Iterator[tuple[str, bytes]]:
    """Valid files in the layouts decoders disagree about, all of one picture (8-bit gray or
    RGB, default 96x64 noise-free shapes): 2/4/12-bit, 32-bit integer and floating-point gray
    TIFFs, a float RGB TIFF, 16-bit CMYK, CMYK JPEG-in-TIFF, old-style JPEG TIFF, and BMPs with
    bit-field layouts some readers refuse. Also one damaged file that one decoder misses: an LZW
    TIFF with a bad code (name ends in _damaged)."""
    if picture is None:
        yy, xx = np.mgrid[0:64, 0:96]
        picture = (((xx // 12 + yy // 8) % 2) * 160 + 40 + xx).astype(np.uint8)
    gray = picture if picture.ndim == 2 else np.asarray(Image.fromarray(picture).convert("L"))
    rgb = np.stack([gray, np.roll(gray, 3, 1), 255 - gray], -1)
    yield "gray_2bit.tif", _tifffile((gray >> 6).astype(np.uint8), bitspersample=2)
    yield "gray_4bit.tif", _tifffile((gray >> 4).astype(np.uint8), bitspersample=4)
    yield "gray_12bit.tif", _tifffile(gray.astype(np.uint16) << 4, bitspersample=12)
    yield "gray_int32.tif", _tifffile(gray.astype(np.int32) * 1000)
    yield "gray_float32.tif", _tifffile(gray.astype(np.float32) / 255)
    yield "rgb_float32.tif", _tifffile(rgb.astype(np.float32) / 255, photometric="rgb")
    cmyk = np.concatenate([255 - rgb, np.zeros_like(gray)[..., None]], -1)
    yield "cmyk_16bit.tif", _tifffile(cmyk.astype(np.uint16) * 257, photometric="separated")
    yield "cmyk_jpeg.tif", _tifffile(cmyk, photometric="separated", compression="jpeg")
    yield "old_style_jpeg.tif", old_style_jpeg_tiff(rgb)
    height, width = gray.shape
    for name, bits, compression, masks, header in [
            ("rgb16_231.bmp", 16, 3, (0x30, 0x0E, 0x01), 40),
            ("rgb32_111110.bmp", 32, 3, (0xFFE00000, 0x001FFC00, 0x000003FF), 40),
            ("rgba16_4444_v5.bmp", 16, 3, (0x0F00, 0x00F0, 0x000F, 0xF000), 124),
            ("rgba32_v4_abgr.bmp", 32, 3, (0xFF, 0xFF00, 0xFF0000, 0xFF000000), 108)]:
        yield name, _bmp(width, height, bits, _bmp_pixels(gray, bits, masks), compression, masks, header)
    yield "lzw_bad_code_damaged.tif", lzw_tiff_with_bad_code(rgb)
