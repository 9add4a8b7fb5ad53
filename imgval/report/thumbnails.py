"""Small previews for the HTML report: an image file (or its blur map) as an inline JPEG data URI.

A preview is a convenience, never a verdict: a file that cannot be previewed gives None (the
report shows a placeholder) and never stops the report.
"""
from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from imgval.analysis import blur, decode
from imgval.analysis.analyze import DEFAULT_MAX_PIXELS, Settings, enforce_pixel_limit, measure_blur
from imgval.analysis.filedata import read_input

THUMB_SIDE = 160  # px, the longer side: ~3-8 KB each as JPEG, so hundreds stay light
JPEG_QUALITY = 70


@dataclass(frozen=True)
class Preview:
    uri: str  # data:image/jpeg;base64,...
    width: int
    height: int


def jpeg_preview(image: Image.Image, quality: int = JPEG_QUALITY) -> Preview:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Preview(uri, image.width, image.height)


def thumbnail(data: bytes, side: int = THUMB_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The picture, upright, fitted in side x side. Raises decode.DecodeError (or a Pillow
    error) for what cannot be shown."""
    header, image = decode.probe(data)
    enforce_pixel_limit(header, max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image.draft("RGB", (side * 2, side * 2))  # JPEG: let libjpeg decode at 1/2..1/8 size
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = _to_8bit_rgb(image)
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def _to_8bit_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit masters: scale, don't clip
        array = np.asarray(image, dtype=np.float32)
        return Image.fromarray((array / max(float(array.max()), 1.0) * 255).astype(np.uint8))
    return image.convert("RGB")


def file_preview(path: str, side: int = THUMB_SIDE) -> Preview | None:
    """The file as a small JPEG, or None when it cannot be read or decoded."""
    try:
        return jpeg_preview(thumbnail(read_input(path), side))
    except Exception:  # a broken file is the report's subject, not its failure
        return None


def blur_map_preview(path: str, settings: Settings, side: int = THUMB_SIDE) -> Preview | None:
    """Where the file is sharp (bright) and blurred (dark), decoded and sized as the scan scored
    it (blur.pretty_blur_map; `settings` must keep pixels), as a small JPEG; None when it cannot
    be computed."""
    try:
        data = read_input(path)
        header, image = decode.probe(data)
        enforce_pixel_limit(header, settings.max_pixels)
        result = measure_blur(data, header, image, settings)
        picture = blur.pretty_blur_map(result.blur_map)
        height, width = picture.shape[:2]
        scale = side / max(height, width)
        small = cv2.resize(picture, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        return jpeg_preview(Image.fromarray(small))
    except Exception:
        return None
