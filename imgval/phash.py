"""Perceptual hash (pHash), as imagehash defines it, as 16 hex digits."""
from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image


def phash_hex(gray: np.ndarray) -> str:
    """64-bit pHash of an 8-bit grayscale image: DCT of a 32x32 reduction, low 8x8
    frequencies compared with their median. Identical pixels give identical hashes."""
    return str(imagehash.phash(Image.fromarray(gray)))
