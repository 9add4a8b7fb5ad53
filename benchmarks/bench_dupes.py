#!/usr/bin/env python3
"""Time near-duplicate grouping of many pHashes, as `imgval dupes` would on a big results.csv.

The hashes: uniformly random 64-bit values (distinct images), plus planted clusters of near
copies (each copy a few bits away from its cluster's seed, as re-saves and derivatives are),
plus one hash repeated many times (a blank page scanned over and over). They start as the
16-hex-digit strings a report stores, so the time includes parsing them.

    python benchmarks/bench_dupes.py                      # 1,000,000 hashes, default radius
    python benchmarks/bench_dupes.py --count 100000 --radius 10

Each hash also gets a hash_oriented cell (one or two oriented hashes) and a hash_rotated cell
(as many rotated hashes); one member of each planted cluster of 3+ is a "mirrored copy" that
only its oriented hash links, and one of each cluster of 4+ an "askew copy" that only its
rotated hash links (--plain: the pHashes alone, as a report without those columns;
--unrotated: without hash_rotated, as reports before it).

Prints seconds for parsing and grouping, peak RSS of the process, and checks that every
planted cluster came out as one group.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgval.dupes.index import (DEFAULT_RADIUS, group_ids, parse_hashes, parse_oriented,  # noqa: E402
                                rotation_radius)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def near_copies(seed, size: int, radius: int, rng: np.random.Generator) -> np.ndarray:
    """`size` hashes: the seed, then copies 1..radius bits from it."""
    copies = np.full(size, seed, np.uint64)
    for i in range(1, size):
        bits = rng.choice(64, rng.integers(1, radius + 1), replace=False)
        copies[i] ^= np.uint64(sum(1 << int(b) for b in bits))
    return copies


def planted_oriented(hashes: np.ndarray, cluster_of: np.ndarray, radius: int,
                     rng: np.random.Generator) -> tuple[list[str], np.ndarray, int]:
    """hash_oriented cells as a scan writes them: one random oriented hash per image, a second
    for a quarter of them (a near tie), and, within each planted cluster, oriented hashes near
    one another. Then one member per cluster is made a mirrored copy: its plain hash replaced
    by a random one, so only its oriented hash can find the cluster. Returns the cells, the
    changed plain hashes and how many mirrored copies were planted."""
    count = len(hashes)
    first = rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)
    second = rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)
    has_second = rng.random(count) < 0.25
    hashes = hashes.copy()
    mirrored = 0
    clusters = np.unique(cluster_of[cluster_of >= 0])
    blank = np.flatnonzero(cluster_of == clusters[-1])  # identical copies: identical oriented hashes
    first[blank], has_second[blank] = first[blank[0]], False
    for cluster in clusters[:-1]:
        members = np.flatnonzero(cluster_of == cluster)
        first[members] = near_copies(first[members[0]], len(members), radius, rng)
        if len(members) > 2:  # leave pairs alone: a pair with a mirrored half would be one link
            hashes[members[-1]] = rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)
            mirrored += 1
    cells = [f"{int(a):016x} {int(b):016x}" if two else f"{int(a):016x}"
             for a, b, two in zip(first, second, has_second)]
    return cells, hashes, mirrored


def planted_rotated(hashes: np.ndarray, oriented: list[str], cluster_of: np.ndarray, radius: int,
                    rng: np.random.Generator) -> tuple[list[str], list[str], np.ndarray, int]:
    """hash_rotated cells: as many random rotated hashes as oriented ones. Then in each planted
    cluster of 4+, one member (not the mirrored one) is made an askew copy: its plain and
    oriented hashes replaced by random ones, its rotated hash put within rotation_radius of the
    cluster's first oriented hash, so only the rotated search can find it."""
    counts = [len(cell.split()) for cell in oriented]
    values = rng.integers(0, 2**64 - 1, sum(counts), dtype=np.uint64, endpoint=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    cells = [" ".join(f"{int(v):016x}" for v in values[s:s + c]) for s, c in zip(starts, counts)]
    oriented, hashes = list(oriented), hashes.copy()
    askew = 0
    clusters = np.unique(cluster_of[cluster_of >= 0])
    for cluster in clusters[:-1]:  # not the identical copies
        members = np.flatnonzero(cluster_of == cluster)
        if len(members) > 3:
            target = int(oriented[members[0]].split()[0], 16)
            copy = members[-2]
            hashes[copy] = rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)
            oriented[copy] = f"{int(rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True)):016x}"
            cells[copy] = f"{int(near_copies(np.uint64(target), 2, rotation_radius(radius), rng)[1]):016x}"
            askew += 1
    return cells, oriented, hashes, askew


