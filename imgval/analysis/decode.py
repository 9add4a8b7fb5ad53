"""Bytes -> pixels, with an integrity verdict. The one place that knows formats and decoders.

Every failure becomes a DecodeError whose message a person can act on; truncated or corrupt
data is an error, never a grey-filled picture (a grey fill would score as "sharp").
"""
from __future__ import annotations

import importlib
import logging
import os
import re
import warnings
from dataclasses import dataclass

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # decoder chatter would bury the progress bar

import cv2  # noqa: E402
import imagecodecs  # noqa: E402
import numpy as np  # noqa: E402
import pillow_heif  # noqa: E402
import simplejpeg  # noqa: E402
import tifffile  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

from imgval.analysis import samples  # noqa: E402
from imgval.analysis.filedata import byte_stream  # noqa: E402

# The environment variable works only if nothing imported cv2 first; this works whatever did.
# OpenCV's "[ERROR:0@...]" lines about damaged files would reach stderr even with -q, and each
# file's row already says what was wrong.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

pillow_heif.register_heif_opener()
# tifffile logs what it finds odd in damaged files; the row's verdict already says what matters.
logging.getLogger("tifffile").setLevel(logging.CRITICAL)
# imagecodecs loads each codec's extension on first use: load them here, once, in the parent,
# not again in every forked worker.
_PNG_DECODE = imagecodecs.png_decode
from imgval.defaults import DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS  # noqa: E402,F401  (shown by --help)
MAX_TIFF_PAGES = 10_000  # pages whose size is checked; beyond these nothing is ever decoded

# The formats imgval checks (the README lists them). Pillow is asked to open these and nothing
# else: its other plugins would run Ghostscript on PostScript, or decode ICNS/ICO icons that wrap
# JPEG 2000 codestreams of any size, from any file named like an image.
SUPPORTED_FORMATS = ("JPEG", "PNG", "TIFF", "JPEG2000", "WEBP", "BMP", "GIF", "HEIF")
# Signatures of common non-image files Pillow has no reader for (others are named by Pillow's
# own plugins' signature checks, which read bytes only).
_OTHER_SIGNATURES = {b"%PDF-": "PDF", b"PK\x03\x04": "ZIP", b"<?xml": "XML", b"<svg": "SVG"}

# Formats OpenCV decodes the way the original tool did (cv2.imread); the rest go through Pillow.
_OPENCV_FORMATS = {"PNG", "TIFF", "WEBP", "BMP", "JPEG2000"}
# JPEG colour models libjpeg-turbo converts to BGR itself; CMYK/YCCK need OpenCV's conversion.
_SIMPLEJPEG_COLORSPACES = {"Gray", "YCbCr", "RGB"}
# ... and those whose luminance it can decode directly (Y of YCbCr; Gray as is).
_SIMPLEJPEG_GRAY_COLORSPACES = {"Gray", "YCbCr"}

