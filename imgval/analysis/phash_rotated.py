"""pHashes of the picture turned a few degrees, to find copies scanned or fed askew.

A page turned 2-5 degrees moves pHash bits like any other change (median 6 of 64, 95th
percentile 12), so at the default radius about a sixth of such copies were missed. The scan
also stores the pHash of the picture in its standard orientation (phash.standard_orientations)
turned by ROTATION_DEGREES: an askew copy's own oriented hash is then within a few bits of its
original's rotated hash (what is left of the turn is at most ~1.5 degrees), and grouping
compares rotated and oriented hashes at half the radius (imgval.dupes.index.group_ids).

One angle is enough for both directions: a copy turned the other way has the rotated hash that
meets the original's oriented one. The turn is by the same angle in the standard orientation
whatever the stored one: a mirror reverses angles, so a picture whose standard orientation
mirrors it is turned the other way first (ORIENTATIONS lists each as transpose, mirror rows,
mirror columns: an odd number of them mirrors). That way a mirrored askew copy meets its
original as an upright one does.

The picture is turned small: the ~2 MP grayscale the scan hashes, averaged down by a whole
factor to 128-255 px a side (the pHash looks at 8x8 frequencies of a 32x32 reduction), with
edge pixels repeated into the corners. About 0.5 ms per image.
"""
from __future__ import annotations

import cv2
import numpy as np

from imgval.analysis.phash import ORIENTATIONS, hash_of, low_frequencies, oriented, standard_orientations

ROTATION_DEGREES = 3.5  # the middle of the 2-5 degrees an askew page is turned by
_SMALL_SIDE = 128  # px: the longer side after reduction is 128-255


def rotated_hashes(gray: np.ndarray, low: np.ndarray, degrees: float = ROTATION_DEGREES) -> list[int]:
    """pHash of `gray` in each of its standard orientations (from `low`, its
    phash.low_frequencies) turned `degrees` counterclockwise there: one per oriented hash."""
    small = _reduced(gray)
    turned_lows: dict[bool, np.ndarray] = {}
    hashes = []
    for index in standard_orientations(low):
        mirrors = sum(ORIENTATIONS[index][1]) % 2 == 1
        if mirrors not in turned_lows:
            turned_lows[mirrors] = low_frequencies(_turned(small, -degrees if mirrors else degrees))
        hashes.append(hash_of(oriented(turned_lows[mirrors], index)))
    return hashes


def _turned(gray: np.ndarray, degrees: float) -> np.ndarray:
    height, width = gray.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _reduced(gray: np.ndarray) -> np.ndarray:
    # A whole factor takes OpenCV's fast area path (~0.4 ms for 2 MP, against ~2 ms otherwise).
    # ... and never below one pixel on the short side (a 1 x 2000 strip stays as it is).
    factor = max(1, min(max(gray.shape[:2]) // _SMALL_SIDE, min(gray.shape[:2])))
    if factor == 1:
        return gray
    height, width = gray.shape[0] // factor, gray.shape[1] // factor
    return cv2.resize(gray[:height * factor, :width * factor], (width, height),
                      interpolation=cv2.INTER_AREA)
