"""Second-opinion decoders and sample scaling, for the files the fast decoders refuse.

OpenCV reads 8- and 16-bit images; a valid TIFF of 2, 4, 12 or 32-bit samples, floating point,
16-bit CMYK or old-style JPEG, or a BMP with unusual bit fields, it refuses. Before such a file
is called corrupt, the strict readers here are asked (Pillow, tifffile, imagecodecs' BMP codec:
each raises on damaged data rather than filling it in), and their samples are scaled to 8 bits
from the depth the file states. Pure functions of bytes and arrays; None means "cannot read it".
"""
from __future__ import annotations

import struct
import warnings

import cv2
import imagecodecs
import numpy as np
import tifffile
from PIL import Image

from imgval.analysis.filedata import byte_stream

TIFF_DECODE = imagecodecs.tiff_decode  # loaded once, in the parent, not in every forked worker
_PILLOW_WIDE_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}  # samples wider than 8 bits


def to_8bit(samples: np.ndarray, bits: int | None) -> np.ndarray:
    """Samples of any type as uint8: integers scaled from the bit depth the file states (2 and
    4-bit values stretched, 12 and 16-bit shifted down); floating point as 0.0 = black and
    1.0 = white, the common convention, unless the values leave that range; 32-bit integers and
    such floats stretched over the range the image spans (their scale is the producer's)."""
    if samples.dtype == np.bool_:
        return samples.astype(np.uint8) * 255
    if samples.dtype.kind == "f" or samples.dtype.itemsize >= 4:
        values = np.nan_to_num(samples.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(values.min()), float(values.max())
        if samples.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
        scale = 255.0 / (high - low) if high > low else 0.0
        return cv2.convertScaleAbs(values, alpha=scale, beta=-low * scale)
    bits = bits or samples.dtype.itemsize * 8
    if samples.dtype.kind == "i":  # signed 8/16-bit: shift to unsigned
        samples = (samples.astype(np.int32) - np.iinfo(samples.dtype).min).astype(np.uint16 if bits > 8 else np.uint8)
    if bits > 8:
        return (samples >> (bits - 8)).astype(np.uint8)
    if bits < 8:
        return (samples.astype(np.uint16) * 255 // ((1 << bits) - 1)).astype(np.uint8)
    return samples.astype(np.uint8, copy=False)


def picture_8bit(stored: np.ndarray | None, bits: int | None, mode: str, height: int, width: int) -> np.ndarray | None:
    """A decoder's stored samples as 8-bit gray or RGB, if they are the picture the header
    describes (height x width, gray or up to 4 channels); None otherwise (a damaged header can
    make a decoder return an empty or oddly shaped array)."""
    if (stored is None or stored.ndim not in (2, 3) or stored.shape[:2] != (height, width)
            or stored.size == 0 or (stored.ndim == 3 and stored.shape[2] > 4)):
        return None
    return colour_to_rgb(to_8bit(stored, bits), mode)


def colour_to_rgb(pixels: np.ndarray, mode: str) -> np.ndarray:
    """8-bit gray (2-D), gray + alpha, RGB, RGBA or CMYK samples as gray (2-D) or RGB."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if mode == "CMYK" and channels >= 4:
        ink = pixels[:, :, :3].astype(np.uint16)
        white = 255 - pixels[:, :, 3:4].astype(np.uint16)
        return ((255 - ink) * white // 255).astype(np.uint8)
    if channels < 3:
        return np.ascontiguousarray(pixels[:, :, 0])
    return np.ascontiguousarray(pixels[:, :, :3])


def to_gray(rgb_or_gray: np.ndarray) -> np.ndarray:
    return rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2GRAY)


def to_bgr(rgb_or_gray: np.ndarray) -> np.ndarray:
    code = cv2.COLOR_GRAY2BGR if rgb_or_gray.ndim == 2 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(rgb_or_gray, code)


def strict_tiff(data) -> tuple[np.ndarray | None, str | None]:
    """The first page's samples as stored, decoded by libtiff (imagecodecs), which raises on
    damaged strips where OpenCV's libtiff read logs the damage and returns the pixels anyway;
    (None, libtiff's message) when it refuses the file, damaged or of a layout it cannot read."""
    try:
        return TIFF_DECODE(data, index=0), None
    except Exception as exc:
        return None, str(exc) or type(exc).__name__


def tifffile_samples(data) -> np.ndarray | None:
    """The first page's samples decoded by tifffile (its own codecs, strict), or None; pages
    whose strips or tiles run past the end of the file are not read (tifffile would pad them)."""
    stream = byte_stream(data)
    try:
        with warnings.catch_warnings(), tifffile.TiffFile(stream) as tif:
            warnings.simplefilter("ignore")
            page = tif.pages.first
            if any(offset + count > len(data) or count == 0
                   for offset, count in zip(page.dataoffsets, page.databytecounts)):
                return None
            return page.asarray(maxworkers=1)
    except Exception:
        return None
    finally:
        stream.close()


def tiff_header(data) -> tuple[int, int, str, int, int] | None:
    """(width, height, Pillow-style mode, bits per sample, orientation) of a TIFF's first page
    as tifffile reads it, for layouts Pillow cannot open (floating-point RGB); None if none."""
    stream = byte_stream(data)
    try:
        with warnings.catch_warnings(), tifffile.TiffFile(stream) as tif:
            warnings.simplefilter("ignore")
            page = tif.pages.first
            spp, photometric = page.samplesperpixel, int(page.photometric)
            mode = {5: "CMYK"}.get(photometric) or ("L" if spp == 1 else "LA" if spp == 2 else
                                                     "RGB" if spp == 3 else "RGBA")
            orientation = page.tags.valueof(274, 1)
            size = (page.imagewidth, page.imagelength, page.bitspersample, spp)
            if not all(isinstance(v, int) and v > 0 for v in size) or not isinstance(orientation, int):
                return None  # a damaged header
            return page.imagewidth, page.imagelength, mode, page.bitspersample, orientation
    except Exception:
        return None
    finally:
        stream.close()


def pillow_samples(image: Image.Image, bits: int | None) -> np.ndarray | None:
    """Pillow's decode (truncated data raises: LOAD_TRUNCATED_IMAGES stays off) as 8-bit gray
    or RGB; None when Pillow cannot decode it."""
    if image is None:
        return None
    try:
        image.load()
        if image.mode in _PILLOW_WIDE_MODES:
            return to_8bit(np.asarray(image), bits)
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        return np.asarray(image)
    except Exception:
        return None


def bmp_samples(data) -> np.ndarray | None:
    """imagecodecs' BMP decode (any bit fields) as 8-bit gray or RGB, or None; an uncompressed
    BMP whose rows need more bytes than the file holds is refused before it is decoded."""
    if not _bmp_rows_inside(data):
        return None
    try:
        pixels = imagecodecs.bmp_decode(bytes(data))
    except Exception:
        return None
    return colour_to_rgb(to_8bit(pixels, 8), "RGB")


def _bmp_rows_inside(data) -> bool:
    """False for an uncompressed or bit-field BMP whose rows, as its header sizes them, reach
    past the end of the file. imagecodecs' decoder trusts the header's image size field instead
    and read past the buffer: a segmentation fault, found by fuzzing (a damaged height or width
    field, e.g. 80x55,360 pixels in a 15 KB file; 19 of 1,200 fuzzed BMPs). Compressed (RLE)
    BMPs and headers too short to tell are left to the decoder."""
    if len(data) < 34 or bytes(data[:2]) != b"BM":
        return True
    offset = struct.unpack_from("<I", data, 10)[0]
    width, height = struct.unpack_from("<ii", data, 18)
    bits, compression = struct.unpack_from("<HI", data, 28)
    if compression not in (0, 3, 6):  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS
        return True
    stride = (abs(width) * bits + 31) // 32 * 4
    return offset + stride * abs(height) <= len(data)


def bmp_header(data) -> tuple[int, int, str, int] | None:
    """(width, height, mode, bits per pixel) from the header of an uncompressed or bit-field BMP
    (the kinds whose pixels the file itself must hold, so its size bounds theirs), for the
    bit-field layouts Pillow refuses; None for other BMPs. Nothing is decoded here."""
    if bytes(data[:2]) != b"BM" or len(data) < 34:
        return None
    width, height = struct.unpack_from("<ii", data, 18)
    bits, compression = struct.unpack_from("<HI", data, 28)
    if compression not in (0, 3) or bits not in (16, 24, 32) or width == 0 or height == 0:
        return None
    return abs(width), abs(height), "RGB", bits
