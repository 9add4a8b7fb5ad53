"""Shipped evaluation of the conformance checks, so the claim "every defect found, no valid file
flagged" can be rerun by anyone: builds the labelled corpus (imgval.analysis.conformance.corpus: valid
files of every format and layout from real photographs, and each defect made in copies of them)
and checks every file with the scan's own check_conformance; then the image files installed
packages ship (real files from real writers, taken as valid).

A defect counts as found only when the verdict is the expected one AND an issue names it; a valid
file counts as flagged when its verdict is anything but "well-formed and valid".

Run it:  python -m imgval.analysis.conformance.evaluate [--max-side 512] [--out DIR]
Exit code 0 when every defect is found and no valid file is flagged, 1 otherwise, 2 for bad
options (or scikit-image missing).
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

from imgval.analysis.conformance import check_conformance
from imgval.analysis.conformance.corpus import (LAYOUTS, PACKAGE_FOLDERS, PHOTOGRAPHS, Sample, corpus, package_files,
                                                photographs)
from imgval.analysis.conformance.issues import WELL_FORMED_AND_VALID


def judged(sample: Sample) -> tuple[bool, str, tuple[str, ...]]:
    """(right?, verdict, issues) for one labelled file."""
    result = check_conformance(sample.data)
    if sample.expected == WELL_FORMED_AND_VALID:
        return result.verdict == WELL_FORMED_AND_VALID, result.verdict, result.issues
    named = any(sample.expected_issue in issue for issue in result.issues)
    return result.verdict == sample.expected and named, result.verdict, result.issues


def evaluate(samples) -> tuple[dict, list]:
    """Per format: valid files, valid files flagged, defective files, defects found; and the
    files judged wrongly."""
    table = defaultdict(lambda: {"valid": 0, "flagged": 0, "defects": 0, "found": 0, "kinds": set()})
    wrong = []
    for sample in samples:
        right, verdict, issues = judged(sample)
        row = table[sample.format]
        if sample.expected == WELL_FORMED_AND_VALID:
            row["valid"] += 1
            row["flagged"] += not right
        else:
            row["defects"] += 1
            row["found"] += right
            row["kinds"].add(sample.name.rsplit("+", 1)[1])
        if not right:
            wrong.append((sample, verdict, issues))
    return table, wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-side", type=int, default=512, help="longest side of the photographs (default 512)")
    parser.add_argument("--photos", default=",".join(PHOTOGRAPHS),
                        help=f"skimage.data photographs to use (default {','.join(PHOTOGRAPHS)})")
    parser.add_argument("--out", type=Path, help="also write every file and labels.csv here (to compare "
                                                 "with JHOVE, jpylyzer, ...)")
    args = parser.parse_args(argv)
    try:
        photos = photographs(args.photos.split(","), args.max_side)
    except ImportError:
        print("the corpus is made from scikit-image's photographs: pip install scikit-image", file=sys.stderr)
        return 2
    except AttributeError as exc:
        print(f"--photos: {exc}", file=sys.stderr)
        return 2
    samples = list(corpus(photos))
    if args.out:
        _write(samples, args.out)
    shipped = package_files()
    table, wrong = evaluate(samples)
    _, shipped_wrong = evaluate(shipped)
    print(f"{'format':10} {'layouts':>7} {'valid files':>11} {'flagged':>7} {'defect kinds':>12} "
          f"{'defective files':>15} {'found':>6}")
    for fmt, row in table.items():
        print(f"{fmt:10} {len(LAYOUTS[fmt]):>7} {row['valid']:>11} {row['flagged']:>7} {len(row['kinds']):>12} "
              f"{row['defects']:>15} {row['found']:>6}")
    totals = {key: sum(row[key] for row in table.values()) for key in ("valid", "flagged", "defects", "found")}
    kinds = sum(len(row["kinds"]) for row in table.values())
    layouts = sum(len(LAYOUTS[fmt]) for fmt in table)
    print(f"{'all':10} {layouts:>7} {totals['valid']:>11} {totals['flagged']:>7} {kinds:>12} {totals['defects']:>15} "
          f"{totals['found']:>6}")
    print(f"files installed packages ship ({', '.join(p for p, _ in PACKAGE_FOLDERS)}): {len(shipped)}, "
          f"flagged {len(shipped_wrong)}")
    wrong += shipped_wrong
    for sample, verdict, issues in wrong:
        wanted = sample.expected + (f" naming {sample.expected_issue!r}" if sample.expected_issue else "")
        print(f"WRONG {sample.name}: wanted {wanted}; got {verdict or 'no verdict'}: {'; '.join(issues)}")
    return 1 if wrong else 0


def _write(samples, folder: Path) -> None:
    extensions = {"JPEG": "jpg", "TIFF": "tif", "PNG": "png", "JPEG2000": "jp2", "WEBP": "webp", "GIF": "gif",
                  "BMP": "bmp"}
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "format", "expected", "expected_issue"])
        for sample in samples:
            name = sample.name.replace("/", "_").replace("+", "__").replace(":", "") + "." + extensions[sample.format]
            (folder / name).write_bytes(sample.data)
            writer.writerow([name, sample.format, sample.expected, sample.expected_issue])


if __name__ == "__main__":
    sys.exit(main())
