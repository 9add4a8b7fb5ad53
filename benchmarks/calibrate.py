#!/usr/bin/env python3
"""Score fidelity of the modes, and the fast mode's threshold: `python benchmarks/calibrate.py`.

On benchmarks/corpus (make it first with benchmarks/make_corpus.py):

  * default vs reference (../shared/reference/clirdlf_pipeline.py, else imgval's exact mode):
    largest and median difference, files outside max(5%, 1.0), blurry-flag agreement at 100;
  * exact vs reference (should be within 0.1%);
  * the fast mode's threshold: on labelled/, the threshold whose fast blurry flags agree best
    with the default mode's flags at 100 (middle of the best range, in log scale), then the
    agreement of imgval's configured fast threshold on labelled/ and on the held-out mixed/;
  * pHash: Hamming distance of fast- and exact-mode hashes to the default mode's.

Writes every score to benchmarks/out/fidelity.csv and the summary to stdout (markdown).
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from imgval.analysis import blur  # noqa: E402
from imgval.analysis.analyze import Settings, analyze_path  # noqa: E402
from imgval.batch.discover import discover  # noqa: E402

REFERENCE = HERE.parent.parent / "shared" / "reference" / "clirdlf_pipeline.py"
MODES = ("exact", "default", "fast")


def load_reference():
    if not REFERENCE.exists():
        return None
    spec = importlib.util.spec_from_file_location("clirdlf_pipeline", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_reference = load_reference()


def score_all(path: str) -> dict:
    row = {"file": path}
    for mode in MODES:
        record = analyze_path(path, Settings(mode=mode))
        row[mode], row[f"{mode}_hash"], row["error"] = record.score, record.hash, record.error
    row["reference"] = _reference.score_image(path)["score"] if _reference else row["exact"]
    return row


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def best_threshold(fast: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, agreement, range low, range high): the middle (geometric) of the widest range
    of thresholds with the best agreement of fast < t with truth."""
    values = np.unique(fast)
    cuts = np.concatenate([[values[0] / 2], np.sqrt(values[:-1] * values[1:]), [values[-1] * 2]])
    agreement = np.array([np.mean((fast < t) == truth) for t in cuts])
    best = agreement.max()
    # contiguous runs of best cuts: take the widest (in log scale)
    runs, start = [], None
    for i, good in enumerate(agreement == best):
        if good and start is None:
            start = i
        if (not good or i == len(cuts) - 1) and start is not None:
            end = i if good else i - 1
            low = values[start - 1] if start > 0 else values[0] / 2
            high = values[end] if end < len(values) else values[-1] * 2
            runs.append((np.log(high / low), low, high))
            start = None
    _, low, high = max(runs)
    return float(np.sqrt(low * high)), float(best), float(low), float(high)


def fidelity(rows: list[dict], mode: str) -> str:
    ref = np.array([r["reference"] for r in rows])
    got = np.array([r[mode] for r in rows])
    diff = got - ref
    rel = np.abs(diff) / ref
    allowed = np.maximum(0.05 * ref, 1.0)
    flags = np.mean((got < 100) == (ref < 100))
    worst = int(np.argmax(rel))
    return (f"| {mode} vs reference | {len(rows)} | {100 * rel.max():.2f}% ({diff[worst]:+.2f} at score "
            f"{ref[worst]:.1f}) | {100 * np.median(rel):.2f}% | {np.max(np.abs(diff)):.2f} | "
            f"{int(np.sum(np.abs(diff) > allowed))} | {100 * flags:.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fidelity.csv")
    args = parser.parse_args()
    sets = {name: list(discover([str(args.corpus / name)]).paths) for name in ("labelled", "mixed", "photos")
            if (args.corpus / name).is_dir()}
    with Pool(args.jobs) as pool:
        scored = {name: pool.map(score_all, paths, chunksize=1) for name, paths in sets.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["set", *scored["mixed"][0].keys()])
        writer.writeheader()
        for name, rows in scored.items():
            writer.writerows({"set": name, **row} for row in rows)
    errors = [r for rows in scored.values() for r in rows if r["error"]]
    if errors:
        sys.exit(f"{len(errors)} files could not be scored, e.g. {errors[0]['file']}: {errors[0]['error']}")

    everything = scored["labelled"] + scored["mixed"]  # photos joined below, after their own rows
    print(f"Reference: {'clirdlf_pipeline.score_image' if _reference else 'imgval --exact (reference not found)'}; "
          f"{len(everything)} synthetic files ({len(scored['labelled'])} labelled, {len(scored['mixed'])} mixed); "
          f"{len(scored.get('photos', []))} real photos.\n")
    print("| comparison | files | largest relative difference | median | largest absolute | "
          "outside max(5%, 1.0) | blurry flags agree |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode in ("default", "exact"):
        print(fidelity(everything, mode))
    if scored.get("photos"):
        for mode in ("default", "exact"):
            print(fidelity(scored["photos"], mode).replace(" vs reference", " vs reference, real photos only"))
        everything += scored["photos"]

    print("\nFast mode threshold (fast blurry flags vs default-mode flags at 100):\n")
    lab = scored["labelled"]
    fast, truth = np.array([r["fast"] for r in lab]), np.array([r["default"] < 100 for r in lab])
    suggested, best, low, high = best_threshold(fast, truth)
    print(f"- calibrated on labelled/ ({len(lab)} files, {int(truth.sum())} blurry by the default mode): "
          f"best agreement {100 * best:.1f}% for thresholds {low:.0f}..{high:.0f}; middle {suggested:.0f}")
    configured = blur.FAST_DEFAULT_THRESHOLD
    for name, rows in scored.items():
        f = np.array([r["fast"] for r in rows])
        d = np.array([r["default"] < 100 for r in rows])
        print(f"- configured threshold {configured:g} on {name}/: {100 * np.mean((f < configured) == d):.1f}% "
              f"agreement ({int(np.sum((f < configured) != d))} of {len(rows)} differ)")
    by_sigma: dict[str, list] = {}
    with open(args.corpus / "labelled" / "labels.csv") as handle:
        labels = {row["file"]: row for row in csv.DictReader(handle)}
    for row in lab:
        label = labels.get(Path(row["file"]).name)
        if label:
            by_sigma.setdefault(float(label["sigma_24mp"]), []).append(row)
    print("\nMedian scores by known blur (labelled/, sigma in pixels of a 24 MP frame):\n")
    print("| sigma | files | reference | default | fast |\n| --- | --- | --- | --- | --- |")
    for sigma in sorted(by_sigma):
        rows = by_sigma[sigma]
        med = {k: statistics.median(r[k] for r in rows) for k in ("reference", "default", "fast")}
        print(f"| {sigma:g} | {len(rows)} | {med['reference']:.1f} | {med['default']:.1f} | {med['fast']:.1f} |")

    print("\npHash Hamming distance to the default mode's hash (all files):\n")
    for mode in ("exact", "fast"):
        distances = [hamming(r[f"{mode}_hash"], r["default_hash"]) for r in everything]
        same = sum(d == 0 for d in distances)
        print(f"- {mode}: identical for {same} of {len(distances)}; median {statistics.median(distances):g}, "
              f"max {max(distances)} bits")
    if scored.get("photos"):
        rows = scored["photos"]
        f = np.array([r["fast"] for r in rows])
        d = np.array([r["default"] < 100 for r in rows])
        print(f"- fast vs default flags on the real photos: {100 * np.mean((f < configured) == d):.1f}% "
              f"({int(np.sum((f < configured) != d))} of {len(rows)} differ)")
    print(f"\nAll scores: {args.out}")


if __name__ == "__main__":
    main()