_TRANSPOSE_BY_ORIENTATION = {  # EXIF orientation -> the operation that shows the image upright
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: lambda a: cv2.transpose(a),
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


# Pillow's readers of SUPPORTED_FORMATS (HEIF is pillow_heif's, registered above), and MPO, the
# multi-picture JPEG its JPEG reader turns into.
_PLUGINS = ("JpegImagePlugin", "MpoImagePlugin", "PngImagePlugin", "TiffImagePlugin", "Jpeg2KImagePlugin",
            "WebPImagePlugin", "BmpImagePlugin", "GifImagePlugin")


def preload() -> None:
    """Import the format plugins Image.open(formats=SUPPORTED_FORMATS) uses now (a parent process
    about to fork its workers), so that no worker imports them again: only those, as all of
    Pillow's (Image.init, ~45 of them) cost ~50 ms more; Pillow loads them all only for a format
    it has no reader registered for, and looks_like does for a file that is none of these."""
    Image.preinit()  # what every Image.open imports first (PPM among them)
    for plugin in _PLUGINS:
        importlib.import_module(f"PIL.{plugin}")


class DecodeError(Exception):
    """The file is not a readable, complete image; the message says why, on one line (a
    library's own message may end with or hold line breaks: libheif's do)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Header:
    """What the file says about itself, read without decoding pixels."""

    format: str  # Pillow's name: JPEG, PNG, TIFF, WEBP, BMP, GIF, JPEG2000, HEIF, ...
    width: int
    height: int
    mode: str  # Pillow's colour mode: RGB, L, CMYK, I;16, ...
    bit_depth: int | None
    orientation: int  # EXIF orientation 1..8 (1 when absent)
    decoded_bytes: int = 0  # the memory decoding its pixels takes, at most (see decoded_bytes)
    # the layer decoded_bytes is counted for, in words, when that is not the image the size
    # above describes (a TIFF's other page, or a tile): what a "too large" error names
    largest_layer: str = ""

    @property
    def pixels(self) -> int:
        return self.width * self.height


def probe(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, Image.Image | None]:
    """Identify the format and size from the header. Returns the lazily opened Pillow image too
    (header parsed, pixels not decoded) so EXIF readers can reuse it; None for the layouts only
    imgval's other decoders read (_probe_without_pillow).

    max_pixels also sets Pillow's own bomb guard (process-wide; it refuses images of more than
    twice that many pixels wherever Pillow meets them, a GIF's later frames included): a
    backstop behind imgval's own checks (analyze.enforce_limits)."""
    if not data:
        raise DecodeError("empty file (0 bytes)")
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd EXIF; EXIF checks report it
            image = Image.open(byte_stream(data), formats=SUPPORTED_FORMATS)
            orientation = _orientation(image)
    except UnidentifiedImageError:
        if (fallback := _probe_without_pillow(data)) is not None:
            return fallback, None
        other = looks_like(data)
        if other:
            raise DecodeError(f"not a supported image: looks like {other} (imgval reads "
                              "JPEG, PNG, TIFF, JPEG 2000, WebP, BMP, GIF and HEIF)")
        raise DecodeError("not an image, or a format imgval cannot read (the header is not recognised)")
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(claimed[1]) / 1e6:.0f} MP" if claimed else "its size"
        raise DecodeError(f"image too large: {size} is over the limit of {max_pixels / 1e6:.0f} MP "
                          "(raise it with --max-pixels if this is a real image)")
    except Exception as exc:  # Pillow raises many types for damaged headers
        if (fallback := _probe_without_pillow(data)) is not None:
            return fallback, None
        raise DecodeError(f"damaged image header: {exc}")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DecodeError(f"image header gives an empty size ({width}x{height})")
    bit_depth = _bit_depth(image, data)
    header = Header(image.format or "unknown", width, height, image.mode, bit_depth, orientation,
                    *decoded_bytes(image, data, bit_depth))
    return header, image


def _probe_without_pillow(data) -> Header | None:
    """The header of a valid TIFF or BMP layout Pillow cannot open (floating-point RGB TIFF,
    BMP bit fields it does not know), read by the decoders that do read them; None otherwise.
    Such files have no Pillow image: their EXIF is read by exifread alone."""
    prefix = bytes(data[:4])
    if prefix in (b"II*\0", b"MM\0*") and (tiff := samples.tiff_header(data)) is not None:
        width, height, mode, bits, orientation = tiff
        layer = width * height * _layer_bytes_per_pixel(len(mode), bits)
        largest, what = _largest_tiff_layer(data)
        return Header("TIFF", width, height, mode, bits, orientation if 1 <= orientation <= 8 else 1,
                      *((largest, what) if largest > layer else (layer, "")))
    if (bmp := samples.bmp_header(data)) is not None:
        width, height, mode, bits = bmp
        return Header("BMP", width, height, mode, bits, 1, width * height * _layer_bytes_per_pixel(4, 8))
    return None


