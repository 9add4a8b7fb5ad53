#!/usr/bin/env python3
"""First run vs re-run over an unchanged folder: how much the result cache saves (issue 5).

    python benchmarks/bench_rerun.py                 # 10,000 images of 160x120, all cores
    python benchmarks/bench_rerun.py --count 500     # a quick look

Generates COUNT small distinct JPEGs (imgval.synthetic.natural_image; each is still resized
to ~2 MP for its blur score, so even small files cost real work), then times, as a user would
see it (wall clock, process start included):
  1. the first run, with an empty cache,
  2. a re-run over the unchanged folder,
and checks that both wrote the same report.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from imgval.synthetic import natural_image  # noqa: E402


def make_folder(folder: Path, count: int, width: int, height: int) -> None:
    for i in range(count):
        sub = folder / f"box{i // 1000:02d}"  # like a real batch: a few thousand per folder
        sub.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".jpg", natural_image(width, height, seed=i), [cv2.IMWRITE_JPEG_QUALITY, 90])
        (sub / f"img{i:05d}.jpg").write_bytes(data.tobytes())


def timed_run(folder: Path, report: Path, cache: Path, jobs: int) -> tuple[float, str]:
    command = [sys.executable, str(ROOT / "process.py"), "-i", str(folder), "-s", str(report),
               "--cache", str(cache), "-j", str(jobs)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"run failed ({result.returncode}): {result.stderr}")
    return seconds, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="images in the folder (default 10000)")
    parser.add_argument("--size", default="160x120", help="WxH of each image (default 160x120)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="default: all cores")
    parser.add_argument("--workdir", default=None, help="where to put images, reports, cache (default: a temp dir)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    work = Path(args.workdir or tempfile.mkdtemp(prefix="imgval-bench-rerun-"))
    folder, cache = work / "images", work / "cache.sqlite"
    if not folder.exists():
        start = time.perf_counter()
        make_folder(folder, args.count, width, height)
        print(f"generated {args.count} images of {width}x{height} in {time.perf_counter() - start:.1f} s", flush=True)
    if cache.exists():
        cache.unlink()
    first, first_line = timed_run(folder, work / "first.csv", cache, args.jobs)
    print(f"first run: {first:.1f} s   ({first_line})", flush=True)
    again, again_line = timed_run(folder, work / "again.csv", cache, args.jobs)
    print(f"re-run:    {again:.2f} s   ({again_line})", flush=True)
    same = filecmp.cmp(work / "first.csv", work / "again.csv", shallow=False)
    print(f"speed-up:  {first / again:.0f}x   reports identical: {same}   "
          f"({args.count} images, {args.jobs} jobs, {os.cpu_count()} cores; files in {work})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
