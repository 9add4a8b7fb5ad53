"""A labelled conformance corpus, built in memory: valid files of every checked format in the
layouts real writers produce (libjpeg, libtiff, libpng, OpenJPEG, libwebp, Pillow, tifffile),
made from real photographs (scikit-image's sample data), and every defect the checks look for,
made deliberately in copies of them. Each file carries the verdict it must get and a few words
an issue must contain, so a defect counts as found only when it is found for its own reason.

Needs scikit-image (the photographs); imgval.analysis.conformance.evaluate runs it.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms

from imgval.analysis.conformance.issues import NOT_WELL_FORMED, WELL_FORMED_AND_VALID, WELL_FORMED_NOT_VALID

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "camera")  # skimage.data; camera is greyscale


@dataclass(frozen=True)
class Sample:
    name: str  # format/layout/photo, plus +defect for a damaged copy
    format: str
    data: bytes
    expected: str  # the verdict it must get
    expected_issue: str = ""  # words one of its issues must contain ("" for valid files)


def photographs(names=PHOTOGRAPHS, max_side: int = 512) -> list[tuple[str, np.ndarray]]:
    """RGB photographs from skimage.data, shrunk so the longer side is at most max_side."""
    import skimage.data

    photos = []
    for name in names:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.dstack([image] * 3)
        scale = min(1.0, max_side / max(image.shape[:2]))
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        photos.append((name, np.ascontiguousarray(image[:, :, :3])))
    return photos


# (package, folder inside it) of image files installed packages ship
PACKAGE_FOLDERS = (("skimage", "data"), ("sklearn", "datasets/images"), ("matplotlib", "mpl-data"))
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".jp2", ".j2k")


def package_files() -> list[Sample]:
    """The image files installed packages ship (scikit-image's sample data, scikit-learn's
    sample photographs, matplotlib's sample data and icons): real files from real writers,
    taken as valid. Packages that are not installed are skipped."""
    import importlib.util
    from pathlib import Path

    from imgval.analysis.conformance import format_of

    samples = []
    for package, folder in PACKAGE_FOLDERS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(spec.submodule_search_locations[0]) / folder
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in _EXTENSIONS):
            data = path.read_bytes()
            fmt = format_of(data)
            if fmt:
                samples.append(Sample(f"{package}/{path.relative_to(root)}", fmt, data, WELL_FORMED_AND_VALID))
    return samples


def corpus(photos: list[tuple[str, np.ndarray]]) -> Iterator[Sample]:
    """Every valid file, then every applicable defect of each."""
    for photo_name, rgb in photos:
        for fmt, layouts in LAYOUTS.items():
            for layout, make in layouts.items():
                data = make(rgb)
                name = f"{fmt}/{layout}/{photo_name}"
                yield Sample(name, fmt, data, WELL_FORMED_AND_VALID)
                for defect, (damage, expected, words) in DEFECTS[fmt].items():
                    damaged = damage(data)
                    if damaged is not None:
                        yield Sample(f"{name}+{defect}", fmt, damaged, expected, words)


# ---- valid files -------------------------------------------------------------------------

def _pil(rgb: np.ndarray, fmt: str, mode: str = "RGB", **options) -> bytes:
    image = Image.fromarray(rgb)
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _cv2(rgb: np.ndarray, ext: str, params=(), gray: bool = False, depth16: bool = False) -> bytes:
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY if gray else cv2.COLOR_RGB2BGR)
    if depth16:
        image = image.astype(np.uint16) * 257
    ok, encoded = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return encoded.tobytes()


def _tifffile(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Camera maker", "Model 1", "2024:05:01 10:00:00"
    return exif.tobytes()


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _multi_picture(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    first = Image.fromarray(rgb)
    first.save(buffer, "MPO", save_all=True, append_images=[first.rotate(90)])
    return buffer.getvalue()


def _animation(rgb: np.ndarray, fmt: str, **options) -> bytes:
    frames = [Image.fromarray(rgb), Image.fromarray(np.ascontiguousarray(rgb[::-1]))]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    return buffer.getvalue()


def _top_down_bmp(rgb: np.ndarray) -> bytes:
    """A BMP whose rows run top to bottom (negative height), as some scanners write them."""
    data = bytearray(_pil(rgb[::-1], "BMP"))  # rows stored bottom-up: reversing them gives top-down
    height = struct.unpack_from("<i", data, 22)[0]
    struct.pack_into("<i", data, 22, -height)
    return bytes(data)


def _without_app0(data: bytes) -> bytes:
    """An Exif-only JPEG, as cameras write them (no JFIF segment)."""
    return _drop_segments(data, {0xE0})


def _gray(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


LAYOUTS: dict[str, dict[str, Callable[[np.ndarray], bytes]]] = {
    "JPEG": {
        "baseline": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
        "progressive": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "restart-intervals": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_RST_INTERVAL, 4]),
        "optimised-huffman": lambda rgb: _pil(rgb, "JPEG", optimize=True),
        "4:4:4": lambda rgb: _pil(rgb, "JPEG", subsampling=0, quality=95),
        "greyscale": lambda rgb: _pil(rgb, "JPEG", "L"),
        "jfif-and-exif": lambda rgb: _pil(rgb, "JPEG", exif=_exif()),
        "exif-only": lambda rgb: _without_app0(_pil(rgb, "JPEG", exif=_exif())),
        "icc-profile": lambda rgb: _pil(rgb, "JPEG", icc_profile=_srgb_profile()),
        "cmyk-adobe": lambda rgb: _pil(rgb, "JPEG", "CMYK"),
        "multi-picture": _multi_picture,
    },
    "TIFF": {
        "libtiff-lzw": lambda rgb: _cv2(rgb, ".tif"),
        "libtiff-uncompressed": lambda rgb: _cv2(rgb, ".tif", [cv2.IMWRITE_TIFF_COMPRESSION, 1]),
        "libtiff-16bit-grey": lambda rgb: _cv2(rgb, ".tif", gray=True, depth16=True),
        "pillow-raw": lambda rgb: _pil(rgb, "TIFF"),
        "pillow-deflate-300dpi": lambda rgb: _pil(rgb, "TIFF", compression="tiff_adobe_deflate", dpi=(300, 300)),
        "pillow-palette": lambda rgb: _pil(rgb, "TIFF", "P"),
        "pillow-cmyk": lambda rgb: _pil(rgb, "TIFF", "CMYK"),
        "pillow-bilevel-g4": lambda rgb: _pil(rgb, "TIFF", "1", compression="group4"),
        "pillow-exif": lambda rgb: _pil(rgb, "TIFF", exif=_exif()),
        "tifffile-rgb-datetime": lambda rgb: _tifffile(rgb, photometric="rgb", resolution=(300, 300),
                                                        datetime=True),
        "tifffile-big-endian": lambda rgb: _tifffile(rgb, photometric="rgb", byteorder=">"),
        "tifffile-bigtiff": lambda rgb: _tifffile(rgb, photometric="rgb", bigtiff=True),
        "tifffile-tiled-lzw": lambda rgb: _tifffile(rgb, photometric="rgb", tile=(128, 128), compression="lzw"),
        "tifffile-planar": lambda rgb: _tifffile(rgb, photometric="rgb", planarconfig="separate"),
        "tifffile-deflate-predictor": lambda rgb: _tifffile(rgb, photometric="rgb", compression="zlib",
                                                             predictor=True),
        "tifffile-jpeg": lambda rgb: _tifffile(rgb, photometric="rgb", compression="jpeg"),
        "tifffile-rgba": lambda rgb: _tifffile(np.dstack([rgb, _gray(rgb)]), photometric="rgb",
                                               extrasamples=["unassalpha"]),
        "tifffile-16bit-strips": lambda rgb: _tifffile(rgb.astype(np.uint16) * 257, photometric="rgb",
                                                       rowsperstrip=16),
        "tifffile-multipage": lambda rgb: _tifffile(np.stack([rgb, rgb[::-1]]), photometric="rgb"),
        "tifffile-pyramid-subifds": lambda rgb: _pyramid(rgb),
    },
    "PNG": {
        "libpng-rgb": lambda rgb: _cv2(rgb, ".png"),
        "libpng-16bit-grey": lambda rgb: _cv2(rgb, ".png", gray=True, depth16=True),
        "pillow-rgb-dpi-text": lambda rgb: _pil(rgb, "PNG", dpi=(300, 300), pnginfo=_png_text()),
        "pillow-grey": lambda rgb: _pil(rgb, "PNG", "L"),
        "pillow-rgba": lambda rgb: _pil(rgb, "PNG", "RGBA"),
        "pillow-palette": lambda rgb: _pil(rgb, "PNG", "P"),
        "pillow-palette-transparency": lambda rgb: _pil(rgb, "PNG", "P", transparency=0),
        "pillow-bilevel": lambda rgb: _pil(rgb, "PNG", "1"),
        "pillow-icc": lambda rgb: _pil(rgb, "PNG", icc_profile=_srgb_profile()),
    },
    "JPEG2000": {
        "openjpeg-lossless": lambda rgb: _pil(rgb, "JPEG2000"),
        "openjpeg-lossy-layers": lambda rgb: _pil(rgb, "JPEG2000", quality_mode="rates", quality_layers=[40, 10],
                                                  irreversible=True),
        "openjpeg-tiled": lambda rgb: _pil(rgb, "JPEG2000", tile_size=(128, 128)),
        "openjpeg-rpcl": lambda rgb: _pil(rgb, "JPEG2000", progression="RPCL", num_resolutions=4),
        "openjpeg-greyscale": lambda rgb: _pil(rgb, "JPEG2000", "L"),
        "openjpeg-codestream": lambda rgb: _pil(rgb, "JPEG2000", no_jp2=True),
        "opencv-jp2": lambda rgb: _cv2(rgb, ".jp2"),
    },
    "WEBP": {
        "lossy": lambda rgb: _pil(rgb, "WEBP", quality=85),
        "lossless": lambda rgb: _pil(rgb, "WEBP", lossless=True),
        "lossy-alpha": lambda rgb: _pil(rgb, "WEBP", "RGBA"),
        "lossless-alpha": lambda rgb: _pil(rgb, "WEBP", "RGBA", lossless=True),
        "exif-icc": lambda rgb: _pil(rgb, "WEBP", exif=_exif(), icc_profile=_srgb_profile()),
        "animated": lambda rgb: _animation(rgb, "WEBP"),
    },
    "GIF": {
        "gif87a": lambda rgb: _pil(rgb, "GIF"),
        "gif89a-transparency": lambda rgb: _pil(rgb, "GIF", transparency=0),
        "gif89a-comment": lambda rgb: _pil(rgb, "GIF", comment=b"scanned 2024"),
        "animated": lambda rgb: _animation(rgb, "GIF"),
    },
    "BMP": {
        "opencv-24bit": lambda rgb: _cv2(rgb, ".bmp"),
        "pillow-8bit-palette": lambda rgb: _pil(rgb, "BMP", "P"),
        "pillow-greyscale": lambda rgb: _pil(rgb, "BMP", "L"),
        "pillow-1bit": lambda rgb: _pil(rgb, "BMP", "1"),
        "pillow-32bit": lambda rgb: _pil(rgb, "BMP", "RGBA"),
        "top-down": _top_down_bmp,
    },
}


def _pyramid(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as tif:
        tif.write(rgb, photometric="rgb", subifds=1, tile=(64, 64))
        tif.write(np.ascontiguousarray(rgb[::2, ::2]), photometric="rgb", subfiletype=1, tile=(64, 64))
    return buffer.getvalue()


def _png_text():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Parish register, page 4")
    info.add_itxt("Author", "Archive")
    return info


# ---- defects: each takes a valid file's bytes and returns a damaged copy (None: not applicable)

def _cut(fraction: float):
    return lambda data: data[:int(len(data) * fraction)]


def _append(data: bytes) -> bytes:
    return data + bytes(range(256)) * 4


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each marker segment up to and including the first SOS header."""
    segments, pos = [], 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        end = pos + 2 + (data[pos + 2] << 8 | data[pos + 3])
        segments.append((marker, pos, end))
        if marker == 0xDA:
            break
        pos = end
    return segments


def _drop_segments(data: bytes, markers: set[int]) -> bytes:
    kept, pos = [data[:2]], 2
    for marker, start, end in _jpeg_segments(data):
        kept.append(data[pos:start])
        if marker not in markers:
            kept.append(data[start:end])
        pos = end
    kept.append(data[pos:])
    return b"".join(kept)


def _jpeg_edit(marker: int, edit: Callable[[bytearray, int, int], None]):
    def damage(data: bytes) -> bytes | None:
        for found, start, end in _jpeg_segments(data):
            if found == marker or (marker == 0xC0 and found in (0xC0, 0xC1, 0xC2)):
                copy = bytearray(data)
                edit(copy, start, end)
                return bytes(copy)
        return None
    return damage


def _jfif_moved(data: bytes) -> bytes | None:
    segments = _jpeg_segments(data)
    if not segments or segments[0][0] != 0xE0:
        return None
    _, start, end = segments[0]
    _, dqt_start, dqt_end = next(s for s in segments if s[0] == 0xDB)
    return data[:2] + data[end:dqt_end] + data[start:end] + data[dqt_end:]


def _jpeg_garbage(data: bytes) -> bytes:
    _, _, end = _jpeg_segments(data)[0]
    return data[:end] + b"\x00\x00" + data[end:]


def _no_sof(data: bytes) -> bytes:
    return _drop_segments(data, {0xC0, 0xC1, 0xC2})


def _no_dht(data: bytes) -> bytes | None:
    if not any(marker == 0xC4 for marker, _, _ in _jpeg_segments(data)):
        return None
    return _drop_segments(data, {0xC4})


def _add(position: int, amount: int):
    def edit(copy: bytearray, start: int, end: int) -> None:
        copy[start + position] = (copy[start + position] + amount) % 256
    return edit


JPEG_DEFECTS = {
    "truncated": (_cut(0.6), NOT_WELL_FORMED, "truncated"),
    "truncated-in-headers": (lambda d: d[:_jpeg_segments(d)[1][1] + 10], NOT_WELL_FORMED, "runs past the end"),
    "no-soi": (lambda d: d[2:], NOT_WELL_FORMED, "SOI marker"),
    "no-eoi": (lambda d: d[:-2], NOT_WELL_FORMED, "no EOI marker"),
    "data-after-eoi": (_append, WELL_FORMED_NOT_VALID, "after the EOI marker"),
    "no-jfif-exif-adobe": (lambda d: _drop_segments(d, {0xE0, 0xE1, 0xEE}), WELL_FORMED_NOT_VALID,
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
