"""The sharpness measure: are the edges of a photograph crisp where it has edges?

Pure functions on 2-D luminance arrays (8- or 16-bit, any size). The image is looked at as a
person would view it: reduced to at most VIEW_PIXELS (viewing_size), never upscaled, so a 20 MP
photo and its 25% downscale are judged alike and a small original keeps its own pixels.

At that size the measure judges edges, not texture. Edge points are traced by Canny's method on
the gradient at a fine scale (a Sobel derivative smoothed over FINE_SIGMA), its thresholds in
units of that gradient's noise (estimated from a Haar wavelet band): what noise alone makes is
not an edge, and a dim, flat scan keeps its edges. At each edge point the gradient magnitude at the
fine scale is compared with the magnitude at a coarse scale (COARSE_SIGMA): a step edge blurred
by b px has a peak gradient proportional to 1 / sqrt(b^2 + s^2) at scale s, so the ratio is
COARSE_SIGMA / FINE_SIGMA (2) for a crisp edge and falls towards 1 as the edge widens (texture
and fine lines, higher, count as crisp). Both magnitudes are of the same edge, so contrast and
exposure cancel; the noise's expected energy is subtracted from both, and only edges well above
the noise are used. Edges are grouped by the direction of their gradient and the image is judged
by its blurriest direction, so motion blur (one direction smeared) is not averaged away; within a
direction by a high percentile of its edges, so a sharp subject on a defocused background is
sharp.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imgval.analysis import blur
from imgval.defaults import SHARPNESS_MIN_SIDE

# The measure's definition: raised whenever a change moves its values, so that cached results
# measured by an earlier one are measured again (batch/cache.py's fingerprint).
VERSION = 2  # 2: the Sobel gradient
VIEW_PIXELS = 1_000_000  # the viewing size: a screen-filling look at the photo
FINE_SIGMA = 1.0  # pixels (at viewing size): the fine scale's smoothing (_gradient)
COARSE_SIGMA = 2.0  # ... and the coarse scale's
CRISP = COARSE_SIGMA / FINE_SIGMA  # the ratio of a crisp step edge: the most one edge point counts for
TRACE_NOISE = 3.0  # Canny's hysteresis thresholds: 3 and 6 times the fine gradient's noise
EDGE_NOISE = 8.0  # an edge point is judged where its fine gradient is this many times the noise ...
MIN_EDGES = 50  # ... or, when fewer are, the MIN_EDGES strongest: a picture with fewer is not judged by edges
MAX_POINTS = 8192  # edge points looked at, at most (every k-th of those traced, in raster order)
DIRECTIONS = 8  # gradient directions over 180 degrees (motion blur smears one)
PERCENTILE = 80  # over a direction's edge points: where the image is sharp, not its average
TILE = 32  # pixels (at viewing size) per tile of the map (sharpness_map)
MIN_TILE_EDGES = 8  # a tile with fewer edge points has no value on the map
NOISE_PERCENTILE = 25  # of the blocks' noise estimates: the flatter blocks, where structure adds least
BLANK_RANGE = 12.0  # grey levels: a frame without edges whose smoothed luminance spans less is blank
NOISE_FLOOR = 0.3  # grey levels: 8-bit quantisation noise (1/sqrt(12)), the least noise there is
NO_DETAIL = 1.0  # the value of a picture with too few edges to judge: nothing finer than the coarse scale


@dataclass(frozen=True)
class Sharpness:
    value: float | None  # higher is sharper; None when status != ""
    status: str  # "" = judged, "too small", "blank"


def viewing_size(gray: np.ndarray, normalised: np.ndarray | None = None,
                 low_passed: bool = False) -> np.ndarray:
    """gray reduced to at most VIEW_PIXELS pixels (keeping the aspect; never enlarged), on the
    0..255 scale: an 8-bit image already small enough as it is (no copy), an 8-bit one over the
    classic score's ~2 MP as 8 bits, any other as float32 (16-bit input divided by 257).

    The reduction is a box average (INTER_AREA, in float: not rounded to 8 bits again). An 8-bit
    image over the classic score's ~2 MP is reduced in two bilinear steps instead: to that size
    (blur.normalise_size: the very image the score is taken of, which a caller that has it
    passes as `normalised`), then to the viewing size, a ratio over 1/2 where bilinear still
    reads nearly every pixel (~1.2 ms for a 20 MP image, against ~9 ms for a box average of it).
    From 1-2 MP a bilinear step called one more noisy sharp picture blurry in the evaluation
    (seed 7) than the box average, which those keep, unless `low_passed` (the fast mode's
    DCT-scaled decode, averaged already: a box average at its ratios costs ~4 ms, bilinear ~1)."""
    height, width = gray.shape
    ratio = np.sqrt(VIEW_PIXELS / (height * width))
    size = (max(1, int(width * ratio)), max(1, int(height * ratio)))
    if gray.dtype == np.uint8:
        if height * width <= VIEW_PIXELS:  # already at viewing size: no copy
            return gray
        if height * width > blur.TARGET_PIXELS:
            gray = blur.normalise_size(gray) if normalised is None else normalised
        if low_passed or height * width > blur.TARGET_PIXELS:
            return cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
    image = gray.astype(np.float32, copy=False)
    if height * width > VIEW_PIXELS:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if gray.dtype == np.uint16:
        image *= 1 / 257
    return image


# The gradient at both scales is the 5-tap Sobel derivative (cv2.Sobel): binomial smoothing
# [1, 4, 6, 4, 1] / 16 (a sigma of 1 px, the FINE_SIGMA) across, the smoothed difference
# [-1, -2, 0, 2, 1] / 8 along; 128 per grey level per pixel of a ramp. The coarse scale is the
# same filter at half size (a 2x2 box average): about COARSE_SIGMA at viewing size, at a fifth
# of the cost. (It was a Gaussian derivative of 1 px: the same accuracy within a file a draw,
# at about twice the cost.)
_DIFFERENCE, _SMOOTHING = (k.ravel().astype(np.float64) for k in cv2.getDerivKernels(1, 0, 5))
_SOBEL_GAIN = float(_SMOOTHING.sum() * np.sum(_DIFFERENCE * np.arange(-2, 3)))  # 16 * 8
# The variance, per axis, that the normalised filter gives white noise of variance 1: per
# viewing-size pixel, the 2x2 average quarters it at half size, and a half-size pixel is two
# viewing-size pixels (the coarse gradient is halved, its energy quartered).
_FINE_GAIN = float(np.sum(_SMOOTHING ** 2) * np.sum(_DIFFERENCE ** 2)) / _SOBEL_GAIN ** 2
_COARSE_GAIN = _FINE_GAIN / 16


def _gradient(view: np.ndarray, scale: float = 1.0, depth: int = cv2.CV_32F) -> tuple[np.ndarray, np.ndarray]:
    """(d/dx, d/dy) of view (grey levels per pixel) times `scale`, as `depth` (rounded if
    integer), the border reflected: views into arrays 2 px larger each side."""
    # reflected by hand: cv2.Sobel's own BORDER_REFLECT leaves its fast path (twice the time),
    # and its default border (reflect-101) flagged more sharp pictures (JPEG q60 copies)
    padded = cv2.copyMakeBorder(view, 2, 2, 2, 2, cv2.BORDER_REFLECT)
    return tuple(cv2.Sobel(padded, depth, dx, 1 - dx, ksize=5, scale=scale / _SOBEL_GAIN)[2:-2, 2:-2]
                 for dx in (1, 0))


def _bilinear(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """float32 image sampled at the points (y, x) by bilinear interpolation, clamped at the
    border (cv2.remap, the points laid out in rows: its maps must be under 32,767 wide)."""
    count = len(y)
    if count == 0:
        return np.zeros(0, np.float32)
    width = min(count, 16384)
    rows = -(-count // width)
    maps = [np.pad(v.astype(np.float32), (0, rows * width - count)).reshape(rows, width) for v in (x, y)]
    return cv2.remap(image, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()[:count]


def _half_size(view: np.ndarray) -> np.ndarray:
    """view averaged over 2x2 blocks (cropped to even sides), in float32 (an 8-bit average would
    round, and float filters the quicker)."""
    height, width = view.shape[0] // 2 * 2, view.shape[1] // 2 * 2
    return cv2.resize(view[:height, :width].astype(np.float32, copy=False), (width // 2, height // 2),
                      interpolation=cv2.INTER_AREA)


def _edge_points(dx: np.ndarray, dy: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols), in raster order, of the edge points Canny traces on these int16 derivatives."""
    found = cv2.findNonZero(cv2.Canny(dx, dy, low, high, L2gradient=True))
    if found is None:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    found = found.reshape(-1, 2).astype(np.intp)
    return found[:, 1], found[:, 0]


