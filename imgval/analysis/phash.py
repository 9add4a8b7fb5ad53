"""Perceptual hash (pHash), as imagehash defines it, as 16 hex digits."""
from __future__ import annotations

import imagehash
import numpy as np
# imagehash.phash imports scipy.fftpack on first use (0.1-0.4 s): imported here, it is loaded
# once in the parent process instead of again in every forked worker of every run.
import scipy.fftpack  # noqa: F401
from PIL import Image


def phash_hex(gray: np.ndarray) -> str:
    """64-bit pHash of an 8-bit grayscale image: DCT of a 32x32 reduction, low 8x8
    frequencies compared with their median. Identical pixels give identical hashes."""
    return str(imagehash.phash(Image.fromarray(gray)))
