"""Natural-looking synthetic photographs, for tests, the bundled samples and benchmarks.

Not flat colours and not pure noise: a 1/f ("pink") multi-scale texture like natural scenes,
with hard-edged shapes and lines (sharp detail that blur destroys). Deterministic per seed.
"""
from __future__ import annotations

import cv2
import numpy as np


def natural_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An 8-bit BGR picture with smooth regions, textures and sharp edges."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width, 3), np.float32)
    # 1/f texture: octaves of noise, each twice as fine and half as strong
    octaves = max(3, int(np.log2(max(width, height) / 3)))  # down to features a few pixels wide
    for octave in range(octaves):
        cells = 2 ** (octave + 1)
        small = rng.random((max(2, cells * height // max(width, height)), cells, 3), dtype=np.float32)
        canvas += cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR) / (1.35 ** octave)
    canvas -= canvas.min()
    canvas *= 200.0 / max(float(canvas.max()), 1e-6)
    image = canvas.astype(np.uint8)
    scale = max(width, height)
    for _ in range(40):  # shapes with crisp edges, like objects in a scene
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(scale // 40, scale // 8)), colour, -1, cv2.LINE_AA)
        else:
            size = rng.integers(scale // 30, scale // 6, 2)
            cv2.rectangle(image, centre, (centre[0] + int(size[0]), centre[1] + int(size[1])), colour, -1)
    for _ in range(60):  # thin lines: fine detail
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(image, p1, p2, tuple(int(c) for c in rng.integers(0, 256, 3)), max(1, scale // 800), cv2.LINE_AA)
    cv2.putText(image, f"imgval {seed}", (width // 10, height // 2), cv2.FONT_HERSHEY_SIMPLEX,
                scale / 500, (255, 255, 255), max(1, scale // 300), cv2.LINE_AA)
    # sensor-like grain, so even smooth areas carry a little high-frequency signal
    grain = rng.normal(0, 3.0, image.shape).astype(np.float32)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """The same picture out of focus (Gaussian blur of the given sigma, in pixels)."""
    return cv2.GaussianBlur(image, (0, 0), sigma)