@dataclass(frozen=True)
class _Edges:
    rows: np.ndarray  # the judged edge points' coordinates at viewing size
    cols: np.ndarray
    ratio: np.ndarray  # fine / coarse gradient magnitude there, noise removed
    angle: np.ndarray  # the gradient's direction, 0..pi
    traced: int  # edge points Canny traced, judged or not


def _edges(view: np.ndarray, limit: int | None = MAX_POINTS) -> _Edges:
    """The edge points that stand clear of the noise, with their fine / coarse magnitude ratio:
    at most `limit` of them (None: all), spread over the frame."""
    noise = noise_sigma(view)
    fine_var, coarse_var = noise * noise * _FINE_GAIN, noise * noise * _COARSE_GAIN
    # cv2.Canny takes int16 derivatives: filtered straight to int16 with one noise unit scaled
    # to 8. The noise is never below NOISE_FLOOR, so the steepest 8-bit edge (~96 grey levels
    # per pixel) stays under 12,500.
    scale = 8.0 / float(np.sqrt(fine_var))
    dx, dy = _gradient(view, scale, cv2.CV_16S)
    # judged where the noise's subtraction is sure: edge points EDGE_NOISE times over the noise;
    # a noisy picture with fewer by its MIN_EDGES clearest edge points of those traced down to
    # TRACE_NOISE times (Canny's hysteresis)
    rows, cols = _edge_points(dx, dy, EDGE_NOISE * 8, EDGE_NOISE * 8)
    traced = len(rows)
    if traced < MIN_EDGES:
        rows, cols = _edge_points(dx, dy, TRACE_NOISE * 8, 2 * TRACE_NOISE * 8)
        traced = len(rows)
        fine = dx[rows, cols].astype(np.int32) ** 2 + dy[rows, cols].astype(np.int32) ** 2
        if traced > MIN_EDGES:
            clearest = fine >= np.partition(fine, traced - MIN_EDGES)[traced - MIN_EDGES]
            rows, cols = rows[clearest], cols[clearest]
    if limit is not None:  # a sample spread over the frame is enough for percentiles, and bounds the cost
        every = -(-len(rows) // limit) or 1
        rows, cols = rows[::every], cols[::every]
    fx, fy = dx[rows, cols] * np.float32(1 / scale), dy[rows, cols] * np.float32(1 / scale)
    fine = fx * fx + fy * fy
    cx, cy = _gradient(_half_size(view))
    # sampled where the edge point is: viewing-size pixel i is at (i - 0.5) / 2 at half size
    coarse = _bilinear(cv2.magnitude(cx, cy) ** 2, (rows - 0.5) * 0.5, (cols - 0.5) * 0.5) * 0.25
    ratio = np.sqrt(np.maximum(fine - 2 * fine_var, 1e-6) / np.maximum(coarse - 2 * coarse_var, 1e-6))
    # a crisp step's ratio is the most a point counts for: texture and fine lines (higher) are
    # crisp, no more, so an image of clean edges is judged like a textured one
    ratio = np.minimum(ratio, CRISP)
    return _Edges(rows, cols, ratio.astype(np.float32), np.mod(np.arctan2(fy, fx), np.pi), traced)


def _tile_means(values: np.ndarray, rows: int, cols: int, tile: int) -> np.ndarray:
    """Mean of int16 or float32 values over each tile x tile block (the image cropped to whole
    tiles), as float32: the sum of each row's run of `tile` values (cv2.reduce), then of `tile`
    such runs: the same means as an INTER_AREA resize, in about half its time (0.2-0.5 ms for a
    1 MP image)."""
    values = np.ascontiguousarray(values[:rows * tile, :cols * tile])
    runs = cv2.reduce(values.reshape(-1, tile), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32F)
    return runs.reshape(rows, tile, cols).sum(axis=1) * np.float32(1 / (tile * tile))


def noise_sigma(view: np.ndarray) -> float:
    """Standard deviation of white noise in view (grey levels): the diagonal detail of a 2x2 Haar
    wavelet step (a - b - c + d) / 2, which smooth structure cancels and white noise passes with
    its own variance; its mean absolute value per 16x16 block of that band (sqrt(pi/2) times
    the mean absolute value of Gaussian noise is its sigma), at the NOISE_PERCENTILE-th
    percentile of blocks (structure only adds to it). Never below 8-bit quantisation noise."""
    height, width = view.shape[0] // 2 * 2, view.shape[1] // 2 * 2
    even, odd = (np.ascontiguousarray(view[first:height:2, :width]) for first in (0, 1))
    # per 2x2 block [[a, b], [c, d]]: a - c and b - d side by side (8-bit differences exact in
    # 16 bits), then (a - c) - (b - d)
    columns = cv2.subtract(even, odd, dtype=cv2.CV_16S if view.dtype == np.uint8 else cv2.CV_32F)
    diagonal = np.abs(columns[:, 0::2] - columns[:, 1::2])
    to_sigma = 0.5 * np.sqrt(np.pi / 2)  # the Haar step's 1/2, and mean |x| to sigma
    rows, cols = diagonal.shape[0] // 16, diagonal.shape[1] // 16
    if rows == 0 or cols == 0:
        return max(float(np.mean(diagonal)) * to_sigma, NOISE_FLOOR)
    blocks = _tile_means(diagonal, rows, cols, 16)
    return max(float(np.percentile(blocks, NOISE_PERCENTILE)) * to_sigma, NOISE_FLOOR)


def _luminance_range(view: np.ndarray) -> float:
    """The grey levels the luminance spans, smoothed past its noise (an 8x8 box average),
    between its 0.5th and 99.5th percentiles."""
    small = cv2.resize(view, (max(1, view.shape[1] // 8), max(1, view.shape[0] // 8)),
                       interpolation=cv2.INTER_AREA)
    low, high = np.percentile(small, [0.5, 99.5])
    return float(high - low)


def _percentiles(ratio: np.ndarray, group: np.ndarray, groups: int, least: int) -> np.ndarray:
    """The PERCENTILE-th percentile (numpy's linear method) of the ratios (0..CRISP) in each of
    `groups` groups (group: each ratio's, 0..groups-1), NaN where a group has fewer than `least`:
    one sort of all of them (by group, then ratio) instead of a percentile per group."""
    sizes = np.bincount(group, minlength=groups)
    result = np.full(groups, np.nan)
    counted = np.flatnonzero(sizes >= max(least, 1))
    if len(counted) == 0:
        return result
    span = 2 * CRISP  # over any ratio: the groups' keys do not overlap
    ranked = np.sort(group * span + ratio) - np.repeat(np.arange(groups) * span, sizes)
    ends = np.cumsum(sizes)[counted]
    at = ends - sizes[counted] + (sizes[counted] - 1) * (PERCENTILE / 100)
    low = at.astype(np.intp)
    high = np.minimum(low + 1, ends - 1)
    result[counted] = ranked[low] + (ranked[high] - ranked[low]) * (at - low)
    return result


def _value(edges: _Edges) -> float:
    """The sharpness of the blurriest direction: per direction with enough edge points, the
    PERCENTILE-th percentile of their ratios (a sharp subject anywhere counts); the smallest of
    those (motion blur smears one direction everywhere, while edges along the motion stay
    crisp). NO_DETAIL when fewer than MIN_EDGES edge points stand out of the noise."""
    if len(edges.ratio) < MIN_EDGES:
        return NO_DETAIL
    direction = np.minimum((edges.angle * (DIRECTIONS / np.pi)).astype(np.intp), DIRECTIONS - 1)
    judged = _percentiles(edges.ratio, direction, DIRECTIONS, MIN_EDGES // DIRECTIONS)
    if np.isnan(judged).all():
        return float(np.percentile(edges.ratio, PERCENTILE))
    return float(np.nanmin(judged))


def measure(gray: np.ndarray, min_side: int | None = None) -> Sharpness:
    """The sharpness of a 2-D uint8 or uint16 luminance image at any size: value higher is
    sharper (a ratio of fine- to coarse-scale gradient magnitude at edges: about 2 for crisp
    edges, towards 1 for blurred ones); status "too small" below SHARPNESS_MIN_SIDE pixels on
    the short side, "blank" for a uniform frame. min_side: the too-small limit (default
    SHARPNESS_MIN_SIDE; at least TILE)."""
    if gray.ndim != 2:
        raise ValueError(f"measure expects a 2-D luminance array, not shape {gray.shape}")
    if min(gray.shape) < max(SHARPNESS_MIN_SIDE if min_side is None else min_side, TILE):
        return Sharpness(None, "too small")
    view = viewing_size(gray)
    edges = _edges(view)
    # blank: a lens cap, an empty scanner bed, a grey placeholder: no edges above the noise, and
    # little range (a heavily defocused scene keeps its large-scale contrast)
    if edges.traced < MIN_EDGES and _luminance_range(view) < BLANK_RANGE:
        return Sharpness(None, "blank")
    return Sharpness(round(_value(edges), 4), "")


def sharpness_map(gray: np.ndarray) -> np.ndarray:
    """Per-tile sharpness (float32, the scale of Sharpness.value; NaN for tiles with fewer than
    MIN_TILE_EDGES judged edge points), one value per TILE x TILE tile of the viewing-size
    image: the PERCENTILE-th percentile of the tile's edge ratios. Where the image is sharp."""
    view = viewing_size(gray)
    rows, cols = max(1, view.shape[0] // TILE), max(1, view.shape[1] // TILE)
    if min(view.shape) < TILE:
        return np.full((rows, cols), np.nan, np.float32)
    edges = _edges(view, limit=None)
    inside = (edges.rows < rows * TILE) & (edges.cols < cols * TILE)
    tile = (edges.rows[inside] // TILE) * cols + edges.cols[inside] // TILE
    values = _percentiles(edges.ratio[inside], tile, rows * cols, MIN_TILE_EDGES)
    return values.reshape(rows, cols).astype(np.float32)
