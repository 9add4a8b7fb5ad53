"""Valid files of every checked format, in the layouts real writers produce (libjpeg, libtiff,
libpng, OpenJPEG, libwebp through OpenCV and Pillow; tifffile): LAYOUTS[format][layout] makes one
from an RGB photograph."""
from __future__ import annotations

import io
import struct
from typing import Callable

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms


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
    return drop_jpeg_segments(data, {0xE0})


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


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
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


def drop_jpeg_segments(data: bytes, markers: set[int]) -> bytes:
    kept, pos = [data[:2]], 2
    for marker, start, end in jpeg_segments(data):
        kept.append(data[pos:start])
        if marker not in markers:
            kept.append(data[start:end])
        pos = end
    kept.append(data[pos:])
    return b"".join(kept)
