"""The defaults the command line shows, in a module that imports nothing heavy: `imgval --help`
and option parsing must not load OpenCV, SciPy or the cloud SDKs (docs: README, Performance)."""
from __future__ import annotations

import os

DEFAULT_THRESHOLD = 100.0  # the original tool's blur threshold
# The fast mode scores a smaller picture, so its scores are on their own scale: a sharp edge
# spans fewer pixels, and box reduction averages noise away. Its threshold is calibrated so its
# blurry flags agree with the default mode's (benchmarks/calibrate.py; docs/performance.md).
FAST_DEFAULT_THRESHOLD = 431.0  # labelled corpus: 98.6% agreement for 424..437; the middle

# Which verdict fills `blurry`: the sharpness measure (analysis/sharpness.py, calibrated on real
# photos: docs/sharpness.md) or the original's classic score < threshold. Both are always reported.
BLUR_VERDICTS = ("sharpness", "classic")
# The sharpness measure (analysis/sharpness.py): value < SHARPNESS_THRESHOLD -> blurry. The
# most accurate single threshold on the shipped evaluation's labelled set (real photographs,
# blurred and sharp-trap variants; python -m imgval.analysis.sharpness_eval; docs/sharpness.md):
# 1.957-1.97 equally (seed 0; 1.983 on seed 7, 1.992 on seed 11), so the top of that plateau;
# grouped cross-validation puts every fold's threshold within 1.948-1.969 (1.948-1.992 over the
# three draws), and held-out accuracy is measured with those, never with this one.
SHARPNESS_THRESHOLD = 1.97
SHARPNESS_CRISP = 2.0  # the scale's top: a crisp edge (sharpness.CRISP); a threshold above it flags everything
# Images whose short side is under this many pixels are "too small" to judge (thumbnails). From
# the evaluation's thumbnail table: from 128 px (4x4 tiles of the map) on, the blur of the photo a
# thumbnail was made from still shows in about a third of them (29-41% at 128-192 px; 17% at
# 96 px, 4% at 48 px), and sharp thumbnails are rarely flagged; below it a verdict says little.
SHARPNESS_MIN_SIDE = 128

MODES = ("default", "exact", "fast")  # how pixels are decoded for the blur score; see analyze.measure_blur
MODE_THRESHOLDS = {"default": DEFAULT_THRESHOLD, "exact": DEFAULT_THRESHOLD, "fast": FAST_DEFAULT_THRESHOLD}
CHECKSUMS = ("sha256", "md5")  # fixity checksums a run can compute; sha256 always (groups, bags)
DEFAULT_MAX_PIXELS = 250_000_000  # larger headers are treated as bombs
DEFAULT_MAX_MEMORY = 1_000_000_000  # bytes of decoded pixels one file may cost (decode.Header.decoded_bytes)

# Chosen from the shipped evaluation (python -m imgval.dupes_eval; docs/duplicates.md): the
# smallest radius with >= 0.95 recall of true pairs on resized, recompressed, derivative,
# cropped and brightened copies. An imagehash pHash has 32 ones of 64 (bits above the median)
# unless the median ties, so distances are even and radius 9 behaves as 8.
DEFAULT_RADIUS = 8


DEFAULT_TIMEOUT = 300.0  # seconds per file: minutes for the largest real masters, not hours


def default_jobs() -> int:
    return os.cpu_count() or 1


def user_cache_folder() -> str:
    """imgval's folder in the user's cache (platformdirs: ~/.cache/imgval, or XDG_CACHE_HOME's):
    the result cache, run locks, the hash pairs, the parsed PRONOM signatures."""
    import platformdirs

    return platformdirs.user_cache_dir("imgval")
