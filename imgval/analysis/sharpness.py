"""The sharpness measure: is the detail of a photograph crisp where it has detail?

Pure functions on 2-D luminance arrays (8- or 16-bit, any size). The image is looked at as a
person would view it: box-averaged (INTER_AREA) to at most VIEW_PIXELS, never upscaled, so a
20 MP photo and its 25% downscale are judged alike and a small original keeps its own pixels.

At that size, per TILE x TILE tile, the energy of the directional gradient at a fine scale
(pixel differences) is compared with the energy at a coarse scale (after a Gaussian of
COARSE_SIGMA): a crisp edge has most of its gradient energy in one pixel, so the ratio is high;
a blurred edge spreads it, so the ratio falls towards 1. Energies are ratios of the same
picture's gradients, so contrast and exposure cancel out. Sensor noise adds fine energy that is
not detail: it is estimated (Immerkaer's Laplacian-difference operator, from the flattest
tiles) and its expected energy subtracted at each scale. The gradient energy of every direction
comes from the tile's structure tensor (derivatives are steerable), and the tile is judged by
its blurriest well-lit direction, so motion blur (one direction smeared) is not averaged away.
The image's value is a high percentile over tiles with detail: a sharp subject on a defocused
background is sharp.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imgval.defaults import SHARPNESS_MIN_SIDE

VIEW_PIXELS = 1_000_000  # the viewing size: a screen-filling look at the photo
TILE = 32  # pixels (at viewing size) per tile side
COARSE_SIGMA = 2.0  # pixels (at viewing size): the coarse scale's Gaussian
DIRECTIONS = 16  # gradient directions over 180 degrees (motion blur has one)
DIRECTION_SHARE = 0.25  # a direction counts where its coarse energy is >= this share of the tile's largest
NOISE_MARGIN = 4.0  # a tile has detail where its coarse signal energy is this many times the noise's
MIN_GRADIENT = 0.35  # grey levels (of 255) per pixel: the RMS coarse gradient of a tile with detail
PERCENTILE = 95  # over tiles with detail: where the image is sharpest, not its average
BLANK_RANGE = 6.0  # grey levels: a frame whose smoothed luminance spans less than this is blank
NOISE_FLOOR = 0.3  # grey levels: 8-bit quantisation noise (1/sqrt(12)), the least noise there is


@dataclass(frozen=True)
class Sharpness:
    value: float | None  # higher is sharper; None when status != ""
    status: str  # "" = judged, "too small", "blank"


def viewing_size(gray: np.ndarray) -> np.ndarray:
    """gray box-averaged (INTER_AREA) to at most VIEW_PIXELS pixels, keeping the aspect, as
    float32 on the 0..255 scale (16-bit input divided by 257); smaller images keep their size."""
    image = gray.astype(np.float32)
    if gray.dtype == np.uint16:
        image *= 1 / 257
    height, width = gray.shape
    if height * width <= VIEW_PIXELS:
        return image
    ratio = np.sqrt(VIEW_PIXELS / (height * width))
    size = (max(1, int(width * ratio)), max(1, int(height * ratio)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _kernel_gain(kernel_x: np.ndarray, kernel_y: np.ndarray) -> float:
    """Sum of squares of a separable kernel: the variance white noise of variance 1 gets."""
    return float(np.sum(kernel_x ** 2) * np.sum(kernel_y ** 2))


_DIFF = np.array([-0.5, 0.0, 0.5], np.float32)  # central difference: d/dx at the finest scale
_COARSE = cv2.getGaussianKernel(int(6 * COARSE_SIGMA) | 1, COARSE_SIGMA).astype(np.float32).ravel()
_COARSE_DIFF = np.convolve(_COARSE, _DIFF).astype(np.float32)  # d/dx of the Gaussian-smoothed image
_FINE_GAIN = _kernel_gain(_DIFF, np.array([1.0]))
_COARSE_GAIN = _kernel_gain(_COARSE_DIFF, _COARSE)
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_ANGLES = np.arange(DIRECTIONS) * np.pi / DIRECTIONS


def _tile_sums(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of values over each TILE x TILE tile (the image cropped to whole tiles)."""
    return cv2.resize(values[:rows * TILE, :cols * TILE], (cols, rows), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class _Tiles:
    ratio: np.ndarray  # per tile: fine / coarse signal energy in the blurriest direction; NaN: no detail
    pooled: float  # the same over the whole image (for pictures without a tile of detail)


def _tiles(view: np.ndarray) -> _Tiles:
    rows, cols = view.shape[0] // TILE, view.shape[1] // TILE
    noise = _noise_sigma(view, rows, cols)
    fine_x = cv2.sepFilter2D(view, cv2.CV_32F, _DIFF, np.ones(1, np.float32))
    fine_y = cv2.sepFilter2D(view, cv2.CV_32F, np.ones(1, np.float32), _DIFF)
    coarse_x = cv2.sepFilter2D(view, cv2.CV_32F, _COARSE_DIFF, _COARSE)
    coarse_y = cv2.sepFilter2D(view, cv2.CV_32F, _COARSE, _COARSE_DIFF)
    tensors = []
    for gx, gy in ((fine_x, fine_y), (coarse_x, coarse_y)):
        tensors.append([_tile_sums(gx * gx, rows, cols), _tile_sums(gx * gy, rows, cols),
                        _tile_sums(gy * gy, rows, cols)])
    cos, sin = np.cos(_ANGLES)[:, None, None], np.sin(_ANGLES)[:, None, None]

    def directional(tensor):  # energy of the derivative along each angle: (DIRECTIONS, rows, cols)
        xx, xy, yy = tensor
        return cos * cos * xx + 2 * cos * sin * xy + sin * sin * yy

    fine = directional(tensors[0]) - noise ** 2 * _FINE_GAIN
    coarse = directional(tensors[1]) - noise ** 2 * _COARSE_GAIN
    lit = ((coarse >= DIRECTION_SHARE * coarse.max(axis=0))
           & (coarse >= NOISE_MARGIN * noise ** 2 * _COARSE_GAIN)
           & (coarse >= MIN_GRADIENT ** 2))
    ratio = np.where(lit, np.maximum(fine, 0) / np.maximum(coarse, 1e-12), np.inf).min(axis=0)
    ratio[~np.isfinite(ratio)] = np.nan
    total_fine = max(float(np.sum(tensors[0][0] + tensors[0][2])) - 2 * rows * cols * noise ** 2 * _FINE_GAIN, 0.0)
    total_coarse = float(np.sum(tensors[1][0] + tensors[1][2])) - 2 * rows * cols * noise ** 2 * _COARSE_GAIN
    pooled = total_fine / total_coarse if total_coarse > 0 else 1.0
    return _Tiles(ratio.astype(np.float32), pooled)


def _noise_sigma(view: np.ndarray, rows: int, cols: int) -> float:
    """Standard deviation of white noise in view (grey levels), by Immerkaer's method (1996):
    the mean absolute response of a Laplacian difference that cancels smooth structure, taken
    in the flattest tenth of the tiles (structure only adds to it)."""
    response = np.abs(cv2.filter2D(view, cv2.CV_32F, _IMMERKAER))
    per_tile = _tile_sums(response, rows, cols) * (np.sqrt(np.pi / 2) / 6)
    return max(float(np.percentile(per_tile, 10)), NOISE_FLOOR)


def _is_blank(view: np.ndarray) -> bool:
    """Uniform or nearly so (lens cap, empty scanner bed, grey placeholder): the luminance,
    smoothed past its noise, spans less than BLANK_RANGE grey levels between its 0.5th and
    99.5th percentiles."""
    small = cv2.resize(view, (max(1, view.shape[1] // 8), max(1, view.shape[0] // 8)),
                       interpolation=cv2.INTER_AREA)
    low, high = np.percentile(small, [0.5, 99.5])
    return float(high - low) < BLANK_RANGE


def measure(gray: np.ndarray, min_side: int | None = None) -> Sharpness:
    """The sharpness of a 2-D uint8 or uint16 luminance image at any size: value higher is
    sharper (a ratio of fine- to coarse-scale gradient energy, about 1 for no fine detail at
    all); status "too small" below SHARPNESS_MIN_SIDE pixels on the short side, "blank" for a
    uniform frame. min_side: the too-small limit (default SHARPNESS_MIN_SIDE; at least TILE)."""
    if gray.ndim != 2:
        raise ValueError(f"measure expects a 2-D luminance array, not shape {gray.shape}")
    if min(gray.shape) < max(SHARPNESS_MIN_SIDE if min_side is None else min_side, TILE):
        return Sharpness(None, "too small")
    view = viewing_size(gray)
    if _is_blank(view):
        return Sharpness(None, "blank")
    tiles = _tiles(view)
    detailed = tiles.ratio[np.isfinite(tiles.ratio)]
    if detailed.size == 0:
        return Sharpness(round(float(tiles.pooled), 4), "")
    return Sharpness(round(float(np.percentile(detailed, PERCENTILE)), 4), "")


def sharpness_map(gray: np.ndarray) -> np.ndarray:
    """Per-tile sharpness (float32, the scale of Sharpness.value; NaN for tiles without detail),
    one value per TILE x TILE tile of the viewing-size image: where the image is sharp."""
    view = viewing_size(gray)
    if min(view.shape) < TILE:
        return np.full((max(1, view.shape[0] // TILE), max(1, view.shape[1] // TILE)), np.nan, np.float32)
    return _tiles(view).ratio
