"""The blur score: variance of the Laplacian of a size-normalised grayscale image.

Pure functions on numpy arrays, as the original tool (BlurDetection2) defined them:
the image is resized to about TARGET_PIXELS with cv2.resize's default (bilinear)
interpolation, small images upscaled too; the Laplacian is taken in float64; its variance
is the score. Lower is blurrier.
"""
from __future__ import annotations

import cv2
import numpy as np

TARGET_PIXELS = 2e6  # the original's "expected_pixels": scores are comparable across image sizes
DEFAULT_THRESHOLD = 100.0

# The fast mode scores a smaller picture, so its scores are on their own scale: a sharp edge
# spans fewer pixels, and box reduction averages noise away. Its threshold is calibrated so its
# blurry flags agree with the default mode's (benchmarks/calibrate.py; docs/performance.md).
FAST_TARGET_PIXELS = 0.5e6
FAST_MIN_DECODED_PIXELS = FAST_TARGET_PIXELS  # decode at the smallest DCT scale keeping this many
FAST_DEFAULT_THRESHOLD = 431.0  # labelled corpus: 98.6% agreement for 424..437; the middle


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
    the same (to ~1e-12) at a third of the cost."""
    if gray.dtype != np.uint8:
        return blur_score(laplacian(gray))
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_16S))
    return float(std[0, 0]) ** 2


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
