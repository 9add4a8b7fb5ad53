"""Perceptual hash (pHash), as imagehash defines it, as 16 hex digits; and the pHash of the
image turned to a standard orientation, from the same DCT, to find flipped and turned copies.

pHash: the image reduced to 32x32 (Pillow's Lanczos), its 2-D DCT-II, the 8x8 lowest
frequencies compared with their median; bit k (most significant first) is coefficient
(k // 8, k % 8). Mirroring the 32x32 input top-bottom multiplies coefficient (u, v) by (-1)^u,
left-right by (-1)^v, and transposing it transposes the coefficients; those three generate
the 8 orientations (the dihedral group), so their hashes cost a few sign flips, no new DCT.

A mirrored or quarter-turned copy's pHash is as far from the original's as an unrelated
image's, but both turned to the same standard orientation (standard_orientations) hash alike.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

HASH_SIZE = 8
_REDUCED = HASH_SIZE * 4  # imagehash's highfreq_factor
_SIGN = (-1.0) ** np.arange(HASH_SIZE)
# oriented()'s sign flips: none, of the rows (vertical frequency u), of the columns (v), of both
_SIGN_PATTERNS = np.stack([np.ones((HASH_SIZE, HASH_SIZE)), np.outer(_SIGN, np.ones(HASH_SIZE)),
                           np.outer(np.ones(HASH_SIZE), _SIGN), np.outer(_SIGN, _SIGN)])

# How near a tie two orientations may be and both count as standard: chosen with the shipped
# evaluation (python -m imgval.dupes.evaluation; docs/duplicates.md).
ORIENTATION_MARGIN = 0.1
# The orientations: (transpose, mirror rows,
# mirror columns) applied to the image in that order. The names say what the image underwent.
ORIENTATIONS = (
    ("identity", (False, False, False)),
    ("flip vertical", (False, True, False)),
    ("flip horizontal", (False, False, True)),
    ("rotate 180", (False, True, True)),
    ("transpose", (True, False, False)),
    ("rotate 90 clockwise", (True, False, True)),
    ("rotate 90 counterclockwise", (True, True, False)),
    ("anti-transpose", (True, True, True)),
)


def low_frequencies(gray: np.ndarray) -> np.ndarray:
    """The 8x8 lowest DCT coefficients of an 8-bit grayscale image, exactly as imagehash.phash
    computes them (the same reduction; the same values from the DCT: see _dct_low)."""
    image = Image.fromarray(gray)  # an 8-bit 2-D array is already mode "L": no conversion copy
    if image.mode != "L":
        image = image.convert("L")
    return _dct_low(np.asarray(image.resize((_REDUCED, _REDUCED), Image.LANCZOS)))


# Rows 0..7 of the unnormalised DCT-II matrix of size 32 (scipy.fftpack.dct's type 2 definition:
# y[k] = 2 sum_n x[n] cos(pi k (2n + 1) / 2N)).
_DCT_ROWS = 2 * np.cos(np.pi * np.arange(HASH_SIZE)[:, None] * (2 * np.arange(_REDUCED)[None, :] + 1)
                       / (2 * _REDUCED))
# Two ways of computing the same sum differ by rounding only: measured at most 2.1e-16 of the
# largest coefficient (20,000 random, flat and ramp 32x32 images). A margin a million times that.
_TIE_MARGIN = 1e-10


def _dct_low(pixels: np.ndarray) -> np.ndarray:
    """The 8x8 low corner of scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1), as two
    small matrix products (scipy's import alone cost 0.3 s CPU per run). The hash bits compare
    coefficients with their median, so rounding could only change a bit when a coefficient is
    within rounding of the median, of the block or of one of its oriented variants (flat or
    symmetric pictures: there scipy's own rounding decides the bit); then scipy computes it."""
    low = _DCT_ROWS @ pixels.astype(np.float64) @ _DCT_ROWS.T
    margin = _TIE_MARGIN * max(1.0, float(np.abs(low).max()))
    # the orientations' coefficients as sets: a transpose only reorders them, so the four sign
    # patterns of the untransposed ones have the same medians and distances as all eight
    variants = (low * _SIGN_PATTERNS).reshape(len(_SIGN_PATTERNS), -1)
    if (np.abs(variants - _median(variants)[:, None]) <= margin).any():
        import scipy.fftpack  # rare: near ties only

        return scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:HASH_SIZE, :HASH_SIZE]
    return low


def hash_of(low: np.ndarray) -> int:
    """The 64 bits: each coefficient above the median, row by row, most significant first."""
    values = low.ravel()
    return int.from_bytes(np.packbits(values > _median(values)).tobytes(), "big")


def _median(values: np.ndarray) -> np.ndarray | float:
    """np.median over the last axis of an even number of values, computed as it does (the mean
    of the middle two: their sum halved), in a third of its time (~8 against ~27 us; a thumbnail
    takes a few) and without the numpy.ma import it makes on first use (~50 ms in every worker)."""
    middle = values.shape[-1] // 2
    part = np.partition(values, (middle - 1, middle), axis=-1)
    return (part[..., middle - 1] + part[..., middle]) / 2


def oriented(low: np.ndarray, orientation: int) -> np.ndarray:
    """The low frequencies of the image turned by ORIENTATIONS[orientation]."""
    transpose, rows, columns = ORIENTATIONS[orientation][1]
    variant = low.T if transpose else low
    if rows:
        variant = variant * _SIGN[:, None]
    if columns:
        variant = variant * _SIGN[None, :]
    return variant


def standard_orientations(low: np.ndarray, margin: float = ORIENTATION_MARGIN) -> list[int]:
    """The orientation(s) that bring the image upright by a rule every copy of it agrees on,
    however it was flipped or turned: the lowest horizontal frequency (coefficient (0, 1))
    positive and at least the lowest vertical one ((1, 0)), which is positive too. Exactly one
    orientation meets that; those within `margin` (a share of the larger of the two) of meeting
    it are kept too, so a copy whose coefficients moved a little (JPEG, resizing) still shares
    one standard orientation with the original."""
    across, down = float(low[0, 1]), float(low[1, 0])
    slack = margin * max(abs(across), abs(down))
    kept = []
    for index, (_, (transpose, rows, columns)) in enumerate(ORIENTATIONS):
        # oriented(low, index)'s (0, 1) and (1, 0), without the whole block: a transpose swaps
        # them, a column mirror negates (0, 1) and a row mirror (1, 0)
        horizontal, vertical = (down, across) if transpose else (across, down)
        horizontal, vertical = -horizontal if columns else horizontal, -vertical if rows else vertical
        if horizontal >= vertical - slack and vertical >= -slack:
            kept.append(index)
    return kept


def oriented_hashes(low: np.ndarray) -> list[int]:
    """pHashes of the image in its standard orientation(s) (standard_orientations)."""
    return [hash_of(oriented(low, index)) for index in standard_orientations(low)]


def to_hex(value: int) -> str:
    return f"{value:016x}"


def phash_hex(gray: np.ndarray) -> str:
    """64-bit pHash of an 8-bit grayscale image: DCT of a 32x32 reduction, low 8x8
    frequencies compared with their median. Identical pixels give identical hashes."""
    return to_hex(hash_of(low_frequencies(gray)))
