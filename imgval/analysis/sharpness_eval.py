"""Shipped evaluation of the blurry verdict, so accuracy claims are reproducible.

Builds the labelled set of imgval.analysis.sharpness_corpus (real photographs, blurred and
sharp-trap variants saved as JPEG/PNG files), decodes every file as the default scan does
(decode.probe, decode.decode_gray), and measures:

- the sharpness measure (analysis.sharpness.measure) with its threshold chosen by
  cross-validation grouped by source photo: for each source, the threshold that is most
  accurate on all the *other* sources judges it (variants of one photo are never on both sides);
- accuracy, precision and recall (blurry is the positive class) per variant kind, per source
  and per size class, on those held-out verdicts; and the shipped SHARPNESS_THRESHOLD's;
- the classic score (variance of the Laplacian at ~2 MP, threshold 100) on the same files;
- thumbnails by short side: where a verdict stops meaning anything (SHARPNESS_MIN_SIDE).

Run it:  python -m imgval.analysis.sharpness_eval [--folder DIR] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgval.analysis import blur, decode
from imgval.analysis.analyze import fast_decode
from imgval.analysis.sharpness import TILE, measure
from imgval.analysis.sharpness_corpus import BLURRED_KINDS, SHARP_KINDS, Entry, build, read_manifest
from imgval.defaults import DEFAULT_THRESHOLD, SHARPNESS_THRESHOLD


def luminance(data: bytes):
    """The luminance a default-mode scan decodes: probe, then decode_gray (full size, upright)."""
    header, image = decode.probe(data)
    return decode.decode_gray(data, header, image)


def fast_view(data: bytes):
    """The view a fast-mode scan measures: of its DCT-reduced (JPEG) or box-reduced luminance
    (1/2, 1/4 or 1/8 of the stored size, keeping at least blur.FAST_MIN_DECODED_PIXELS)."""
    header, image = decode.probe(data)
    return fast_decode(data, header, image)[1]


def classic_score(gray) -> float:
    """The `score` column of the default mode: Laplacian variance at ~2 MP."""
    return blur.laplacian_variance(blur.normalise_size(gray))


@dataclass
class Scored:
    entries: list[Entry]
    value: np.ndarray  # sharpness value (NaN when not judged)
    status: list[str]  # "" / "too small" / "blank"
    classic: np.ndarray  # the classic score
    unlimited: np.ndarray  # sharpness value with the too-small limit lifted (for the thumbnail table)
    fast: np.ndarray  # sharpness value on the fast mode's DCT-reduced luminance (NaN: not judged)

    def labels(self) -> np.ndarray:
        return np.array([e.blurry is True for e in self.entries])


def score(folder: Path, entries: list[Entry]) -> Scored:
    values, statuses, classic, unlimited, fast = [], [], [], [], []
    for entry in entries:
        data = (folder / entry.file).read_bytes()
        gray = luminance(data)
        reduced = measure(fast_view(data))
        fast.append(np.nan if reduced.value is None else reduced.value)
        result = measure(gray)
        values.append(np.nan if result.value is None else result.value)
        statuses.append(result.status)
        classic.append(classic_score(gray))
        if result.status == "too small" and entry.kind.startswith("thumbnail"):
            result = measure(gray, min_side=TILE)
        unlimited.append(np.nan if result.value is None else result.value)
    return Scored(entries, np.array(values, float), statuses, np.array(classic, float), np.array(unlimited, float),
                  np.array(fast, float))


def best_threshold(values: np.ndarray, blurry: np.ndarray) -> float:
    """The threshold (value < t -> blurry) most accurate on these files: of the cuts between
    distinct sorted values that share the best accuracy, the middle one."""
    order = np.argsort(values)
    v, y = values[order], blurry[order]
    # cutting before position i calls files [0, i) blurry: right are the blurry ones before i
    # and the sharp ones from i on
    correct = np.concatenate([[0], np.cumsum(y)]) + np.concatenate([np.cumsum((~y)[::-1])[::-1], [0]])
    distinct = np.concatenate([[True], v[1:] > v[:-1], [True]])
    best = np.flatnonzero(distinct & (correct == correct[distinct].max()))
    i = int(best[len(best) // 2])
    if i == 0:
        return float(v[0])
    if i == len(v):
        return float(np.nextafter(v[-1], np.inf))
    return float((v[i - 1] + v[i]) / 2)


def counted(scored: Scored, values: np.ndarray) -> np.ndarray:
    """Files in accuracy and calibration: labelled, judged (not too small, not blank), not thumbnails."""
    return np.array([e.blurry is not None and not e.kind.startswith("thumbnail") and s == "" and np.isfinite(x)
                     for e, s, x in zip(scored.entries, scored.status, values)])


def cross_validated(values: np.ndarray, blurry: np.ndarray, groups: np.ndarray,
                    mask: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Held-out verdicts: each group judged at the threshold best on the other groups."""
    verdict = np.zeros(len(values), bool)
    thresholds = {}
    for group in np.unique(groups[mask]):
        held = mask & (groups == group)
        train = mask & (groups != group)
        thresholds[group] = best_threshold(values[train], blurry[train])
        verdict[held] = values[held] < thresholds[group]
    return verdict, thresholds


