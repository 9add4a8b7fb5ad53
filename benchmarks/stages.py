#!/usr/bin/env python3
"""Where a default-mode scan's time goes, per file kind: `python benchmarks/stages.py`.

For every file of benchmarks/corpus/mixed, the CPU milliseconds (best of 3, one process, page
cache warm) of each step of the per-image work beside the decode floor (cv2.imread grayscale),
averaged per kind (the file name's prefix: jpeg, png, tiff16_lzw, ...).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from imgval.analysis import blur, decode  # noqa: E402
from imgval.analysis.exif import extract_exif  # noqa: E402
from imgval.analysis.filedata import read_input  # noqa: E402
from imgval.analysis.phash import phash_hex  # noqa: E402
from imgval.batch.workers import keep_freed_memory  # noqa: E402

STAGES = ("floor", "map", "sha256", "probe+exif", "decode", "resize+score+phash")


def best_ms(step, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = step()
        best = min(best, time.process_time() - start)
    return best * 1000, result


def stages(path: str) -> list[float]:
    floor, _ = best_ms(lambda: cv2.imread(path, cv2.IMREAD_GRAYSCALE))
    mapping, data = best_ms(lambda: read_input(path, mapped=True))
    sha, _ = best_ms(lambda: hashlib.sha256(data).hexdigest())
    probe, (header, image) = best_ms(lambda: decode.probe(data))
    exif, _ = best_ms(lambda: extract_exif(data, image))
    decoded, gray = best_ms(lambda: decode.decode_gray(data, *decode.probe(data)))

    def score():
        small = blur.normalise_size(gray)
        return blur.laplacian_variance(small), phash_hex(small)
    scoring, _ = best_ms(score)
    return [floor, mapping, sha, probe + exif, decoded, scoring]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus" / "mixed")
    args = parser.parse_args()
    files = sorted(str(p) for p in args.corpus.iterdir() if p.is_file())
    if not files:
        sys.exit(f"no files in {args.corpus}: run benchmarks/make_corpus.py first")
    keep_freed_memory()  # as in a worker
    kinds: dict[str, list[list[float]]] = defaultdict(list)
    for path in files:
        kinds[Path(path).name.rsplit("_", 2)[0]].append(stages(path))
    print("| kind | files | " + " | ".join(STAGES) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in STAGES) + " |")
    for kind, rows in kinds.items():
        print(f"| {kind} | {len(rows)} | " + " | ".join(f"{ms:.0f}" for ms in np.mean(rows, axis=0)) + " |")


if __name__ == "__main__":
    main()
