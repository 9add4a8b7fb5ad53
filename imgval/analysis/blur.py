"""The blur score: variance of the Laplacian of a size-normalised grayscale image.

Pure functions on numpy arrays, as the original tool (BlurDetection2) defined them:
the image is resized to about TARGET_PIXELS with cv2.resize's default (bilinear)
interpolation, small images upscaled too; the Laplacian is taken in float64; its variance
is the score. Lower is blurrier.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from imgval.defaults import DEFAULT_THRESHOLD, FAST_DEFAULT_THRESHOLD  # noqa: F401  (thresholds live with the CLI defaults)

TARGET_PIXELS = 2e6  # the original's "expected_pixels": scores are comparable across image sizes
FAST_TARGET_PIXELS = 0.5e6  # the fast mode's size (its own score scale: see defaults.FAST_DEFAULT_THRESHOLD)
FAST_MIN_DECODED_PIXELS = FAST_TARGET_PIXELS  # decode at the smallest DCT scale keeping this many


def normalise_size(image: np.ndarray, target_pixels: float = TARGET_PIXELS) -> np.ndarray:
    """Resize (either way) so that height * width is about target_pixels, keeping the aspect."""
    ratio = np.sqrt(target_pixels / (image.shape[0] * image.shape[1]))
    return cv2.resize(image, (0, 0), fx=ratio, fy=ratio)


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR (as OpenCV decodes) to 8-bit luminance; grayscale passes through."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def laplacian(gray: np.ndarray) -> np.ndarray:
    """Second-derivative response (float64): large where edges are sharp."""
    return cv2.Laplacian(gray, cv2.CV_64F)


def blur_score(blur_map: np.ndarray) -> float:
    """Variance of a Laplacian response: the blur score (lower is blurrier)."""
    return float(np.var(blur_map))


def laplacian_variance(gray: np.ndarray) -> float:
    """blur_score(laplacian(gray)) without the float64 map: for 8-bit input the Laplacian is
    exact in 16-bit integers and OpenCV sums its moments in double precision, so the value is
    the same (to ~1e-12) at a sixth of the cost."""
    if gray.dtype != np.uint8:
        return blur_score(laplacian(gray))
    response = cv2.Laplacian(gray, cv2.CV_16S)
    # the two moments as sums (SIMD passes; cv2.meanStdDev on int16 took 2.3 ms of 4 on 2 MP)
    count = response.size
    mean = cv2.sumElems(response)[0] / count
    return max(cv2.norm(response, cv2.NORM_L2SQR) / count - mean * mean, 0.0)


# Images this small are scored in closed form (upscaled_laplacian_variance) instead of upscaled:
# at most this many multiply-adds for the per-image products (h*w*(h+w); 128x128 is 4.2 M).
CLOSED_FORM_MAX_WORK = 128 * 128 * 256
# The expected Laplacian energy of the upscale's rounding to 8 bits, per unit of the model's
# estimate (_rounding_energy): fitted to exact mode's scores of 170 thumbnails and photographs
# (64x64 to 250 px wide); see docs/performance.md.
ROUNDING_GAIN = 1.9


def scored_in_closed_form(shape: tuple[int, ...], target_pixels: float = TARGET_PIXELS) -> bool:
    """True when normalise_size would upscale an image of this shape and it is small enough for
    upscaled_laplacian_variance to be cheaper than the upscale."""
    height, width = shape[:2]
    return height * width < target_pixels and height * width * (height + width) <= CLOSED_FORM_MAX_WORK


def upscaled_laplacian_variance(gray: np.ndarray, target_pixels: float = TARGET_PIXELS,
                                rounding_gain: float = ROUNDING_GAIN) -> float:
    """laplacian_variance(normalise_size(gray)) of a small 8-bit image, without the upscale.

    The bilinear upscale is linear: U = By X Bx' (By, Bx the interpolation matrices of the two
    axes), so its Laplacian is L = Dy X Bx' + By X Dx' (Dy, Dx: the second differences of the
    interpolation, border reflected as cv2.Laplacian does) and its sums come from products of
    matrices the size of the image, not of the 2 MP upscale: sum(L) by vectors, sum(L^2) as
    traces of Gram matrices. That is exact for the unrounded upscale. cv2.resize also rounds it
    to 8 bits, and for a small image upscaled ~20x that rounding is most of the score (a 64x64
    thumbnail scores ~1, nearly all of it rounding steps): it is added as its expected energy
    (_rounding_energy). Measured against exact mode: within 0.31 of its score (docs/performance.md)."""
    height, width = gray.shape
    ratio = float(np.sqrt(target_pixels / (height * width)))
    out_height, out_width = round(height * ratio), round(width * ratio)
    ay, ax = _upscale_axis(height, out_height, ratio), _upscale_axis(width, out_width, ratio)
    x = gray.astype(np.float64)
    total = ay.second_sum @ x @ ax.interp_sum + ay.interp_sum @ x @ ax.second_sum
    energy = (np.sum(x * (ay.second_gram @ x @ ax.interp_gram)) + np.sum(x * (ay.interp_gram @ x @ ax.second_gram))
              + 2 * np.sum(x * (ay.cross @ x @ ax.cross)))
    energy += rounding_gain * (_rounding_energy(x, ay, ratio) + _rounding_energy(x.T, ax, ratio))
    count = out_height * out_width
    mean = total / count
    return float(max(energy / count - mean * mean, 0.0))


def _rounding_energy(x: np.ndarray, along: "_Axis", ratio: float) -> float:
    """The expected Laplacian energy of rounding to 8 bits the upscale of x, along x's second
    axis: each upscaled row is linear between source columns, and a ramp of slope a levels per
    pixel rounded to integers has second differences of squared sum 2 * min(f, 1 - f) per pixel
    (f the fraction of a: steps of one level, each a +1 and a -1). The upscaled rows are sampled
    a few per source row (the energy varies smoothly between them)."""
    stride = max(1, int(ratio // 4))
    low, high = along.low[::stride], along.high[::stride]
    steps = np.diff(x, axis=1)
    slope = np.abs(along.weights_low[::stride, None] * steps[low] + along.weights_high[::stride, None] * steps[high])
    slope /= ratio
    fraction = slope - np.floor(slope)
    return float(2 * np.minimum(fraction, 1 - fraction).sum() * ratio * len(along.low) / len(low))


class _Axis:
    """One axis of cv2.resize's bilinear upscale (INTER_LINEAR: source coordinate (d + 0.5) /
    ratio - 0.5, clamped at the borders) and of the Laplacian's second difference after it."""

    def __init__(self, size: int, out_size: int, ratio: float):
        source = (np.arange(out_size) + 0.5) / ratio - 0.5
        low = np.floor(source).astype(np.int64)
        fraction = source - low
        fraction[low < 0], low[low < 0] = 0, 0
        last = low >= size - 1
        fraction[last], low[last] = 0, size - 1
        self.low, self.high = low, np.minimum(low + 1, size - 1)
        self.weights_low, self.weights_high = 1 - fraction, fraction
        interp = np.zeros((out_size, size))
        np.add.at(interp, (np.arange(out_size), self.low), self.weights_low)
        np.add.at(interp, (np.arange(out_size), self.high), self.weights_high)
        second = -2 * interp  # reflect-101 border: the neighbour outside is the one inside
        second[1:] += interp[:-1]
        second[:-1] += interp[1:]
        second[0] += interp[1]
        second[-1] += interp[-2]
        self.interp_sum, self.second_sum = interp.sum(axis=0), second.sum(axis=0)
        self.interp_gram, self.second_gram, self.cross = interp.T @ interp, second.T @ second, second.T @ interp


@functools.lru_cache(maxsize=64)
def _upscale_axis(size: int, out_size: int, ratio: float) -> _Axis:
    return _Axis(size, out_size, ratio)


def is_blurry(score: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return score < threshold


def pretty_blur_map(blur_map: np.ndarray, sigma: int = 5, min_abs: float = 0.5) -> np.ndarray:
    """An 8-bit picture of where the image is sharp (bright) and blurred (dark).

    Log of the absolute Laplacian, median-smoothed (as the original displayed it), then
    stretched to 0..255 so it can be shown or saved as a PNG.
    """
    magnitude = np.maximum(np.abs(blur_map).astype(np.float32), min_abs)
    smoothed = cv2.medianBlur(np.log(magnitude), sigma)
    return cv2.normalize(smoothed, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
