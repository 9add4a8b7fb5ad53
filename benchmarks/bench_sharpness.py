#!/usr/bin/env python3
"""What the sharpness measure adds to a default-mode scan: `python benchmarks/bench_sharpness.py`.

One generated 20 MP JPEG (q90), one core (OpenCV limited to one thread). In alternating rounds:
the whole default-mode analysis of the file (`analyze_bytes`: probe, EXIF, conformance,
decode, ~2 MP score, pHash, sharpness), `sharpness.measure` on the full-size luminance the scan
decodes, and the same as the scan runs it (its view made from the ~2 MP image the classic score
is taken of, which the scan has anyway); also the fast mode's whole analysis and `measure` on
the DCT-reduced luminance it decodes (viewed as it does). CPU and wall milliseconds, median of
the rounds.
`--other CHECKOUT` also times that checkout's `sharpness.measure` the same three ways in the
same rounds (a before/after from one run on a shared machine).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from imgval.analysis import blur, decode, sharpness  # noqa: E402
from imgval.analysis.analyze import Settings, analyze_bytes  # noqa: E402
from imgval.synthetic import natural_image  # noqa: E402


def timed(step):
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, result


def other_sharpness(checkout: Path):
    """The sharpness module of another checkout of imgval (that module only; imgval.defaults
    and imgval.analysis.blur come from this one)."""
    spec = importlib.util.spec_from_file_location("other_sharpness", checkout / "imgval/analysis/sharpness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--width", type=int, default=5472)
    parser.add_argument("--height", type=int, default=3648)
    parser.add_argument("--other", type=Path, help="another checkout of imgval whose measure to time too")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ok, encoded = cv2.imencode(".jpg", natural_image(args.width, args.height, seed=1),
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
    data = encoded.tobytes()
    header, image = decode.probe(data)
    gray = decode.decode_gray(data, header, image)
    reduced = decode.decode_gray_reduced(data, header, image, blur.FAST_MIN_DECODED_PIXELS)
    normalised = blur.normalise_size(gray)
    settings, fast = Settings(), Settings(mode="fast")
    steps = {
        "default-mode analysis (analyze_bytes)": lambda: analyze_bytes("bench.jpg", data, settings),
        "fast-mode analysis (analyze_bytes, --fast)": lambda: analyze_bytes("bench.jpg", data, fast),
        "measure, full-size luminance": lambda: sharpness.measure(gray),
        # what the scan pays: it hands the measure the view made from the ~2 MP image it scores
        "measure as the scan runs it (view from the score's ~2 MP image)":
            lambda: sharpness.measure(sharpness.viewing_size(gray, normalised)),
        "measure, fast mode's reduced luminance (viewed as the fast scan does)":
            lambda: sharpness.measure(sharpness.viewing_size(reduced, low_passed=True)),
    }
    if args.other:
        other = other_sharpness(args.other.resolve())
        steps[f"{args.other.name}'s measure, full-size luminance"] = lambda: other.measure(gray)
        steps[f"{args.other.name}'s measure as the scan runs it"] = \
            lambda: other.measure(other.viewing_size(gray, normalised))
        steps[f"{args.other.name}'s measure, fast mode's reduced luminance"] = lambda: other.measure(reduced)
    for step in steps.values():  # warm up: imports, first-use allocations
        step()
    times = {name: ([], []) for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            cpu, wall, _ = timed(step)
            times[name][0].append(cpu)
            times[name][1].append(wall)
    base = statistics.median(times["default-mode analysis (analyze_bytes)"][0])
    print(f"{args.width}x{args.height} JPEG q90 ({len(data) / 1e6:.1f} MB; fast mode decodes "
          f"{reduced.shape[1]}x{reduced.shape[0]}), {args.rounds} alternating rounds, one core\n")
    print("| step | CPU ms (median) | wall ms (median) | CPU vs analysis |")
    print("| --- | --- | --- | --- |")
    for name, (cpu, wall) in times.items():
        share = statistics.median(cpu) / base  # an analysis's ratio; a step's share of the default one
        print(f"| {name} | {statistics.median(cpu):.1f} | {statistics.median(wall):.1f} | "
              f"{f'{share:.2f}x' if 'analysis' in name else f'+{share:.1%}'} |")
    print(f"\nsharpness value {sharpness.measure(gray).value}, fast-mode luminance "
          f"{sharpness.measure(sharpness.viewing_size(reduced, low_passed=True)).value}")


if __name__ == "__main__":
    main()
