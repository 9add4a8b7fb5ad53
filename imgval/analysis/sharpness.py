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
DIRECTION_SHARE = 0.25  # a tile has structure in a direction whose coarse energy is >= this share of its largest
NOISE_MARGIN = 2.0  # ... and at least this many times the fine scale's noise energy
MIN_GRADIENT = 0.5  # ... and an RMS coarse gradient of at least this many grey levels (of 255) per pixel
NOISE_EXTRA = 0.2  # the noise energy subtracted at the fine scale, plus this share (estimates err low)
PERCENTILE = 80  # over a direction's tiles with structure: where the image is sharp, not its average
MIN_TILES = 4  # a direction with fewer tiles with structure is not judged
NOISE_PERCENTILE = 25  # of the tiles' noise estimates: the flatter tiles, where structure adds least
BLANK_RANGE = 12.0  # grey levels: a frame without structure whose smoothed luminance spans less is blank
NOISE_FLOOR = 0.3  # grey levels: 8-bit quantisation noise (1/sqrt(12)), the least noise there is


@dataclass(frozen=True)
class Sharpness:
    value: float | None  # higher is sharper; None when status != ""
    status: str  # "" = judged, "too small", "blank"


def viewing_size(gray: np.ndarray) -> np.ndarray:
    """gray reduced to at most VIEW_PIXELS pixels (keeping the aspect; never enlarged), as
    float32 on the 0..255 scale (16-bit input divided by 257).

    The reduction is a box average (INTER_AREA). From 8-bit images over twice the linear size
    it is done in two steps, bilinear to twice the viewing size and a 2x2 box average, which
    costs a fifth of a direct INTER_AREA on a 20 MP image (~4.5 ms instead of ~23)."""
    height, width = gray.shape
    if height * width <= VIEW_PIXELS:  # already at viewing size (the scan passes it so): no copy
        image = gray.astype(np.float32, copy=False)
    else:
        ratio = np.sqrt(VIEW_PIXELS / (height * width))
        size = (max(1, int(width * ratio)), max(1, int(height * ratio)))
        if gray.dtype == np.uint8 and ratio < 0.5:
            gray = cv2.resize(gray, (size[0] * 2, size[1] * 2), interpolation=cv2.INTER_LINEAR)
        image = cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if gray.dtype == np.uint16:
        image *= 1 / 257
    return image


_ONE = np.ones(1, np.float32)
# The coarse scale is taken at half size (a 2x2 box average): a Gaussian of sigma 1 there
# amounts to about COARSE_SIGMA at viewing size, at a quarter of the cost.
_HALF_SIGMA = COARSE_SIGMA / 2
_COARSE = cv2.getGaussianKernel(int(6 * _HALF_SIGMA) | 1, _HALF_SIGMA).astype(np.float32).ravel()
_COARSE_DIFF = np.convolve(_COARSE, [-0.5, 0.0, 0.5]).astype(np.float32)  # d/dx of the smoothed image
# Both energies are of derivatives per viewing-size pixel: cv2.Sobel's [-1, 0, 1] is twice the
# central difference, and a half-size pixel is two viewing-size pixels, so each energy is / 4.
_SCALE = 0.25
# The variance white noise of variance 1 has after each derivative (per viewing-size pixel): the
# central difference passes 1/2; the coarse one sees the 2x2 average (variance / 4) first.
_FINE_GAIN = 0.5
_COARSE_GAIN = float(np.sum(_COARSE_DIFF ** 2) * np.sum(_COARSE ** 2)) / 4 * _SCALE
_ANGLES = np.arange(DIRECTIONS) * np.pi / DIRECTIONS
_COS, _SIN = np.cos(_ANGLES)[:, None, None], np.sin(_ANGLES)[:, None, None]
_COS2, _SIN2, _COSSIN2 = _COS * _COS, _SIN * _SIN, 2 * _COS * _SIN


def _tile_means(values: np.ndarray, rows: int, cols: int, tile: int = TILE) -> np.ndarray:
    """Mean of float32 values over each tile x tile tile (the image cropped to whole tiles): the
    sum of each row's run of `tile` values (cv2.reduce), then of `tile` such runs: the same
    means as an INTER_AREA resize, in about half its time (0.2-0.5 ms for a 1 MP image)."""
    values = np.ascontiguousarray(values[:rows * tile, :cols * tile])
    runs = cv2.reduce(values.reshape(-1, tile), 1, cv2.REDUCE_SUM)
    return runs.reshape(rows, tile, cols).sum(axis=1) * np.float32(1 / (tile * tile))


def _structure(gx: np.ndarray, gy: np.ndarray, rows: int, cols: int, tile: int) -> np.ndarray:
    """Mean gradient energy along each of DIRECTIONS angles per tile, (DIRECTIONS, rows, cols):
    from the tile's structure tensor, since the derivative along an angle is cos*gx + sin*gy."""
    xx, xy, yy = (_tile_means(cv2.multiply(a, b), rows, cols, tile) for a, b in ((gx, gx), (gx, gy), (gy, gy)))
    return _COS2 * xx + _COSSIN2 * xy + _SIN2 * yy


@dataclass(frozen=True)
class _Tiles:
    ratio: np.ndarray  # (DIRECTIONS, rows, cols): fine / coarse signal energy; NaN: no structure there
    pooled: float  # fine / coarse signal energy of the whole image (when no direction can be judged)


