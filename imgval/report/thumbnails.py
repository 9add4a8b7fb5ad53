"""Small previews for the HTML report: an image file (or its blur map) as an inline JPEG data URI.

A preview is a convenience, never a verdict: a file that cannot be previewed gives None (the
report shows a placeholder) and never stops the report.
"""
from __future__ import annotations

import base64
import contextlib
import io
import threading
import warnings
from dataclasses import dataclass

import cv2
from PIL import Image, ImageOps

import numpy as np

from imgval.analysis import blur, decode, sharpness
from imgval.analysis.analyze import (
    DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS, BlurResult, Settings, enforce_limits, measure_blur,
)
from imgval.analysis.filedata import read_input
from imgval.escaped_names import on_disk

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


class MemoryBudget:
    """Bytes that decodes running at once in one process share (the HTML pass decodes in
    threads): a decode waits until those running leave room for its Header.decoded_bytes. One
    decode alone always runs; the scan's --max-memory already bounds it."""

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, amount: int):
        with self._changed:
            self._changed.wait_for(lambda: self.used == 0 or self.used + amount <= self.total)
            self.used += amount
        try:
            yield
        finally:
            with self._changed:
                self.used -= amount
                self._changed.notify_all()


def thumbnail(data: bytes, side: int = THUMB_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS,
              max_memory: int = DEFAULT_MAX_MEMORY, budget: MemoryBudget | None = None) -> Image.Image:
    """The picture, upright, fitted in side x side, within the scan's limits (a file the scan
    refused as too large is not decoded here either), waiting for room in `budget` if given.
    Raises decode.DecodeError (or a Pillow error) for what cannot be shown."""
    header, image = decode.probe(data, max_pixels)
    enforce_limits(header, max_pixels, max_memory)
    with budget.hold(header.decoded_bytes) if budget else contextlib.nullcontext(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if image is not None and header.format in ("JPEG", "MPO"):
            image.draft("RGB", (side * 2, side * 2))  # libjpeg decodes at 1/2..1/8 size
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # a returned copy would double the memory
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            image.thumbnail((side, side), Image.Resampling.LANCZOS)
            return image
        # everything else: the scan's own decode (upright, samples of any depth scaled to 8 bits,
        # within the memory Header.decoded_bytes counts), shrunk by area averaging
        pixels = decode.decode_bgr(data, header, image)
    height, width = pixels.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA) if scale < 1 else pixels
    return Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))


def file_preview(path: str, side: int = THUMB_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_memory: int = DEFAULT_MAX_MEMORY, budget: MemoryBudget | None = None) -> Preview | None:
    """The file `path` (as a report names it: escaped_names.on_disk) as a small JPEG, or None when
    it cannot be read or decoded within the limits."""
    try:
        with warnings.catch_warnings():  # Pillow's warnings about damaged files: the row has the verdict
            warnings.simplefilter("ignore")
            return jpeg_preview(thumbnail(read_input(on_disk(path)), side, max_pixels, max_memory, budget))
    except Exception:  # a broken file is the report's subject, not its failure
        return None


def blur_map_preview(path: str, settings: Settings, side: int = THUMB_SIDE,
                     budget: MemoryBudget | None = None) -> Preview | None:
    """Where the file is sharp, decoded as the scan did, as a small JPEG: with the sharpness
    verdict the picture tinted by its per-tile sharpness (sharpness_overlay), with the classic
    one the Laplacian blur map (blur.pretty_blur_map; `settings` must keep pixels). None when it
    cannot be computed."""
    try:
        data = read_input(on_disk(path))
        header, image = decode.probe(data, settings.max_pixels)
        enforce_limits(header, settings.max_pixels, settings.max_memory)
        with budget.hold(header.decoded_bytes) if budget else contextlib.nullcontext():
            result = measure_blur(data, header, image, settings)
        return jpeg_preview(Image.fromarray(blur_map_picture(result, settings, side)))
    except Exception:
        return None


def blur_map_picture(result: BlurResult, settings: Settings, side: int | None = None) -> np.ndarray:
    """The picture of where an image is sharp, for the verdict the settings choose: with the
    sharpness verdict the viewing-size image tinted by its per-tile sharpness (RGB,
    sharpness_overlay), with the classic one the Laplacian blur map (8-bit gray,
    blur.pretty_blur_map; `settings` must keep pixels). Shrunk to `side` (longer side) if given."""
    if settings.blur_verdict == "sharpness":
        gray = result.viewed if side is None else _fit(result.viewed, side)
        tiles = sharpness.sharpness_map(result.viewed)
        return sharpness_overlay(np.clip(gray, 0, 255).astype(np.uint8), tiles, settings.sharpness_threshold)
    picture = blur.pretty_blur_map(result.blur_map)
    return picture if side is None else _fit(picture, side)


def _fit(picture: np.ndarray, side: int) -> np.ndarray:
    """A picture on the 0..255 scale, as 8 bits, shrunk (or grown) so its longer side is `side`."""
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    height, width = picture.shape[:2]
    scale = side / max(height, width)
    return cv2.resize(picture, (max(1, round(width * scale)), max(1, round(height * scale))),
                      interpolation=cv2.INTER_AREA)


SHARP_TINT = (46, 204, 113)  # RGB green: tiles whose detail is sharp
BLURRED_TINT = (230, 126, 34)  # RGB orange: tiles whose detail is blurred


def sharpness_overlay(gray: np.ndarray, tiles: np.ndarray, threshold: float, alpha: float = 0.45) -> np.ndarray:
    """An RGB picture of where an image is sharp: its grayscale (8-bit, any size) with each
    tile of sharpness.sharpness_map tinted green (sharp, at or over threshold) or orange
    (blurred); tiles with no detail to judge (NaN) stay untinted."""
    height, width = gray.shape[:2]
    cells = cv2.resize(tiles.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
    rgb = np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32)
    for mask, tint in ((cells >= threshold, SHARP_TINT), (cells < threshold, BLURRED_TINT)):  # NaN: neither
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.array(tint, np.float32)
    return rgb.round().astype(np.uint8)
