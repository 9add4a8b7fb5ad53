#!/usr/bin/env python3
"""PRONOM identification cost per file: imgval.pronom.identify (image formats' signatures
first, the whole list only when none matches, analysis/signatures.py's matcher) against FIDO's
own full-list match (fido.fido.Fido.match_formats) of the same bytes, and whether the two agree.

    python benchmarks/bench_pronom.py [--size 1200x900] [--rounds 5]

Files: one of each format imgval reads (JPEG, PNG, TIFF, JP2, WebP, BMP, GIF), a truncated
JPEG, and two non-images (text, a ZIP), generated in memory. Rounds alternate the two
matchers; the median per-file milliseconds are printed.
"""
from __future__ import annotations

import argparse
import functools
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

import cv2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgval.analysis import pronom, signatures  # noqa: E402
from imgval.synthetic import natural_image  # noqa: E402


def corpus(width: int, height: int) -> dict[str, bytes]:
    image = natural_image(width, height, seed=1)
    files = {ext: cv2.imencode(ext, image)[1].tobytes() for ext in (".jpg", ".png", ".tif", ".jp2", ".webp", ".bmp")}
    gif = io.BytesIO()
    Image.fromarray(image[..., ::-1]).save(gif, "GIF")
    files[".gif"] = gif.getvalue()
    files["truncated .jpg"] = files[".jpg"][: len(files[".jpg"]) // 2]
    files[".txt"] = b"box list: letters 1901-1905\n" * 200
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("notes.txt", files[".txt"])
    files[".zip"] = archive.getvalue()
    return files


@functools.cache
def fido():
    from fido.fido import Fido

    return Fido(quiet=True, handle_matches=lambda *args: None, format_files=signatures.fido_files())


def full_list(data: bytes):
    head = data[: pronom.BUFFER_BYTES]
    tail = data[-pronom.BUFFER_BYTES:]
    matches = fido().match_formats(head, tail)
    return matches[0][0].findtext("puid") if matches else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1200x900")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    files = corpus(width, height)
    start = time.perf_counter()
    pronom.preload()
    print(f"signatures loaded in {time.perf_counter() - start:.2f} s ({len(pronom._images().formats)} image "
          f"formats of {len(pronom._signatures().formats)}); FIDO's own: ", end="")
    start = time.perf_counter()
    fido()
    print(f"{time.perf_counter() - start:.2f} s")
    for data in files.values():  # compile the regexes once, as a long run has
        pronom.identify(data), full_list(data)
    times = {name: {"imgval": [], "full": []} for name in files}
    for round_number in range(args.rounds):
        for name, data in files.items():
            order = ("imgval", "full") if round_number % 2 == 0 else ("full", "imgval")
            for which in order:
                begin = time.perf_counter()
                pronom.identify(data) if which == "imgval" else full_list(data)
                times[name][which].append((time.perf_counter() - begin) * 1000)
    print("| file | bytes | puid (imgval) | puid (FIDO, full list) | imgval ms | full list ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    agree = True
    for name, data in files.items():
        mine, theirs = pronom.identify(data).puid, full_list(data)
        agree &= mine == theirs
        print(f"| {name} | {len(data):,} | {mine or '-'} | {theirs or '-'} | "
              f"{statistics.median(times[name]['imgval']):.1f} | {statistics.median(times[name]['full']):.1f} |")
    print(f"\nsame PUID for every file: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