def _tiles(view: np.ndarray) -> _Tiles:
    rows, cols = view.shape[0] // TILE, view.shape[1] // TILE
    view = view[:rows * TILE, :cols * TILE]
    noise = noise_sigma(view)
    fine_noise = noise ** 2 * _FINE_GAIN
    coarse_noise = noise ** 2 * _COARSE_GAIN
    fine = _structure(cv2.Sobel(view, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(view, cv2.CV_32F, 0, 1, ksize=1),
                      rows, cols, TILE) * _SCALE
    half = cv2.resize(view, (cols * TILE // 2, rows * TILE // 2), interpolation=cv2.INTER_AREA)
    coarse = _structure(cv2.sepFilter2D(half, cv2.CV_32F, _COARSE_DIFF, _COARSE),
                        cv2.sepFilter2D(half, cv2.CV_32F, _COARSE, _COARSE_DIFF), rows, cols, TILE // 2)
    coarse *= _SCALE
    fine_signal = fine - fine_noise * (1 + NOISE_EXTRA)
    coarse_signal = coarse - coarse_noise
    structured = ((coarse_signal >= DIRECTION_SHARE * coarse_signal.max(axis=0))
                  & (coarse_signal >= NOISE_MARGIN * fine_noise)
                  & (coarse_signal >= MIN_GRADIENT ** 2))
    ratio = np.where(structured, np.maximum(fine_signal, 0) / np.maximum(coarse_signal, 1e-12), np.nan)
    # x and y together: the mean energy of the whole gradient, noise subtracted once
    total_coarse = float(coarse_signal[0].sum() + coarse_signal[DIRECTIONS // 2].sum())
    total_fine = float(fine[0].sum() + fine[DIRECTIONS // 2].sum()) - 2 * rows * cols * fine_noise
    pooled = max(total_fine, 0.0) / total_coarse if total_coarse > 0 else 1.0
    return _Tiles(ratio.astype(np.float32), pooled)


def noise_sigma(view: np.ndarray) -> float:
    """Standard deviation of white noise in view (grey levels): the diagonal detail of a 2x2 Haar
    wavelet step (a - b - c + d) / 2, which smooth structure cancels and white noise passes with
    its own variance; its mean absolute value per 16x16 block of that band (sqrt(pi/2) times
    the mean absolute value of Gaussian noise is its sigma), at the NOISE_PERCENTILE-th
    percentile of blocks (structure only adds to it). Never below 8-bit quantisation noise."""
    height, width = view.shape[0] // 2 * 2, view.shape[1] // 2 * 2
    quads = view[:height, :width].reshape(height // 2, 2, width // 2, 2)
    rows_diff = quads[:, :, :, 0] - quads[:, :, :, 1]  # a - b over c - d, per 2x2 block
    diagonal = np.abs(rows_diff[:, 0] - rows_diff[:, 1])
    diagonal *= 0.5
    rows, cols = diagonal.shape[0] // 16, diagonal.shape[1] // 16
    if rows == 0 or cols == 0:
        return max(float(np.mean(diagonal)) * np.sqrt(np.pi / 2), NOISE_FLOOR)
    blocks = _tile_means(diagonal, rows, cols, 16) * np.sqrt(np.pi / 2)
    return max(float(np.percentile(blocks, NOISE_PERCENTILE)), NOISE_FLOOR)


def _luminance_range(view: np.ndarray) -> float:
    """The grey levels the luminance spans, smoothed past its noise (an 8x8 box average),
    between its 0.5th and 99.5th percentiles."""
    small = cv2.resize(view, (max(1, view.shape[1] // 8), max(1, view.shape[0] // 8)),
                       interpolation=cv2.INTER_AREA)
    low, high = np.percentile(small, [0.5, 99.5])
    return float(high - low)


def _value(tiles: _Tiles) -> float:
    """The sharpness of the blurriest direction: per direction, the PERCENTILE-th percentile of
    its tiles with structure (a sharp subject anywhere counts); the smallest of those (motion
    blur smears one direction everywhere, while edges along the motion stay crisp). Without
    MIN_TILES tiles in any direction (small or very noisy images), the whole image's ratio."""
    judged = []
    for ratios in tiles.ratio:
        found = ratios[np.isfinite(ratios)]
        if found.size >= MIN_TILES:
            judged.append(float(np.percentile(found, PERCENTILE)))
    return min(judged) if judged else tiles.pooled


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
    tiles = _tiles(view)
    # blank: a lens cap, an empty scanner bed, a grey placeholder: no structure above the noise
    # anywhere, and little range (a heavily defocused scene keeps its large-scale contrast)
    if not np.isfinite(tiles.ratio).any() and _luminance_range(view) < BLANK_RANGE:
        return Sharpness(None, "blank")
    return Sharpness(round(_value(tiles), 4), "")


def sharpness_map(gray: np.ndarray) -> np.ndarray:
    """Per-tile sharpness (float32, the scale of Sharpness.value; NaN for tiles without
    structure), one value per TILE x TILE tile of the viewing-size image: each tile's blurriest
    direction with structure. Where the image is sharp."""
    view = viewing_size(gray)
    if min(view.shape) < TILE:
        return np.full((max(1, view.shape[0] // TILE), max(1, view.shape[1] // TILE)), np.nan, np.float32)
    ratio = _tiles(view).ratio
    judged = np.isfinite(ratio).any(axis=0)
    least = np.where(np.isfinite(ratio), ratio, np.inf).min(axis=0)
    return np.where(judged, least, np.nan).astype(np.float32)