def decoded_bytes(image: Image.Image, data, bit_depth: int | None) -> tuple[int, str]:
    """The most memory imgval's decoders may take for this file's pixels, from its headers: the
    largest of its layers (every page of a TIFF and its tiles; a GIF's logical screen, onto
    which Pillow draws each frame), with every sample as wide as the decoder holds it (16-bit
    samples stay 16-bit, OpenJPEG holds each sample as a 32-bit integer beside its 8-bit
    output), at least the 8-bit colour image (3 bytes a pixel) a decode for scoring or a
    thumbnail makes, one more colour copy (OpenCV's colour reads convert into a second buffer;
    measured: ~5.7 bytes a pixel for an 8-bit RGB PNG or an RLE BMP), and the 8-bit luminance
    scored (1 byte a pixel). With it, the largest layer in words when it is not the image
    Pillow describes (Header.largest_layer), else ""."""
    pixels = image.width * image.height
    if image.format == "JPEG2000":
        largest = pixels * (len(image.getbands()) * 4 + 2 * _COLOUR_COPY + _LUMINANCE)
    elif image.format not in _OPENCV_FORMATS and image.format != "JPEG":  # GIF, HEIF, MPO: Pillow
        # Pillow's decoded image, its RGB conversion and the array made of it
        largest = pixels * (len(image.getbands()) * -(-(bit_depth or 8) // 8) + 2 * _COLOUR_COPY + _LUMINANCE)
    else:
        largest = pixels * _layer_bytes_per_pixel(len(image.getbands()), bit_depth or 8)
    if image.format == "TIFF":
        layer, what = _largest_tiff_layer(data)
        if layer > largest:
            return layer, what
    return largest, ""


_COLOUR_COPY, _LUMINANCE = 3, 1  # bytes a pixel


def _layer_bytes_per_pixel(samples: int, bits: int) -> int:
    return max(samples * -(-max(bits, 1) // 8), _COLOUR_COPY) + _COLOUR_COPY + _LUMINANCE


def _largest_tiff_layer(data) -> tuple[int, str]:
    """decoded_bytes of the largest page (or tile) of a TIFF, from tifffile's reading of every
    page's tags (no pixel data is read), and that layer in words; (0, "") when tifffile cannot
    parse it."""
    stream = byte_stream(data)
    largest, what = 0, ""
    try:
        with warnings.catch_warnings(), tifffile.TiffFile(stream) as tif:
            warnings.simplefilter("ignore")
            for index, page in enumerate(tif.pages):
                if index >= MAX_TIFF_PAGES:
                    break
                samples, bits = page.samplesperpixel, page.bitspersample
                # named with its samples too: a damaged header's sample count may be what makes it large
                layout = f"{samples:,} sample{'s' if samples != 1 else ''} of {bits} bits a pixel"
                depth = f"x{page.imagedepth:,}" if page.imagedepth > 1 else ""
                pixels = page.imagewidth * page.imagelength * max(page.imagedepth, 1)
                if (size := pixels * _layer_bytes_per_pixel(samples, bits)) > largest:
                    largest = size
                    what = f"page {index + 1} of the TIFF ({page.imagewidth:,}x{page.imagelength:,}{depth}, {layout})"
                tile = page.tilewidth * page.tilelength * max(page.tiledepth, 1)
                if (size := tile * samples * -(-max(bits, 1) // 8)) > largest:
                    largest = size
                    what = f"a tile of page {index + 1} of the TIFF ({page.tilewidth:,}x{page.tilelength:,}, {layout})"
    except Exception:
        pass  # a page tifffile cannot read is not decoded by it; the others were counted
    finally:
        stream.close()
    return largest, what


def looks_like(data: bytes) -> str | None:
    """The name of the unsupported format data's first bytes look like (EPS, PDF, ICNS, ...),
    or None. Only signature checks: nothing is parsed or decoded."""
    prefix = bytes(data[:64])
    for signature, name in _OTHER_SIGNATURES.items():
        if prefix.startswith(signature):
            return name
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        if name in SUPPORTED_FORMATS or accept is None:
            continue
        try:
            accepted = accept(prefix)
        except Exception:
            continue
        if accepted and not isinstance(accepted, str):  # a str is Pillow's reason for refusing
            return name
    return None


def decode_bgr(data: bytes, header: Header, image: Image.Image) -> np.ndarray:
    """Decode to an upright 8-bit BGR array, the pixels cv2.imread gave the original tool."""
    if header.format == "JPEG" and _jpeg_colorspace(data) in _SIMPLEJPEG_COLORSPACES:
        try:
            # strict: libjpeg's "premature end of data" warnings become errors instead of grey fill
            pixels = simplejpeg.decode_jpeg(data, colorspace="BGR", strict=True)
        except ValueError as exc:
            raise DecodeError(f"truncated or corrupt JPEG data: {exc}")
    elif header.format == "TIFF":
        pixels = _tiff_bgr(data, header, image)
    elif header.format in _OPENCV_FORMATS or header.format == "JPEG":
        _check_opencv_jpeg(data, header)
        _check_png_strictly(data, header, image)
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _COLOR)
        if pixels is None:
            pixels = samples.to_bgr(_second_opinion(data, header, image))
    else:
        pixels = _decode_with_pillow(image, header)
    return orient(pixels, header.orientation)


def _check_opencv_jpeg(data: bytes, header: Header) -> None:
    """A JPEG OpenCV decodes (CMYK, YCCK: its colour conversion is the original tool's) is first
    decoded strictly by libjpeg-turbo at 1/8 size, all its entropy-coded data read: OpenCV's read
    fills what a truncated file lacks with grey (a fuzzed CMYK JPEG cut short scored 0.05, no
    error). DecodeError when that finds it damaged; nothing for other files."""
    if header.format != "JPEG" or _jpeg_colorspace(data) in (None, *_SIMPLEJPEG_COLORSPACES):
        return
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True, min_width=-(-header.width // 8),
                               min_height=-(-header.height // 8))
    except ValueError as exc:
        raise DecodeError(f"truncated or corrupt JPEG data: {exc}")


_COLOR = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION  # orientation is applied once, by orient()
_GRAY = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION


def _tiff_bgr(data, header: Header, image: Image.Image | None) -> np.ndarray:
    """A TIFF as 8-bit BGR: OpenCV's read, as the original tool's, once libtiff's strict decode
    has found its compressed data undamaged (OpenCV's read logs damage and returns the pixels);
    layouts OpenCV cannot convert (2/4/12/32-bit, float) from the strict decode's samples."""
    # uncompressed strips that hold the whole image are OpenCV's to read as they are; any other
    # layout, or strips short of the image (a damaged RowsPerStrip or byte count), libtiff's
    # strict read judges first, as the default mode's luminance read does
    if image is None or image.tag_v2.get(259, 1) != 1 or not _stored_bytes_complete(image, len(data)):
        stored, problem = samples.strict_tiff(data)
        if stored is None:
            return samples.to_bgr(_second_opinion(data, header, image, problem))
        if (stored.dtype == np.uint8 and image is not None and _tiff_samples_are_plain(image)
                and stored.shape[:2] == (header.height, header.width)):
            return samples.to_bgr(samples.colour_to_rgb(stored, "RGB"))  # OpenCV's pixels exactly
        del stored  # checked; OpenCV decodes again below, so both never take memory at once
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _COLOR)
    if pixels is not None:
        return pixels
    return samples.to_bgr(_stored_to_8bit(data, header, image))


def _stored_bytes_complete(image: Image.Image, length: int) -> bool:
    """Every strip (or tile) of an uncompressed TIFF, as its header lays them out, holds the
    bytes of its rows, inside the file's `length`: as many of them as the image needs, each at
    least as long as its rows (a damaged RowsPerStrip or byte count fails this)."""
    tags = image.tag_v2
    bits, samples_per_pixel = _as_tuple(tags.get(258, 1)), tags.get(277, 1)
    planes = samples_per_pixel if tags.get(284, 1) == 2 else 1  # planar: one set of strips a sample
    bits_per_pixel = (bits[0] if planes > 1 else sum(bits) if len(bits) == samples_per_pixel
                      else bits[0] * samples_per_pixel)
    width, height = image.width, image.height
    if 324 in tags:  # tiles
        tile_width, tile_height = tags.get(322, 0), tags.get(323, 0)
        if tile_width <= 0 or tile_height <= 0:
            return False
        pieces = [-(-tile_width * bits_per_pixel // 8) * tile_height] * (-(-width // tile_width) * -(-height // tile_height))
        offsets, counts = _as_tuple(tags.get(324, ())), _as_tuple(tags.get(325, ()))
    else:
        rows_per_strip = min(tags.get(278, height) or height, height)
        row_bytes = -(-width * bits_per_pixel // 8)
        pieces = [row_bytes * min(rows_per_strip, height - top) for top in range(0, height, rows_per_strip)]
        offsets, counts = _as_tuple(tags.get(273, ())), _as_tuple(tags.get(279, ()))
    pieces *= planes
    return (len(offsets) == len(counts) == len(pieces)
            and all(count >= piece for count, piece in zip(counts, pieces))
            and all(offset + count <= length for offset, count in zip(offsets, counts)))


def _tiff_gray(data, header: Header, image: Image.Image | None) -> np.ndarray:
    """A TIFF as 8-bit luminance (see _tiff_bgr for the integrity rule): the file's own bytes
    for plain uncompressed layouts, libtiff's strict decode for plain 8/16-bit gray and RGB,
    OpenCV's conversion for palette, YCbCr, CMYK and the like, and the strict decode's samples
    scaled to 8 bits for layouts OpenCV cannot read."""
    if (plain := _plain_tiff_gray(data)) is not None:
        return plain
    stored, problem = samples.strict_tiff(data)
    if stored is None:
        return samples.to_gray(_second_opinion(data, header, image, problem))
    if (image is not None and _tiff_samples_are_plain(image) and stored.dtype in (np.uint8, np.uint16)
            and stored.shape[:2] == (header.height, header.width)):
        return _gray8(stored)
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _GRAY)
    if pixels is not None:
        return pixels
    return samples.to_gray(_stored_to_8bit(data, header, image, stored))


def _stored_to_8bit(data, header: Header, image: Image.Image | None, stored=None) -> np.ndarray:
    """The strict decode's samples as 8-bit gray or RGB (decoded again unless given)."""
    problem = None
    if stored is None:
        stored, problem = samples.strict_tiff(data)
    picture = samples.picture_8bit(stored, header.bit_depth, header.mode, header.height, header.width)
    return picture if picture is not None else _second_opinion(data, header, image, problem)


def _second_opinion(data, header: Header, image: Image.Image | None, problem: str | None = None) -> np.ndarray:
    """8-bit gray or RGB pixels from a strict decoder other than the one that refused the file
    (Pillow; tifffile for TIFF; imagecodecs for BMP); DecodeError when none reads it."""
    _check_png_end(data, header)  # Pillow reads every row of these
    pixels = samples.pillow_samples(image, header.bit_depth)
    if pixels is None and header.format == "TIFF":
        pixels = samples.picture_8bit(samples.tifffile_samples(data), header.bit_depth, header.mode,
                                      header.height, header.width)
    if pixels is None and header.format == "BMP":
        pixels = samples.bmp_samples(data)
    if pixels is None:
        reason = f": {problem}" if problem else " (the decoder could not read it)"
        raise DecodeError(f"truncated or corrupt {header.format} data{reason}")
    return pixels


def decode_gray(data: bytes, header: Header, image: Image.Image) -> np.ndarray:
    """Decode to an upright 8-bit luminance array without building colour planes (the default
    mode): libjpeg's Y channel for JPEG (no chroma upsampling or colour conversion), OpenCV's
    grayscale read for PNG/TIFF/WebP/BMP/JPEG 2000, Pillow's "L" for the rest. Same integrity
    verdicts as decode_bgr: truncated or corrupt data raises DecodeError."""
    return orient(_decode_gray_stored(data, header, image, 1), header.orientation)


def reduction_factor(width: int, height: int, min_pixels: float) -> int:
    """The largest power-of-two reduction (1, 2, 4 or 8: libjpeg's DCT scales) that still
    leaves at least min_pixels pixels."""
    for factor in (8, 4, 2):
        if -(-width // factor) * -(-height // factor) >= min_pixels:
            return factor
    return 1


def decode_gray_reduced(data: bytes, header: Header, image: Image.Image, min_pixels: float) -> np.ndarray:
    """Upright 8-bit luminance at 1/2, 1/4 or 1/8 of the stored size (the largest reduction
    keeping at least min_pixels; the fast mode). JPEG is reduced while decoding by libjpeg's DCT
    scaling (only the low frequencies of each 8x8 block are inverse-transformed, so most of the
    decode work is skipped); other formats are decoded in full and box-averaged (INTER_AREA),
    which is what DCT scaling amounts to. Integrity verdicts as decode_bgr."""
    factor = reduction_factor(header.width, header.height, min_pixels)
    return orient(_decode_gray_stored(data, header, image, factor), header.orientation)


def _decode_gray_stored(data: bytes, header: Header, image: Image.Image, factor: int) -> np.ndarray:
    """8-bit luminance as stored (before orientation), reduced by factor (1, 2, 4, 8)."""
    width, height = -(-header.width // factor), -(-header.height // factor)  # libjpeg rounds up
    if header.format == "JPEG" and _jpeg_colorspace(data) in _SIMPLEJPEG_GRAY_COLORSPACES:
        try:
            pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True, min_width=width,
                                            min_height=height)
        except ValueError as exc:
            raise DecodeError(f"truncated or corrupt JPEG data: {exc}")
        pixels = pixels.reshape(pixels.shape[:2])
    elif header.format == "TIFF":
        pixels = _tiff_gray(data, header, image)
    elif (decoded := _imagecodecs_png_gray(data, header, image)) is not None:
        pixels = decoded
    elif header.format in _OPENCV_FORMATS or header.format == "JPEG":
        _check_opencv_jpeg(data, header)
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _GRAY)
        if pixels is None:
            pixels = samples.to_gray(_second_opinion(data, header, image))
    else:
        try:
            image.load()
            pixels = np.asarray(image.convert("L"))
        except Exception as exc:
            raise DecodeError(f"truncated or corrupt {header.format} data: {exc}")
    if pixels.shape[:2] != (height, width):
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    return pixels


def _plain_tiff_gray(data: bytes) -> np.ndarray | None:
    """8-bit luminance of an uncompressed, little-endian, striped, chunky 8- or 16-bit RGB or
    grayscale TIFF (first page), or None for anything else (the caller falls back to OpenCV).

    Such a file's pixels are the bytes themselves: they are viewed in place (no decode, no copy
    when the strips are contiguous) and converted in one pass, where OpenCV's grayscale read
    copies them strip by strip and, for 16-bit, converts every sample twice (~3x the time on a
    20 MP 16-bit master). Luminance as OpenCV's read gives it, within one level (16-bit: the
    high byte of the 16-bit luminance). None too for strips the header does not account for
    (truncated, or damaged byte counts): the general decoders judge those."""
    stream = byte_stream(data)
    try:
        with tifffile.TiffFile(stream) as tif:
            page = tif.pages.first
            spp, bits = page.samplesperpixel, page.bitspersample
            if not (tif.byteorder == "<" and page.compression == 1 and not page.is_tiled
                    and page.fillorder == 1 and page.sampleformat == 1 and bits in (8, 16)
                    and not page.extrasamples and page.imagedepth == 1
                    and ((spp == 1 and page.photometric == 1)  # MINISBLACK
                         or (spp == 3 and page.photometric == 2 and page.planarconfig == 1))):  # RGB, chunky
                return None
            height, width = page.imagelength, page.imagewidth
            offsets, counts = page.dataoffsets, page.databytecounts
    except Exception:
        return None  # tifffile cannot parse it: OpenCV gives the verdict
    finally:
        # tifffile's objects refer to each other (freed only by the cycle collector) and to the
        # stream; closing it lets go of the file's bytes now, not a few images later
        stream.close()
    dtype = np.dtype(np.uint8) if bits == 8 else np.dtype("<u2")
    size = height * width * spp * dtype.itemsize
    if (height <= 0 or width <= 0 or not offsets or len(offsets) != len(counts)
            or sum(counts) < size or any(o + c > len(data) for o, c in zip(offsets, counts))):
        # strips the header does not account for, or past the file's end: libtiff's reads give
        # the verdict, as in the exact mode (libtiff recomputes damaged byte counts of
        # uncompressed strips whose pixels are all in the file, and refuses truncated ones)
        return None
    if all(offsets[i] + counts[i] == offsets[i + 1] for i in range(len(offsets) - 1)):
        buffer = memoryview(data)[offsets[0]:offsets[0] + size]
    else:  # strips scattered through the file: join them (each strip's own bytes, in order)
        buffer = b"".join(memoryview(data)[o:o + c] for o, c in zip(offsets, counts))[:size]
    pixels = np.frombuffer(buffer, dtype, count=height * width * spp).reshape(height, width, spp)
    return _gray8(pixels)


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every complete PNG ends with


def _check_png_end(data, header: Header) -> None:
    """A PNG cut off after its image data (no IEND chunk) is truncated, whichever decoder reads
    it: libpng returns its rows, and OpenCV's colour read those of an animated PNG's first
    frame whose later frames were cut off."""
    if header.format == "PNG" and data.rfind(_PNG_END) < 0:
        raise DecodeError("truncated PNG data (the file ends before its IEND chunk)")


_TIFF_PHOTOMETRIC_SAMPLES = {1: 1, 2: 3}  # MINISBLACK: one sample; RGB: three


def _imagecodecs_png_gray(data, header: Header, image: Image.Image | None) -> np.ndarray | None:
    """8-bit luminance of a PNG decoded by imagecodecs; None for other files, and for layouts
    it returns otherwise (the caller asks OpenCV). A PNG it finds damaged gets its luminance
    from a second strict decoder (Pillow) or DecodeError, not OpenCV's: OpenCV read an animated
    PNG whose first image data was broken (found by fuzzing).

    The same library OpenCV uses, a newer build: measured 15-35% faster than OpenCV's read on
    12 MP PNGs (docs/performance.md). The one file it accepts that OpenCV refuses, a PNG cut off
    after its last pixel row, is refused here."""
    if header.format != "PNG":
        return None
    pixels, problem = _strict_png(data, header)
    if pixels is None:
        return samples.to_gray(_second_opinion(data, header, image, problem))
    if pixels.shape[:2] != (header.height, header.width) or pixels.dtype not in (np.uint8, np.uint16):
        return None
    return _gray8(pixels)


def _strict_png(data, header: Header) -> tuple[np.ndarray | None, str | None]:
    """libpng's decode (through imagecodecs) of a PNG that has its IEND chunk: (pixels, None), or
    (None, what libpng found damaged)."""
    _check_png_end(data, header)
    try:
        return _PNG_DECODE(data), None
    except Exception as exc:  # imagecodecs raises its own error types
        return None, str(exc)


def _check_png_strictly(data, header: Header, image: Image.Image | None) -> None:
    """DecodeError for a PNG libpng finds damaged and Pillow cannot read either: the verdict the
    default mode's luminance read gives, for a mode that takes OpenCV's colour pixels."""
    if header.format != "PNG":
        return
    pixels, problem = _strict_png(data, header)
    del pixels  # freed before OpenCV decodes: both never take memory at once
    if problem is not None:
        _second_opinion(data, header, image, problem)


def _tiff_samples_are_plain(image: Image.Image) -> bool:
    """True for a chunky 8/16-bit unsigned grayscale (black is 0) or RGB TIFF: the layouts whose
    samples imagecodecs returns as pixels (it returns palette indices, CMYK, YCbCr or
    white-is-zero samples as stored, which OpenCV converts)."""
    tags = image.tag_v2
    spp = tags.get(277, 1)
    bits, sample_format = _as_tuple(tags.get(258, 1)), _as_tuple(tags.get(339, 1))
    return (_TIFF_PHOTOMETRIC_SAMPLES.get(tags.get(262)) == spp and tags.get(284, 1) == 1  # chunky
            and len(set(bits)) == 1 and bits[0] in (8, 16) and set(sample_format) == {1})  # unsigned


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _gray8(pixels: np.ndarray) -> np.ndarray:
    """8-bit luminance of decoded gray, gray + alpha, RGB or RGBA pixels, 8 or 16 bits, in one
    pass: alpha is ignored and 16-bit luminance keeps its high byte, as OpenCV's grayscale read
    does (within one level)."""
    if pixels.ndim == 3:
        channels = pixels.shape[2]
        if channels >= 3:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY if channels == 3 else cv2.COLOR_RGBA2GRAY)
        else:
            pixels = pixels[:, :, 0]
    if pixels.dtype == np.uint16:  # x / 256, rounded down (never a tie with this offset)
        pixels = cv2.convertScaleAbs(pixels, alpha=1 / 256, beta=-127.5 / 256)
    return np.ascontiguousarray(pixels)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn the stored pixels upright as the EXIF orientation says (1..8)."""
    transform = _TRANSPOSE_BY_ORIENTATION.get(orientation)
    return transform(pixels) if transform else pixels


def _decode_with_pillow(image: Image.Image, header: Header) -> np.ndarray:
    try:
        image.load()  # Pillow refuses truncated data (LOAD_TRUNCATED_IMAGES stays False)
        pixels = np.array(image.convert("RGB"))  # the RGB image is freed once copied
    except Exception as exc:
        raise DecodeError(f"truncated or corrupt {header.format} data: {exc}")
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=pixels)  # in place: no third copy


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow's PNG getexif() decodes every pixel looking for an eXIf chunk after the image
        # data (a full decode, wasted, on every PNG); such late chunks are rare, so 1 it is.
        return 1
    try:
        value = int(image.getexif().get(0x0112, 1))
    except Exception:
        return 1  # unreadable EXIF: the EXIF checks report it; the picture stays as stored
    return value if 1 <= value <= 8 else 1


def _jpeg_colorspace(data: bytes) -> str | None:
    try:
        return simplejpeg.decode_jpeg_header(data)[2]
    except ValueError:
        return None


def _bit_depth(image: Image.Image, data: bytes) -> int | None:
    """Bits per sample as stored (Pillow narrows 16-bit RGB to 8-bit modes, so ask the file)."""
    if image.format == "TIFF":
        bits = image.tag_v2.get(258)
        if isinstance(bits, tuple):
            bits = bits[0] if bits else None
        return int(bits) if bits else None
    if image.format == "PNG" and len(data) > 24:
        return data[24]  # IHDR bit depth
    if image.mode in ("1",):
        return 1
    if image.mode.startswith("I;16"):
        return 16
    if image.mode in ("I", "F"):
        return 32
    return 8
