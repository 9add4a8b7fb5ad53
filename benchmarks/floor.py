#!/usr/bin/env python3
"""The decode floor as a program of its own, for the whole-process bench (bench.py --whole):
list the images under DIR as the reference does (sorted, by extension) and decode each to
grayscale (cv2.imread IMREAD_GRAYSCALE) in a multiprocessing.Pool of JOBS, chunksize 1; nothing
else. It imports only OpenCV, so its run is the least a user's command could cost.

    python benchmarks/floor.py DIR [JOBS]

Run with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=N:glibc.malloc.trim_threshold=N it is the
floor that also reuses its buffers, as imgval's workers do (batch/workers.py keep_freed_memory).
"""
import os
import sys
from multiprocessing import get_context
from pathlib import Path

import cv2

EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}  # the reference's


def decode(path: str):
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return image.shape if image is not None else None


def main() -> None:
    root, jobs = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
    paths = [str(p) for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in EXTENSIONS]
    with get_context("fork").Pool(jobs) as pool:
        shapes = pool.map(decode, paths, chunksize=1)
    if None in shapes:
        sys.exit("floor: a file did not decode")


if __name__ == "__main__":
    main()
