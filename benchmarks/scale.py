#!/usr/bin/env python3
"""Does cost grow with the number of files? `python benchmarks/scale.py`.

1. Listing: time imgval.batch.discover over a folder of --listing empty *.jpg files (100 subfolders).
2. Memory: peak RSS of the parent process and of the largest worker for runs over N small
   images (hard links to one 1.2 MP JPEG), N = --counts. Results are streamed to the report,
   so the parent's peak should not grow with N. Both are ru_maxrss of forked processes (no
   exec), so they start afresh: they count the pages shared with this script (~75 MB, its
   imports), never its high-water mark (which only exec carries over: benchmarks/peak.py).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgval.analysis.analyze import Settings  # noqa: E402
from imgval.batch.discover import discover  # noqa: E402
from imgval.batch.engine import make_engine  # noqa: E402
from imgval.report.writers import Report  # noqa: E402
from imgval.synthetic import natural_image  # noqa: E402


def listing(count: int) -> None:
    with tempfile.TemporaryDirectory() as top:
        for i in range(count):
            folder = os.path.join(top, f"d{i % 100:02d}")
            if i < 100:
                os.mkdir(folder)
            open(os.path.join(folder, f"img{i:06d}.jpg"), "wb").close()
        start = time.perf_counter()
        found = discover([top])
        print(f"listing: {len(found.paths)} files found in {time.perf_counter() - start:.2f} s")


def _run(paths: list[str], conn) -> None:
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        report = Report(os.path.join(folder, "r.csv"), "csv", [], settings.threshold)
        for record in make_engine(jobs=2).run(paths, settings):
            report.write(record)
        report.close(0)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    conn.send((own / 1024, workers / 1024))


def memory(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as top:
        source = os.path.join(top, "source.jpg")
        cv2.imwrite(source, natural_image(1344, 896, seed=9), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths = []
        for i in range(max(counts)):
            path = os.path.join(top, f"img{i:06d}.jpg")
            os.link(source, path)
            paths.append(path)
        for count in counts:
            ctx = multiprocessing.get_context("fork")
            parent, child = ctx.Pipe(duplex=False)
            start = time.perf_counter()
            process = ctx.Process(target=_run, args=(paths[:count], child))
            process.start()
            own, workers = parent.recv()
            process.join()
            print(f"memory: {count:6d} images in {time.perf_counter() - start:6.1f} s: parent peak RSS "
                  f"{own:.0f} MB, largest worker {workers:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listing", type=int, default=100_000)
    parser.add_argument("--counts", type=int, nargs="+", default=[200, 2000])
    args = parser.parse_args()
    listing(args.listing)
    memory(args.counts)


if __name__ == "__main__":
    main()