def planted_hashes(count: int, radius: int, clusters: int, blank_copies: int,
                   rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Hex hashes and, per hash, the planted cluster it belongs to (-1 for random ones)."""
    cluster_sizes = rng.integers(2, 9, clusters)
    planted = int(cluster_sizes.sum())
    random_count = count - planted - blank_copies
    if random_count < 0:
        raise SystemExit("count too small for the planted clusters")
    values = [rng.integers(0, 2**64 - 1, random_count, dtype=np.uint64, endpoint=True)]
    labels = [np.full(random_count, -1)]
    seeds = rng.integers(0, 2**64 - 1, clusters, dtype=np.uint64, endpoint=True)
    for cluster, (seed, size) in enumerate(zip(seeds, cluster_sizes)):
        values.append(near_copies(seed, size, radius, rng))
        labels.append(np.full(size, cluster))
    values.append(np.full(blank_copies, rng.integers(0, 2**63, dtype=np.uint64), np.uint64))
    labels.append(np.full(blank_copies, clusters))
    hashes = np.concatenate(values)
    cluster_of = np.concatenate(labels)
    shuffle = rng.permutation(len(hashes))
    return hashes[shuffle], cluster_of[shuffle]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--radius", type=int, default=DEFAULT_RADIUS)
    parser.add_argument("--clusters", type=int, default=20_000)
    parser.add_argument("--blank-copies", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", action="store_true",
                        help="group the pHashes alone (no hash_oriented column, as older reports)")
    parser.add_argument("--unrotated", action="store_true",
                        help="without the hash_rotated column (as reports before it)")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    hashes, cluster_of = planted_hashes(args.count, args.radius, args.clusters, args.blank_copies, rng)
    oriented, mirrored, rotated, askew = None, 0, None, 0
    if not args.plain:
        oriented, hashes, mirrored = planted_oriented(hashes, cluster_of, args.radius, rng)
        if not args.unrotated:
            rotated, oriented, hashes, askew = planted_rotated(hashes, oriented, cluster_of, args.radius, rng)
    hex_hashes = [f"{int(h):016x}" for h in hashes]
    rss_before = peak_rss_mib()
    start, cpu_start = time.perf_counter(), time.process_time()
    values, _ = parse_hashes(hex_hashes)
    if oriented is not None:
        oriented = parse_oriented(oriented)
    if rotated is not None:
        rotated = parse_oriented(rotated)
    parsed = time.perf_counter()
    ids = group_ids(values, args.radius, oriented=oriented, rotated=rotated)
    done, cpu_done = time.perf_counter(), time.process_time()

    planted = cluster_of >= 0
    # Each planted cluster must be whole inside one group (it may have absorbed a random hash).
    whole = all(len(set(ids[cluster_of == c])) == 1 and ids[cluster_of == c][0] >= 0
                for c in np.unique(cluster_of[planted])[:2000])
    chance = np.count_nonzero((ids >= 0) & ~planted)
    print(f"hashes: {args.count:,}  radius: {args.radius}  planted clusters: {args.clusters:,} "
          f"+ {args.blank_copies:,} identical copies; "
          + ("pHashes only" if args.plain else f"with hash_oriented, {mirrored:,} mirrored copies")
          + ("" if rotated is None else f"; with hash_rotated, {askew:,} askew copies"))
    print(f"parse {parsed - start:.2f} s  group {done - parsed:.2f} s  "
          f"total {done - start:.2f} s  (CPU {cpu_done - cpu_start:.2f} s; load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"groups: {ids.max() + 1:,}  grouped hashes: {np.count_nonzero(ids >= 0):,}  "
          f"random hashes grouped by chance: {chance:,}")
    print(f"planted clusters recovered whole (first 2,000 checked): {whole}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (before grouping: {rss_before:.0f} MiB, "
          f"which includes the benchmark's own list of hex strings)")
    return 0 if whole else 1


if __name__ == "__main__":
    sys.exit(main())