def rates(verdict: np.ndarray, blurry: np.ndarray) -> tuple[int, float, float, float]:
    """(files, accuracy, precision, recall) with blurry as the positive class (NaN when undefined)."""
    n = len(verdict)
    tp = np.count_nonzero(verdict & blurry)
    accuracy = float(np.mean(verdict == blurry)) if n else np.nan
    precision = tp / np.count_nonzero(verdict) if np.count_nonzero(verdict) else np.nan
    recall = tp / np.count_nonzero(blurry) if np.count_nonzero(blurry) else np.nan
    return n, accuracy, precision, recall


def _fmt(x: float, digits: int = 3) -> str:
    return "-" if x != x else f"{x:.{digits}f}"


def size_class(entry: Entry) -> str:
    pixels = entry.width * entry.height
    short = min(entry.width, entry.height)
    if short < 256:
        return "short side < 256 px"
    if pixels < 0.3e6:
        return "< 0.3 MP"
    if pixels <= 1e6:
        return "0.3-1 MP"
    return "> 1 MP"


def _table(title: str, keys: list[str], key_of, verdicts: list[tuple[str, np.ndarray]],
           blurry: np.ndarray, mask: np.ndarray, scored: Scored) -> list[str]:
    """Rows: one per key; for each verdict, accuracy / flagged-as-blurry share (sharp kinds) or
    caught share (blurred kinds); plus precision and recall per key for the first verdict."""
    names = [name for name, _ in verdicts]
    lines = [title, "", "| | files | " + " | ".join(f"accuracy, {n}" for n in names)
             + " | precision | recall | flagged blurry | not judged |",
             "|" + " --- |" * (len(names) + 6)]
    kinds = np.array([key_of(e) for e in scored.entries])
    for key in keys:
        rows = mask & (kinds == key)
        skipped = np.count_nonzero((kinds == key) & ~mask & np.array(
            [e.blurry is not None and not e.kind.startswith("thumbnail") for e in scored.entries]))
        if not rows.any() and not skipped:
            continue
        cells = []
        for _, verdict in verdicts:
            cells.append(_fmt(rates(verdict[rows], blurry[rows])[1]))
        n, _, precision, recall = rates(verdicts[0][1][rows], blurry[rows])
        flagged = np.mean(verdicts[0][1][rows]) if rows.any() else np.nan
        lines.append(f"| {key} | {n} | " + " | ".join(cells) + f" | {_fmt(precision)} | {_fmt(recall)} | "
                     f"{_fmt(100 * flagged, 1)}% | {skipped} |")
    return lines + [""]


def thumbnail_table(scored: Scored) -> list[str]:
    """By thumbnail short side, at the shipped threshold with the too-small limit lifted: sharp
    thumbnails flagged, thumbnails blurred at their own size caught, and thumbnails of a blurred
    photo caught (does the photo's blur still show?). Where SHARPNESS_MIN_SIDE comes from."""
    from imgval.analysis.sharpness_corpus import THUMBNAIL_SIDES
    lines = ["Thumbnails: each source reduced to a short side; at the shipped threshold, with the "
             "too-small limit lifted:", "",
             "| short side (px) | sharp thumbnails flagged | blurred at thumbnail size, caught | "
             "thumbnail of a blurred photo, caught |", "| --- | --- | --- | --- |"]
    for side in THUMBNAIL_SIDES:
        rows = [i for i, e in enumerate(scored.entries) if e.kind == f"thumbnail {side}"]
        if not rows:
            continue
        groups = {"sharp": [], "own": [], "photo": []}
        for i in rows:
            e = scored.entries[i]
            groups["sharp" if not e.blurry else ("photo" if "of the photo" in e.detail else "own")].append(
                scored.unlimited[i] < SHARPNESS_THRESHOLD)
        lines.append(f"| {side} | " + " | ".join(f"{100 * np.mean(v):.0f}% of {len(v)}" for v in groups.values()) + " |")
    return lines + [""]


def unlimited_value(scored: Scored, index: int) -> float:
    return float(scored.unlimited[index])


