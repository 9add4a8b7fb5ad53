#!/usr/bin/env python3
"""What the conformance checks add to the per-file work, on 20 MP files of every checked format:
`python benchmarks/bench_conformance.py [--rounds 7] [--formats jpeg,tiff8,...]`.

In one process, page cache irrelevant (the files are bytes in memory, as the worker has them
after its read); CPU time of this process (time.process_time), so other processes' load on a
shared machine does not count. Per file and round, alternating which goes first:
  scan      analyze_bytes as the scan runs it (SHA-256, conformance, probe, EXIF, decode, score, pHash)
  without   the same with check_conformance replaced by a no-op
  checks    check_conformance alone
Reported per file: the median of each (ms), the fastest checks, the median of the rounds'
scan - without, and scan / without.
The files are made from a skimage photograph scaled to the size, with sensor noise, so they
compress like photographs (a 20 MP JPEG at quality 92 is ~10 MB).
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgval.analysis import analyze  # noqa: E402
from imgval.analysis.conformance import Conformance, check_conformance  # noqa: E402


def photograph(megapixels: float) -> np.ndarray:
    import skimage.data

    height = int((megapixels * 1e6 * 2 / 3) ** 0.5)
    width = int(height * 1.5)
    base = cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 4, base.shape).astype(np.float32)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _cv2(rgb, ext, params=(), depth16=False):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if depth16:
        bgr = bgr.astype(np.uint16) * 257
    return cv2.imencode(ext, bgr, list(params))[1].tobytes()


def _pil(rgb, fmt, mode="RGB", **options):
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


FILES = {
    "jpeg": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 92]),
    "jpeg-q98": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 98]),
    "jpeg-progressive": lambda rgb: _cv2(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    "tiff8": lambda rgb: _cv2(rgb, ".tif", [cv2.IMWRITE_TIFF_COMPRESSION, 1]),
    "tiff16-lzw": lambda rgb: _cv2(rgb, ".tif", depth16=True),
    "png": lambda rgb: _cv2(rgb, ".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
    "jp2": lambda rgb: _pil(rgb, "JPEG2000", quality_mode="rates", quality_layers=[20], irreversible=True),
    "jp2-tiled": lambda rgb: _pil(rgb, "JPEG2000", quality_mode="rates", quality_layers=[20], irreversible=True,
                                  tile_size=(1024, 1024)),
    "webp": lambda rgb: _pil(rgb, "WEBP", quality=85, method=0),
    "gif": lambda rgb: _pil(rgb, "GIF", "P"),
    "bmp": lambda rgb: _cv2(rgb, ".bmp"),
}


def _no_checks(data) -> Conformance:
    return Conformance("", ())


def measure(data: bytes, rounds: int, settings: analyze.Settings) -> dict[str, float]:
    times = {"scan": [], "without": [], "checks": []}

    def scan():
        analyze.check_conformance = check_conformance
        analyze.analyze_bytes("f", data, settings)

    def without():
        analyze.check_conformance = _no_checks
        analyze.analyze_bytes("f", data, settings)

    def checks():
        check_conformance(data)

    steps = {"scan": scan, "without": without, "checks": checks}
    try:
        for round_number in range(rounds):
            order = ("scan", "without", "checks") if round_number % 2 == 0 else ("checks", "without", "scan")
            for name in order:
                start = time.process_time()
                steps[name]()
                times[name].append((time.process_time() - start) * 1000)
    finally:
        analyze.check_conformance = check_conformance
    return {name: statistics.median(values) for name, values in times.items()} | {
        "added": statistics.median(s - w for s, w in zip(times["scan"], times["without"])),
        "fastest": min(times["checks"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per file (default 7)")
    parser.add_argument("--megapixels", type=float, default=20.0, help="image size (default 20)")
    parser.add_argument("--formats", default=",".join(FILES), help=f"which files (default {','.join(FILES)})")
    args = parser.parse_args()
    rgb = photograph(args.megapixels)
    settings = analyze.Settings()
    print(f"{rgb.shape[1]}x{rgb.shape[0]} ({rgb.shape[0] * rgb.shape[1] / 1e6:.1f} MP), {args.rounds} rounds, "
          f"medians in ms")
    print(f"{'file':18} {'MB':>6} {'checks':>7} {'fastest':>7} {'scan':>8} {'without':>8} {'scan-without':>12} "
          f"{'ratio':>6}  verdict")
    for name in args.formats.split(","):
        data = FILES[name](rgb)
        result = measure(data, args.rounds, settings)
        verdict = check_conformance(data).verdict
        print(f"{name:18} {len(data) / 1e6:6.1f} {result['checks']:7.2f} {result['fastest']:7.2f} {result['scan']:8.1f} "
              f"{result['without']:8.1f} {result['added']:12.2f} {result['scan'] / result['without']:6.3f}  {verdict}")


if __name__ == "__main__":
    main()
