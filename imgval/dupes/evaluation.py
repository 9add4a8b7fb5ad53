"""Shipped evaluation of pHash near-duplicate detection, so accuracy claims are reproducible.

Builds a labelled set in memory: natural-looking generated originals (1/f noise landscapes,
illumination gradients, shapes, text, sensor noise) saved as a lossless TIFF master, plus
variants of each one, encoded to bytes. Every file is hashed by the scan's own
`imgval.analysis.analyze.analyze_bytes` (decode, resize to about 2 MP, grayscale, `phash_hex`), so the
numbers describe the hashes a real results.csv holds. Then, for each Hamming radius, it measures:

- recall per variant type: the share of (master, variant) pairs within the radius;
- false-pair rate: the share of pairs of files from *different* originals within the radius;
- pairwise precision/recall of the groups `imgval.dupes.index.group_ids` actually forms
  (union-find chaining can merge more than pairs alone suggest).

Run it:  python -m imgval.dupes.evaluation --originals 200 --seed 0 [--mode default|exact|fast]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from imgval.analysis.analyze import MODES, Settings, analyze_bytes
from imgval.dupes.index import group_ids, hashes_to_uint64, parse_oriented, rotation_radius


WORDS = (
    "archive box folder letter minutes parish register survey plate map deed ledger "
    "catalogue accession photograph negative collection estate council school chapel"
).split()


def natural_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A BGR uint8 image with the statistics of a scene rather than of noise or flat colour.

    Power falls with spatial frequency (octaves of smooth noise, amplitude proportional to
    scale), so the low frequencies pHash looks at carry most of the energy, as in photographs.
    """
    field = np.zeros((height, width, 3), np.float32)
    for scale in (256, 128, 64, 32, 16, 8, 4):
        small = rng.normal(size=(height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        field += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) * scale
    field -= field.min(axis=(0, 1))
    field /= field.max(axis=(0, 1)) + 1e-6
    palette = rng.uniform(0.2, 1.0, size=3).astype(np.float32)
    image = field * palette * 255
    # Illumination falloff across the frame, like a lamp off to one side.
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    image *= (0.75 + 0.5 * (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6))[..., None]
    canvas = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 9)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(3)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = int(rng.integers(min(height, width) // 16, min(height, width) // 3))
        if kind == 0:
            cv2.circle(canvas, centre, size, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            corner = (centre[0] + size, centre[1] + int(size * rng.uniform(0.3, 1.5)))
            cv2.rectangle(canvas, centre, corner, colour, -1)
        else:
            points = rng.integers(-size, size, size=(5, 2)) + np.array(centre)
            cv2.fillPoly(canvas, [points.astype(np.int32)], colour, cv2.LINE_AA)
    for _ in range(rng.integers(1, 5)):
        text = " ".join(rng.choice(WORDS, size=rng.integers(1, 4)))
        origin = (int(rng.integers(0, width // 2)), int(rng.integers(height // 8, height)))
        scale = float(rng.uniform(0.8, 3.0))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    max(1, int(scale * 2)), cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.8)  # lens softness
    noise = rng.normal(0, 3, canvas.shape)  # sensor noise
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _encode(image: np.ndarray, ext: str, params: tuple[int, ...] = ()) -> bytes:
    ok, buffer = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return buffer.tobytes()


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    return _encode(image, ".jpg", (cv2.IMWRITE_JPEG_QUALITY, quality))


def _lossless(image: np.ndarray) -> bytes:
    return _encode(image, ".png")


def _resized(image, rng):
    factor = rng.uniform(0.25, 0.75)
    return _lossless(cv2.resize(image, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_AREA))


def _recompressed(image, rng):
    return _jpeg(image, int(rng.integers(50, 96)))


def _jpeg_derivative(image, rng):
    # A TIFF master exported as the JPEG access copy; the master itself is the pair's other side.
    return _jpeg(image, int(rng.integers(80, 96)))


def _cropped(image, rng):
    height, width = image.shape[:2]
    share = rng.uniform(0.01, 0.05)  # of each dimension, split at random between the two sides
    cut_h, cut_w = int(round(height * share)), int(round(width * share))
    top, left = int(rng.integers(0, cut_h + 1)), int(rng.integers(0, cut_w + 1))
    return _lossless(image[top:height - (cut_h - top), left:width - (cut_w - left)])


def _brightened(image, rng):
    delta = rng.choice([-1, 1]) * rng.uniform(5, 20)  # grey levels out of 255
    return _lossless(np.clip(image.astype(np.int16) + int(delta), 0, 255).astype(np.uint8))


def _derivative_chain(image, rng):
    # What access copies usually are: smaller, slightly trimmed and lossy, all at once.
    height, width = image.shape[:2]
    trim = int(round(min(height, width) * rng.uniform(0.0, 0.03)))
    trimmed = image[trim:height - trim, trim:width - trim]
    factor = rng.uniform(0.25, 0.75)
    small = cv2.resize(trimmed, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return _jpeg(small, int(rng.integers(60, 91)))


def _rotated_by(low: float, high: float):
    """A variant rotated by low-high degrees either way (a page fed askew), borders reflected."""
    def rotated(image, rng):
        height, width = image.shape[:2]
        angle = rng.choice([-1, 1]) * rng.uniform(low, high)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        return _lossless(cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return rotated


def _turned(code):
    return lambda image, rng: _lossless(cv2.rotate(image, code))


def _flipped(axis):
    return lambda image, rng: _lossless(cv2.flip(image, axis))


def _mirrored_access_copy(image, rng):
    # A mirrored scan (film scanned from the wrong side) exported as a trimmed, smaller JPEG.
    return _derivative_chain(cv2.flip(image, 1), rng)


@dataclass(frozen=True)
class Variant:
    name: str
    make: Callable[[np.ndarray, np.random.Generator], bytes]
    should_match: bool  # part of the target, or only documented


VARIANTS = (
    Variant("resized 25-75%", _resized, True),
    Variant("JPEG q50-95", _recompressed, True),
    Variant("TIFF master vs JPEG", _jpeg_derivative, True),
    Variant("crop <=5%", _cropped, True),
    Variant("brightness +-5-20", _brightened, True),
    Variant("resize+trim+JPEG", _derivative_chain, True),
    Variant("flip horizontal", _flipped(1), True),
    Variant("flip vertical", _flipped(0), True),
    Variant("rotate 90 deg", _turned(cv2.ROTATE_90_CLOCKWISE), True),
    Variant("rotate 180 deg", _turned(cv2.ROTATE_180), True),
    Variant("rotate 270 deg", _turned(cv2.ROTATE_90_COUNTERCLOCKWISE), True),
    Variant("rotate 1 deg", _rotated_by(0.5, 1.5), True),
    Variant("rotate 2-5 deg", _rotated_by(2, 5), True),
    Variant("rotate 6-10 deg", _rotated_by(6, 10), False),
    Variant("mirrored+resize+trim+JPEG", _mirrored_access_copy, False),
)
MASTER = "master"


def scan_hashes(data: bytes, settings: Settings) -> tuple[str, str, str]:
    """The hash, hash_oriented and hash_rotated columns a scan stores for these encoded bytes."""
    record = analyze_bytes("variant", data, settings)
    if not record.hash:
        raise RuntimeError(f"the scan could not hash a generated variant: {record.error}")
    return record.hash, record.hash_oriented, record.hash_rotated


@dataclass
class LabelledSet:
    hashes: np.ndarray  # uint64, one per file
    source: np.ndarray  # int, which original the file came from
    kind: list[str]  # MASTER or a Variant name
    oriented: list[str] | None = None  # hash_oriented per file; None: plain pHash only
    rotated: list[str] | None = None  # hash_rotated per file; None: not searched


def build_labelled_set(originals: int = 200, seed: int = 0,
                       variants: tuple[Variant, ...] = VARIANTS,
                       mode: str = "default") -> LabelledSet:
    rng = np.random.default_rng(seed)
    settings = Settings(mode=mode)
    hashes, oriented, rotated, source, kind = [], [], [], [], []
    for index in range(originals):
        height, width = int(rng.integers(600, 1100)), int(rng.integers(600, 1100))
        image = natural_image(rng, height, width)
        master = _encode(image, ".tiff")
        for name, data in [(MASTER, master)] + [(v.name, v.make(image, rng)) for v in variants]:
            plain, turned, askew = scan_hashes(data, settings)
            hashes.append(plain)
            oriented.append(turned)
            rotated.append(askew)
            source.append(index)
            kind.append(name)
    return LabelledSet(hashes_to_uint64(hashes), np.array(source), kind, oriented, rotated)


def pair_distances(hashes: np.ndarray, oriented: list[str] | None = None,
                   rotated: list[str] | None = None) -> np.ndarray:
    """All-pairs distances as grouping sees them: the pHashes' Hamming distance, or, when the
    oriented hashes are given, the smaller of that and the closest pair of oriented hashes; with
    the rotated hashes too, also twice the closest pair among oriented and rotated ones (those
    count within half the radius: rotation_radius). Fine for an evaluation set, never for a real
    batch."""
    distances = np.bitwise_count(hashes[:, None] ^ hashes[None, :]).astype(np.int16)
    if oriented is None:
        return distances
    distances = np.minimum(distances, _closest(oriented, len(hashes)))
    if rotated is None:
        return distances
    pooled = [f"{a} {b}".strip() for a, b in zip(oriented, rotated)]
    # d <= radius // 2  <=>  2 * d <= radius, for every radius (2 * d is even)
    assert all(rotation_radius(r) == r // 2 for r in range(64))
    return np.minimum(distances, 2 * _closest(pooled, len(hashes)))


def _closest(cells: list[str], count: int) -> np.ndarray:
    """Per pair of files, the smallest distance between a hash of one and a hash of the other."""
    parsed = parse_oriented(cells)
    order = np.argsort(parsed.owners, kind="stable")
    values, owners = parsed.values[order], parsed.owners[order]
    if not np.array_equal(np.unique(owners), np.arange(count)):
        raise ValueError("every file of the labelled set needs an oriented hash")
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    entries = np.bitwise_count(values[:, None] ^ values[None, :]).astype(np.int16)
    return np.minimum.reduceat(np.minimum.reduceat(entries, starts, axis=0), starts, axis=1)


@dataclass
class Evaluation:
    radii: list[int]
    recall: dict[str, list[float]]  # variant name -> recall at each radius (master vs variant)
    grouped: dict[str, list[float]]  # variant name -> share put in its master's group
    precision: dict[str, list[float]]  # variant name -> true / all pairs within radius that
    #                                    involve a file of that kind (NaN when there are none)
    pair_recall: list[float]  # all same-source pairs among matchable kinds
    false_pair_rate_masters: list[float]  # distinct originals only
    false_pair_rate_all: list[float]  # every cross-source pair of matchable kinds
    group_precision: list[float]  # of pairs put in one group by group_ids
    group_recall: list[float]
    distance_percentiles: dict[str, tuple[int, int, int]]  # kind -> 50th, 95th, max distance
    distinct_min_distance: int
    distinct_percentile_1: float
    plain_recall: dict[str, list[float]] = field(default_factory=dict)  # as recall, pHash alone
    unrotated_recall: dict[str, list[float]] = field(default_factory=dict)  # without hash_rotated
    matchable: tuple[str, ...] = ()  # the variant kinds counted in the pair measures
    true_pair_count: int = 0
    distinct_master_pairs: int = 0
    cross_pair_count: int = 0


def evaluate(labelled: LabelledSet, radii=range(0, 17),
             variants: tuple[Variant, ...] = VARIANTS) -> Evaluation:
    kinds = np.array(labelled.kind)
    distances = pair_distances(labelled.hashes, labelled.oriented, labelled.rotated)
    plain = pair_distances(labelled.hashes) if labelled.oriented is not None else distances
    unrotated = pair_distances(labelled.hashes, labelled.oriented) if labelled.rotated is not None else distances
    same = labelled.source[:, None] == labelled.source[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    masters = np.flatnonzero(kinds == MASTER)
    matchable_names = {MASTER} | {v.name for v in variants if v.should_match}
    matchable = np.isin(kinds, list(matchable_names))
    both_matchable = matchable[:, None] & matchable[None, :] & upper
    true_pairs = both_matchable & same
    false_candidates = both_matchable & ~same
    master_pairs = distances[np.ix_(masters, masters)][np.triu_indices(len(masters), k=1)]

    def master_to(name, among=distances):
        rows = np.flatnonzero(kinds == name)
        return among[masters_of(rows), rows]

    master_index = {int(labelled.source[m]): m for m in masters}

    def masters_of(rows):
        return np.array([master_index[int(labelled.source[r])] for r in rows])

    result = Evaluation(list(radii), {v.name: [] for v in variants},
                        {v.name: [] for v in variants}, {v.name: [] for v in variants},
                        [], [], [], [], [], {}, 0, 0.0, {v.name: [] for v in variants},
                        {v.name: [] for v in variants})
    matchable_rows = np.flatnonzero(matchable)
    sub_source = labelled.source[matchable_rows]
    sub_same = (sub_source[:, None] == sub_source[None, :])
    sub_upper = np.triu(np.ones_like(sub_same), k=1)
    for radius in result.radii:
        within = distances <= radius
        for variant in variants:
            result.recall[variant.name].append(float(np.mean(master_to(variant.name) <= radius)))
            result.plain_recall[variant.name].append(float(np.mean(master_to(variant.name, plain) <= radius)))
            result.unrotated_recall[variant.name].append(
                float(np.mean(master_to(variant.name, unrotated) <= radius)))
            rows = np.flatnonzero(kinds == variant.name)
            near = within[rows]
            near[np.arange(len(rows)), rows] = False  # a file is not its own pair
            true = np.count_nonzero(near & same[rows])
            found = np.count_nonzero(near)
            result.precision[variant.name].append(true / found if found else math.nan)
        result.pair_recall.append(float(within[true_pairs].mean()))
        result.false_pair_rate_masters.append(float(np.mean(master_pairs <= radius)))
        result.false_pair_rate_all.append(float(within[false_candidates].mean()))
        everything = group_ids(labelled.hashes, radius, oriented=labelled.oriented, rotated=labelled.rotated)
        for variant in variants:
            rows = np.flatnonzero(kinds == variant.name)
            with_master = everything[rows] == everything[masters_of(rows)]
            result.grouped[variant.name].append(float(np.mean(with_master & (everything[rows] >= 0))))
        sub_oriented = (None if labelled.oriented is None
                        else [labelled.oriented[r] for r in matchable_rows])
        sub_rotated = (None if labelled.rotated is None
                       else [labelled.rotated[r] for r in matchable_rows])
        groups = group_ids(labelled.hashes[matchable_rows], radius, oriented=sub_oriented, rotated=sub_rotated)
        together = (groups[:, None] == groups[None, :]) & (groups[:, None] >= 0) & sub_upper
        tp = np.count_nonzero(together & sub_same)
        result.group_precision.append(tp / max(1, np.count_nonzero(together)))
        result.group_recall.append(tp / max(1, np.count_nonzero(sub_same & sub_upper)))
    for variant in variants:
        d = master_to(variant.name)
        result.distance_percentiles[variant.name] = (
            int(np.percentile(d, 50)), int(np.percentile(d, 95)), int(d.max()))
    result.matchable = tuple(v.name for v in variants if v.should_match)
    result.true_pair_count = int(np.count_nonzero(true_pairs))
    result.distinct_master_pairs = len(master_pairs)
    result.cross_pair_count = int(np.count_nonzero(false_candidates))
    result.distinct_min_distance = int(master_pairs.min())
    result.distinct_percentile_1 = float(np.percentile(master_pairs, 1))
    return result


def choose_radius(evaluation: Evaluation, min_recall: float = 0.95,
                  max_false_rate: float = 0.01) -> int | None:
    """The smallest radius whose pair recall and false-pair rate both meet the targets.

    Smallest, not most recall: on a labelled set of a few thousand files the false-pair rate
    reads 0 for a wide range of radii, but in a batch of a million distinct images the chance
    pairs grow about 30x for every 2 bits of radius (and the search gets 4-5x slower).
    """
    for i, radius in enumerate(evaluation.radii):
        if (evaluation.pair_recall[i] >= min_recall
                and evaluation.false_pair_rate_all[i] <= max_false_rate):
            return radius
    return None


def _radius_header(first: str, radii, last: str | None = None) -> list[str]:
    """The two header lines of a markdown table with one column per radius."""
    extra = [last] if last else []
    cells = [first, *(str(r) for r in radii), *extra]
    return ["| " + " | ".join(cells) + " |", "|" + " --- |" * len(cells)]


def _variant_table(title: str, radii, rows: dict[str, list[float]], number: str) -> list[str]:
    """A titled markdown table, one row per variant and one column per radius ("-" for NaN)."""
    lines = [title, ""] + _radius_header("variant", radii)
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join("-" if math.isnan(v) else number.format(v) for v in values) + " |")
    return lines + [""]


def format_markdown(evaluation: Evaluation, originals: int, seed: int, mode: str) -> str:
    radii = evaluation.radii
    lines = [f"Labelled set: {originals} originals (seed {seed}), each a TIFF master plus one file "
             f"per variant type; hashes as a scan in `--mode {mode}` stores them.", ""]
    lines.append("Recall of (master, variant) pairs by radius (`hash`, `hash_oriented` and `hash_rotated`, "
                 "the last within half the radius; distances as grouping counts them, rotated ones double):")
    lines.append("")
    lines += _radius_header("variant", radii, "median / p95 / max distance")
    for name, values in evaluation.recall.items():
        p50, p95, top = evaluation.distance_percentiles[name]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values)
                     + f" | {p50} / {p95} / {top} |")
    lines.append("")
    if evaluation.unrotated_recall and any(evaluation.unrotated_recall.values()):
        lines += _variant_table("The same without the rotated hashes (`hash` and `hash_oriented`, as before "
                                "askew copies were looked for):", radii, evaluation.unrotated_recall, "{:.2f}")
    lines += _variant_table("The same with the pHash alone (the `hash` column; no search of the oriented "
                            "hashes), as before flipped and turned copies were looked for:",
                            radii, evaluation.plain_recall, "{:.2f}")
    lines += _variant_table("Precision of pairs within the radius that involve a file of each kind "
                            "(true pairs / all pairs; a pair with any other file of the set counts):",
                            radii, evaluation.precision, "{:.3f}")
    lines += _variant_table("Share of each variant put in its master's group by `group_ids` (transitive: a "
                            "variant can join through another variant):", radii, evaluation.grouped, "{:.2f}")
    matchable = ", ".join(name for name in evaluation.recall if name in evaluation.matchable)
    lines.append(f"Pairs and groups over all files of matchable kinds (master, {matchable}):")
    lines.append("")
    lines += _radius_header("measure", radii)
    lines.append("| **recall of true pairs** (any two files of one original, matchable kinds) | "
                 + " | ".join(f"{v:.3f}" for v in evaluation.pair_recall) + " |")
    lines.append("| false-pair rate, distinct masters | "
                 + " | ".join(f"{v:.2%}" for v in evaluation.false_pair_rate_masters) + " |")
    lines.append("| false-pair rate, all cross-original pairs | "
                 + " | ".join(f"{v:.3%}" for v in evaluation.false_pair_rate_all) + " |")
    lines.append("| group pair precision (group_ids) | "
                 + " | ".join(f"{v:.3f}" for v in evaluation.group_precision) + " |")
    lines.append("| group pair recall (group_ids) | "
                 + " | ".join(f"{v:.3f}" for v in evaluation.group_recall) + " |")
    lines.append("")
    lines.append(f"Pairs counted: {evaluation.true_pair_count:,} true, "
                 f"{evaluation.distinct_master_pairs:,} between distinct masters, "
                 f"{evaluation.cross_pair_count:,} across originals.")
    lines.append(f"Distinct masters: minimum pairwise distance {evaluation.distinct_min_distance}, "
                 f"1st percentile {evaluation.distinct_percentile_1:.1f}.")
    return "\n".join(lines)


MARGIN_VARIANTS = (
    ("flip + JPEG q70", lambda image, rng: _jpeg(cv2.flip(image, 1), 70)),
    ("turned 90 + resized 40%", lambda image, rng: _lossless(cv2.resize(
        cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), (0, 0), fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA))),
    ("mirrored+resize+trim+JPEG", _mirrored_access_copy),
    ("flipped and rotated 2-5 deg", lambda image, rng: _rotated_by(2, 5)(cv2.flip(image, 1), rng)),
)


def margin_table(originals: int, seed: int, margins=(0.0, 0.05, 0.1, 0.2), radius: int = 8,
                 mode: str = "default") -> str:
    """How phash.ORIENTATION_MARGIN was chosen: for each margin, the oriented hashes kept per
    image and the share of flipped/turned copies (also recompressed, resized, rotated) whose
    oriented hashes come within `radius` of their master's."""
    from imgval.analysis.phash import hash_of, low_frequencies, oriented, standard_orientations

    rng = np.random.default_rng(seed)
    settings = Settings(mode=mode, keep_pixels=True)

    def low(data):
        return low_frequencies(analyze_bytes("variant", data, settings).pixels.image)

    masters, pairs = [], {name: [] for name, _ in MARGIN_VARIANTS}
    for _ in range(originals):
        image = natural_image(rng, int(rng.integers(600, 1100)), int(rng.integers(600, 1100)))
        masters.append(low(_encode(image, ".tiff")))
        for name, make in MARGIN_VARIANTS:
            pairs[name].append((masters[-1], low(make(image, rng))))
    lines = ["| margin | oriented hashes per image | " + " | ".join(pairs) + " |",
             "|" + " --- |" * (len(pairs) + 2)]
    for margin in margins:
        def hashes(coefficients):
            return [hash_of(oriented(coefficients, g)) for g in standard_orientations(coefficients, margin)]
        kept = np.mean([len(standard_orientations(m, margin)) for m in masters])
        shares = [np.mean([min(bin(a ^ b).count("1") for a in hashes(m) for b in hashes(v)) <= radius
                           for m, v in found]) for found in pairs.values()]
        lines.append(f"| {margin:g} | {kept:.2f} | " + " | ".join(f"{x:.3f}" for x in shares) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-radius", type=int, default=16)
    parser.add_argument("--mode", choices=MODES, default="default",
                        help="the scan's decoding mode whose hashes are evaluated")
    parser.add_argument("--orientation-margins", action="store_true",
                        help="instead, the table phash.ORIENTATION_MARGIN was chosen from")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.orientation_margins:
        print(margin_table(args.originals, args.seed, mode=args.mode))
        return 0
    labelled = build_labelled_set(args.originals, args.seed, mode=args.mode)
    evaluation = evaluate(labelled, range(0, args.max_radius + 1, 2))  # distances are even
    print(format_markdown(evaluation, args.originals, args.seed, args.mode))
    chosen = choose_radius(evaluation)
    print()
    print(f"Chosen radius (recall >= 0.95, false pairs <= 1%): {chosen}")
    print(f"({len(labelled.hashes)} files, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