def report(folder: Path, scored: Scored, missing: list[str]) -> str:
    blurry = scored.labels()
    groups = np.array([e.source for e in scored.entries])
    mask = counted(scored, scored.value)
    held, thresholds = cross_validated(scored.value, blurry, groups, mask)
    shipped = scored.value < SHARPNESS_THRESHOLD
    classic_mask = mask  # the same files, so the numbers compare
    classic = scored.classic < DEFAULT_THRESHOLD
    classic_held, _ = cross_validated(scored.classic, blurry, groups, classic_mask)
    n, acc, precision, recall = rates(held[mask], blurry[mask])
    fold = np.array(list(thresholds.values()))
    lines = [f"Labelled set: {len(scored.entries)} files from {len(np.unique(groups))} source photographs "
             f"({np.count_nonzero(mask)} judged and counted; thumbnails, documented-only kinds and files "
             "the measure did not judge are not)." + (f" Not installed, left out: {', '.join(missing)}." if missing else ""),
             "",
             "| verdict | threshold | accuracy | precision | recall | sharp flagged | blurred caught |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    sharp_rows, blur_rows = mask & ~blurry, mask & blurry

    def row(name, threshold, verdict, rows=mask):
        _, a, p, r = rates(verdict[rows], blurry[rows])
        lines.append(f"| {name} | {threshold} | **{_fmt(a)}** | {_fmt(p)} | {_fmt(r)} | "
                     f"{_fmt(100 * np.mean(verdict[sharp_rows]), 1)}% | {_fmt(100 * np.mean(verdict[blur_rows]), 1)}% |")

    row("sharpness, held-out sources (grouped CV)",
        f"per fold {fold.min():.3f}-{fold.max():.3f} (median {np.median(fold):.3f})", held)
    row("sharpness, shipped threshold (all sources)", f"{SHARPNESS_THRESHOLD}", shipped)
    row("classic score, held-out sources (grouped CV)", "per fold", classic_held)
    row("classic score, threshold 100 (the original)", f"{DEFAULT_THRESHOLD:g}", classic)
    fast = scored.fast < SHARPNESS_THRESHOLD
    reduced = np.array([decode.reduction_factor(e.width, e.height, blur.FAST_MIN_DECODED_PIXELS) > 1
                        for e in scored.entries])
    agree = mask & np.isfinite(scored.fast)
    lines += ["", f"Fast mode (the same measure on the DCT-reduced luminance `--fast` decodes): accuracy "
              f"{_fmt(rates(fast[agree], blurry[agree])[1])} at the shipped threshold; verdicts agree with the "
              f"default mode's on {np.count_nonzero(fast[agree] == shipped[agree])} of {np.count_nonzero(agree)} "
              f"files ({np.count_nonzero(agree & reduced)} of them decoded reduced, "
              f"{np.count_nonzero(agree & reduced & (fast == shipped))} agreeing)."]
    best = best_threshold(scored.value[mask], blurry[mask])
    lines += ["", f"Most accurate single threshold on all counted files: {best:.3f} "
              f"(SHARPNESS_THRESHOLD = {SHARPNESS_THRESHOLD}).", ""]
    verdicts = [("held-out", held), ("shipped", shipped), ("classic 100", classic)]
    kinds = list(SHARP_KINDS) + list(BLURRED_KINDS)
    lines += _table("By variant kind (flagged blurry: the held-out verdict's share of files called blurry):",
                    kinds, lambda e: e.kind, verdicts, blurry, mask, scored)
    lines += _table("By source:", sorted(np.unique(groups)), lambda e: e.source, verdicts, blurry, mask, scored)
    lines += _table("By size class:", ["short side < 256 px", "< 0.3 MP", "0.3-1 MP", "> 1 MP"], size_class,
                    verdicts, blurry, mask, scored)
    mild = [i for i, e in enumerate(scored.entries) if e.blurry is None and scored.status[i] == ""]
    if mild:
        lines.append(f"Documented only: mild blur (Gaussian sigma 1-1.5 px at viewing size), {len(mild)} files: "
                     f"{_fmt(100 * np.mean(scored.value[mild] < SHARPNESS_THRESHOLD), 1)}% called blurry "
                     "at the shipped threshold.")
        lines.append("")
    statuses = {}
    for e, s in zip(scored.entries, scored.status):
        if s and not e.kind.startswith("thumbnail"):
            statuses.setdefault(s, []).append(e.kind)
    for s, which in statuses.items():
        lines.append(f"Not judged, {s}: {len(which)} files ({', '.join(sorted(set(which)))}).")
    lines.append("")
    lines += thumbnail_table(scored)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where the labelled set is (built there if absent); "
                                                    "default: a temporary folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", nargs="*", help="only these sources (names as in the output)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or Path(temporary)
        missing: list[str] = []
        if (folder / "labels.csv").exists():
            entries = read_manifest(folder)
        else:
            entries, missing = build(folder, args.seed, args.sources)
        if args.sources:
            entries = [e for e in entries if e.source in args.sources]
        scored = score(folder, entries)
        print(report(folder, scored, missing))
    print(f"({len(entries)} files, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
