"""Near-duplicate groups from 64-bit perceptual hashes: pure functions, no I/O.

Two images are near duplicates when their pHashes differ in at most `radius` bits; groups
are the connected components of that relation (so A~B and B~C puts A, B, C together even if
A and C are further apart). Images in no pair get no group.

Finding the pairs without comparing all n^2/2 of them uses multi-index hashing (Norouzi et
al., "Fast search in Hamming space with multi-index hashing", CVPR 2012): cut the 64 bits
into m blocks and give block i a threshold t_i with sum(t_i + 1) = radius + 1. If two hashes
differ in at most `radius` bits, then by pigeonhole some block i differs in at most t_i bits.
So for each block we look up only hashes whose block value is within t_i of ours (a dense
table of 2^bits buckets, probed with every flip mask of weight <= t_i), and verify those
candidates with a full 64-bit popcount. Memory is linear in n plus 2^bits per block.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import numpy as np

from imgval.dupes.components import components


HASH_BITS = 64
NO_GROUP = -1
from imgval.defaults import DEFAULT_RADIUS  # noqa: F401  (chosen by the shipped evaluation: see defaults.py)

# Rough per-item costs on numpy (seconds), measured on the 2-core CI machine; they only steer
# the choice of strategy, so being off by 2x costs speed, never correctness.
_COST_BRUTE_PAIR = 15e-9  # xor + popcount + compare of one pair, all-pairs strategy
_COST_PROBE = 8e-9  # one bucket lookup of one hash for one flip mask
_COST_CANDIDATE = 25e-9  # verifying one candidate pair
_COST_BUCKET = 5e-9  # building the dense table, per possible block value
_COST_BLOCK = 2e-3  # Python overhead of searching one block
_MAX_BLOCK_BITS = 24  # dense bucket tables above this would cost more memory than they save
_CHUNK_PAIRS = 4_000_000  # candidate pairs verified at once: bounds temporary memory (~100 MB)
_SMALL_BUCKET = 8  # buckets up to this size are matched slot by slot
_PARALLEL_FROM = 100_000  # distinct hashes: below this, threads cost more than they save
_FEW = 2048  # hashes searched all-pairs rather than with a table of 2^bits
_LONG_RUN = 64  # runs of equal block values longer than this go to the bucket-list search


class KnownHashes(NamedTuple):
    """uint64 hashes and which of them are present (0 is a valid pHash): parse_hashes' answer,
    taken as it is. A masked array says the same, but numpy.ma costs ~10 ms to import."""

    values: np.ndarray
    present: np.ndarray


def parse_hashes(values: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Hashes as uint64 plus a mask of which entries are present.

    Accepts KnownHashes, a uint64 array (masked where missing, or not), Python ints, or hex strings as the
    report stores them (16 hex digits). Missing entries (None, "", NaN, as pandas reads empty CSV cells) are
    allowed: their slot holds 0 and `present` is False there.
    """
    if isinstance(values, KnownHashes):
        return np.where(values.present, values.values, np.uint64(0)), values.present
    # a masked array (np.ma, imported only if the caller made one: no ndarray has a mask)
    if isinstance(values, np.ndarray) and hasattr(values, "mask") and values.dtype == np.uint64:
        present = ~np.ma.getmaskarray(values)
        return np.where(present, values.data, np.uint64(0)), present
    if isinstance(values, np.ndarray) and values.dtype == np.uint64:
        return values, np.ones(len(values), bool)
    items = list(values)
    present = np.array([_is_present(v) for v in items], bool)
    out = np.zeros(len(items), np.uint64)
    kept = [v for v, p in zip(items, present) if p]
    if kept and all(isinstance(v, str) and len(v) == 16 for v in kept):
        # One C-level pass instead of a million int(s, 16) calls.
        out[present] = np.frombuffer(bytes.fromhex("".join(kept)), dtype=">u8")
    elif kept:
        out[present] = np.array(
            [int(v, 16) if isinstance(v, str) else int(v) for v in kept], dtype=np.uint64)
    return out, present


def _is_present(value) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, float):
        return not math.isnan(value)
    return True


def hashes_to_uint64(values: Iterable) -> np.ndarray:
    """Hex strings or ints to a uint64 array; every entry must be present."""
    hashes, present = parse_hashes(values)
    if not present.all():
        raise ValueError(f"{int((~present).sum())} hash(es) missing")
    return hashes


@dataclass(frozen=True)
class Block:
    """Bits [shift, shift + bits) of the hash, searched within `threshold` flipped bits."""
    shift: int
    bits: int
    threshold: int


def plan_blocks(count: int, radius: int) -> list[Block] | None:
    """The cheapest multi-index split for `count` distinct hashes, or None for all-pairs.

    Blocks whose threshold is -1 are left out: pigeonhole only needs radius + 1 units of
    threshold in total, so with many blocks some are never searched.
    """
    _check_radius(radius)
    best_cost = count * (count - 1) / 2 * _COST_BRUTE_PAIR
    best: list[Block] | None = None
    for m in range(math.ceil(HASH_BITS / _MAX_BLOCK_BITS), HASH_BITS + 1):
        blocks = split_blocks(m, radius)
        cost = sum(_block_cost(count, b) for b in blocks)
        if cost < best_cost:
            best_cost, best = cost, blocks
        if m > radius + 1:
            break  # more blocks than radius + 1 only makes each one less selective
    return best


def _check_radius(radius: int) -> None:
    if radius < 0:
        raise ValueError(f"radius must be 0 or more bits, not {radius}")


def split_blocks(m: int, radius: int) -> list[Block]:
    """m near-equal blocks, thresholds summing (as t + 1) to radius + 1, wider blocks first."""
    widths = [HASH_BITS // m + (1 if i < HASH_BITS % m else 0) for i in range(m)]
    units = [(radius + 1) // m + (1 if i < (radius + 1) % m else 0) for i in range(m)]
    blocks, shift = [], 0
    for width, unit in zip(widths, units):
        if unit > 0:
            blocks.append(Block(shift, width, unit - 1))
        shift += width
    return blocks


def _ball(bits: int, threshold: int) -> int:
    return sum(math.comb(bits, k) for k in range(threshold + 1))


def _block_cost(count: int, block: Block) -> float:
    masks = _ball(block.bits, block.threshold) - 1
    probes = count / 2 * masks  # each mask probes from the half of hashes with its top bit 0
    candidates = count * (count - 1) / 2 * _ball(block.bits, block.threshold) / 2 ** block.bits
    return (_COST_BLOCK + 2 ** block.bits * _COST_BUCKET + probes * _COST_PROBE
            + candidates * _COST_CANDIDATE)


def near_pairs(hashes: np.ndarray, radius: int,
               blocks: Sequence[Block] | None | str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) with popcount(hashes[i] ^ hashes[j]) <= radius, i != j.

    `hashes` should be distinct (see `group_ids`): identical hashes are found too, but a
    bucket of k copies costs k^2. A pair may be reported more than once. `blocks` forces a
    strategy (None = all-pairs, a list = that multi-index split); tests use it.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    _check_radius(radius)
    if blocks == "auto":
        blocks = plan_blocks(len(hashes), radius)
    if blocks is None:
        return _all_pairs(hashes, radius)
    if any(block.bits > _MAX_BLOCK_BITS for block in blocks):
        raise ValueError(f"blocks wider than {_MAX_BLOCK_BITS} bits need too big a table: "
                         "split into at least 3 blocks")
    firsts, seconds = [], []
    for block in blocks:
        for first, second in _block_pairs(hashes, radius, block):
            firsts.append(first)
            seconds.append(second)
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _all_pairs(hashes: np.ndarray, radius: int):
    firsts, seconds = [], []
    rows = max(1, _CHUNK_PAIRS // max(1, len(hashes)))
    for start in range(0, len(hashes), rows):
        chunk = hashes[start:start + rows]
        close = np.bitwise_count(chunk[:, None] ^ hashes[None, :]) <= radius
        i, j = np.nonzero(close)
        i += start
        keep = i < j
        firsts.append(i[keep])
        seconds.append(j[keep])
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _flip_masks_by_top_bit(bits: int, threshold: int) -> list[list[int]]:
    """Every mask of weight 1..threshold over `bits` bits, listed under its highest set bit."""
    by_top: list[list[int]] = [[] for _ in range(bits)]
    for weight in range(1, threshold + 1):
        for positions in combinations(range(bits), weight):
            by_top[positions[-1]].append(sum(1 << p for p in positions))
    return by_top


def _block_pairs(hashes: np.ndarray, radius: int, block: Block):
    """Yield verified (i, j) chunks for pairs whose `block` values differ by <= threshold bits.

    The first hash of each bucket (block value) goes into a dense table of 32-bit signatures,
    32 of its other bits; a probe of "my value xor a flip mask" reads one signature, and only
    probes whose signatures are within the radius (less the mask's bits) are verified against
    the full hashes. One small gather per probe, no chain of lookups: that is where the time
    goes. The other members of shared buckets (few, for distinct hashes) probe the table with
    every mask, and are searched among themselves by the bucket-list search below, which
    handles buckets of any size.
    """
    count = len(hashes)
    keys = ((hashes >> np.uint64(block.shift)) & np.uint64((1 << block.bits) - 1)).astype(np.intp)
    # Sorted by block value (ties by position): probes then read the table nearly in order.
    packed = np.sort((keys << 32) | np.arange(count, dtype=np.intp))
    keys, order = packed >> 32, packed & 0xFFFFFFFF
    first = np.ones(count, bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    if block.threshold == 0:  # equal block values only: pairs inside runs of the sorted keys
        yield from _run_pairs(hashes, radius, block, keys, order, first)
        return
    table = _SignatureTable(hashes, block, keys[first], order[first])
    masks = _flip_masks_by_top_bit(block.bits, block.threshold)

    # Firsts against firsts: probing only from values with a 0 at the mask's highest bit finds
    # each unordered pair once, with half the lookups (worth the selection for 3+ masks).
    first_keys, first_order = keys[first], order[first]
    every_first = [mask for top_masks in masks if len(top_masks) < 3 for mask in top_masks]
    if every_first:
        yield from table.probe(first_keys, first_order, every_first, radius)
    for top_bit, top_masks in enumerate(masks):
        if len(top_masks) >= 3:
            sources = np.flatnonzero((first_keys >> top_bit) & 1 == 0)
            yield from table.probe(first_keys[sources], first_order[sources], top_masks, radius)
    rest = np.flatnonzero(~first)
    if len(rest):
        # The others against the firsts, their own bucket's (mask 0) included.
        every_mask = [0] + [mask for top_masks in masks for mask in top_masks]
        yield from table.probe(keys[rest], order[rest], every_mask, radius)
        if len(rest) > 1:  # and among themselves
            others = order[rest]
            for i, j in _rest_pairs(hashes[others], radius, block, count):
                yield others[i], others[j]


def _rest_pairs(hashes: np.ndarray, radius: int, block: Block, searched: int):
    """Pairs among the hashes that were not first in their bucket: few, for distinct hashes,
    so the same search again (its own table), or all pairs for a handful; when they are most
    of what was searched (thousands of hashes sharing block values), the bucket-list search."""
    if len(hashes) <= _FEW:
        yield _all_pairs(hashes, radius)
    elif len(hashes) <= searched // 2:
        yield from _block_pairs(hashes, radius, block)
    else:
        yield from _bucket_list_pairs(hashes, radius, block)


def _run_pairs(hashes, radius, block, keys, order, first):
    """Pairs of hashes with equal block values (threshold 0): within each run of sorted keys,
    position p against p - 1, p - 2, ... back to the run's start."""
    positions = np.arange(len(keys))
    offset = positions - np.maximum.accumulate(np.where(first, positions, 0))  # within the run
    if offset.max(initial=0) > _LONG_RUN:
        yield from _bucket_list_pairs(hashes, radius, block)
        return
    by_key = hashes[order]
    later = np.flatnonzero(offset)
    back = 1
    while len(later):
        close = later[np.bitwise_count(by_key[later] ^ by_key[later - back]) <= radius]
        if len(close):
            yield order[close], order[close - back]
        back += 1
        later = later[offset[later] >= back]


class _SignatureTable:
    """Per block value: 32 bits of its first hash outside the block, and that hash's position."""

    def __init__(self, hashes: np.ndarray, block: Block, keys: np.ndarray, positions: np.ndarray):
        self.hashes = hashes
        self.signatures = _signatures(hashes, block)
        self.table = np.zeros(1 << block.bits, np.uint32)
        self.table[keys] = self.signatures[positions]
        self.position = np.full(1 << block.bits, -1, np.int32)  # -1: no hash has this value
        self.position[keys] = positions

    def probe(self, keys: np.ndarray, positions: np.ndarray, masks, radius: int):
        # The block bits differ by exactly the mask's weight, so the signature may differ by at
        # most radius - weight; buffers are reused across masks (no page faults per probe).
        own = self.signatures[positions]
        own_hash = self.hashes[positions]
        partner = np.empty(len(keys), np.intp)
        seen = np.empty(len(keys), np.uint32)
        distance = np.empty(len(keys), np.uint8)
        close = np.empty(len(keys), bool)
        for mask in masks:
            np.bitwise_xor(keys, mask, out=partner)
            np.take(self.table, partner, out=seen, mode="clip")  # in range by construction
            np.bitwise_xor(seen, own, out=seen)
            np.bitwise_count(seen, out=distance)
            np.less_equal(distance, radius - int(mask).bit_count(), out=close)
            hit = np.flatnonzero(close)
            if len(hit):
                other = self.position[partner[hit]]
                real = other >= 0  # an empty slot's signature (0) can pass by chance
                hit, other = hit[real], other[real]
                near = np.bitwise_count(own_hash[hit] ^ self.hashes[other]) <= radius
                if near.any():
                    yield positions[hit[near]], other[near]


def _signatures(hashes: np.ndarray, block: Block) -> np.ndarray:
    """The lowest 32 of the hash bits outside the block (at least 40 of them: blocks <= 24)."""
    below = hashes & np.uint64((1 << block.shift) - 1)
    above = hashes >> np.uint64(block.shift + block.bits)
    return ((above << np.uint64(block.shift)) | below).astype(np.uint32)


def _bucket_list_pairs(hashes: np.ndarray, radius: int, block: Block):
    """The same pairs as _block_pairs by another layout, for the few hashes that share a block
    value with another: any bucket size, including thousands of near-identical hashes.

    Hashes are laid out bucket after bucket (sorted by block value); `starts` and `counts`
    index the buckets densely by value, so a probe is one array lookup.
    """
    keys = ((hashes >> np.uint64(block.shift)) & np.uint64((1 << block.bits) - 1)).astype(np.intp)
    order = np.argsort(keys, kind="stable")
    keys, by_key = keys[order], hashes[order]
    counts = np.bincount(keys, minlength=1 << block.bits).astype(np.intp)
    starts = np.zeros(len(counts), np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    occupied = (counts != 0).view(np.uint8)
    table = _Buckets(by_key, order, radius)

    # Pairs inside one bucket: position p against p + 1, p + 2, ... while still in the bucket.
    positions = np.arange(len(keys), dtype=np.intp)
    left_in_bucket = starts[keys] + counts[keys] - positions - 1
    has_next = left_in_bucket > 0
    yield from table.match(positions[has_next], positions[has_next] + 1,
                           left_in_bucket[has_next])

    # Pairs across buckets whose values differ by a flip mask (each found once, as above).
    for top_bit, masks in enumerate(_flip_masks_by_top_bit(block.bits, block.threshold)):
        if not masks:
            continue
        sources = np.flatnonzero((keys >> top_bit) & 1 == 0)
        source_keys = keys[sources]
        for mask in masks:
            partners = source_keys ^ mask
            found = np.flatnonzero(np.take(occupied, partners).view(bool))
            if len(found):
                hit = np.take(partners, found)
                yield from table.match(np.take(sources, found), np.take(starts, hit),
                                       np.take(counts, hit))


class _Buckets:
    """Verifies "hash at position p against every hash in positions [start, start + count)"."""

    def __init__(self, by_key: np.ndarray, order: np.ndarray, radius: int):
        self.by_key, self.order, self.radius = by_key, order, radius

    def match(self, position, start, count):
        small = count <= _SMALL_BUCKET
        if small.all():
            yield from self._match_by_slot(position, start, count)
        else:
            yield from self._match_by_slot(*_select(np.flatnonzero(small), position, start, count))
            yield from self._match_by_repeat(*_select(np.flatnonzero(~small), position, start, count))

    def _match_by_slot(self, position, start, count):
        # Buckets hold about one hash each, so looping over slot numbers (not pairs) makes few,
        # fast-shrinking passes.
        own = np.take(self.by_key, position)
        slot = 0
        while len(position):
            other = start + slot
            yield from self._keep_close(position, other, own, np.take(self.by_key, other))
            slot += 1
            position, start, count, own = _select(np.flatnonzero(count > slot),
                                                  position, start, count, own)

    def _match_by_repeat(self, position, start, count):
        # Few, big buckets (many distinct hashes sharing a block value): expand all products,
        # a bounded number at a time.
        ends = np.cumsum(count.astype(np.int64))
        cuts = np.searchsorted(ends, np.arange(_CHUNK_PAIRS, ends[-1] if len(ends) else 0,
                                               _CHUNK_PAIRS), side="right")
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(position)]):
            if lo == hi:
                continue
            sizes = count[lo:hi].astype(np.int64)
            owner = np.repeat(np.arange(hi - lo), sizes)
            within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            mine = position[lo:hi][owner]
            other = start[lo:hi][owner] + within
            yield from self._keep_close(mine, other, self.by_key[mine], self.by_key[other])

    def _keep_close(self, position, other, own_hash, other_hash):
        close = np.flatnonzero(np.bitwise_count(own_hash ^ other_hash) <= self.radius)
        if len(close):
            yield (np.take(self.order, np.take(position, close)),
                   np.take(self.order, np.take(other, close)))


def _select(indices, *arrays):
    return tuple(np.take(a, indices) for a in arrays)


def group_ids(hashes: Iterable, radius: int, blocks: Sequence[Block] | None | str = "auto",
              oriented: Iterable | None = None, rotated: Iterable | None = None) -> np.ndarray:
    """Group id per input hash: connected components of "Hamming distance <= radius".

    oriented: per input, its pHash in the standard orientation (phash.oriented_hashes: one or
    a few, as ints or space-separated hex) or None/"" where unknown; or an Oriented. Inputs whose oriented
    hashes are within the radius are linked too: that finds mirrored and quarter-turned copies.
    rotated: per input, its oriented hashes turned a few degrees (phash_rotated.rotated_hashes),
    in the same forms; inputs with any two of their oriented or rotated hashes within half the
    radius (rotation_radius) are linked: that finds copies scanned a few degrees askew.
    Returns int64 ids 0, 1, 2, ... numbered largest group first (ties by first appearance),
    and NO_GROUP (-1) for hashes with no near duplicate and for missing hashes.
    Identical hashes are collapsed before searching, so 10,000 copies of one blank page cost
    one lookup, not 50 million comparisons.
    """
    _check_radius(radius)
    values, present = parse_hashes(hashes)
    ids = np.full(len(values), NO_GROUP, np.int64)
    if not present.any():
        return ids
    distinct, inverse = np.unique(values[present], return_inverse=True)
    searches = []
    if radius > 0:  # distinct hashes are never within 0 bits: only identical copies group
        searches.append(lambda: near_pairs(distinct, radius, blocks))
    if oriented is not None:
        searches.append(lambda: _oriented_pairs(inverse, present, oriented, radius))
    if rotated is not None:
        pool = _pooled(parse_oriented(oriented if oriented is not None else []), parse_oriented(rotated))
        searches.append(lambda: _oriented_pairs(inverse, present, pool, rotation_radius(radius)))
    found = _run_all(searches, parallel=len(distinct) >= _PARALLEL_FROM)
    first = np.concatenate([np.zeros(0, np.int64)] + [f for f, _ in found])
    second = np.concatenate([np.zeros(0, np.int64)] + [s for _, s in found])
    component = components(first, second, len(distinct))
    ids[present] = _number_largest_first(component[inverse])
    return ids


def _run_all(searches, parallel: bool) -> list:
    """Run independent searches, two at a time on a big batch: numpy releases the GIL in the
    probes, so the oriented and rotated searches run beside the pHash one (wall time ~0.6x
    on 2 free cores; the same CPU time)."""
    workers = min(len(searches), os.cpu_count() or 1, 2)
    if not parallel or workers < 2:
        return [search() for search in searches]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda search: search(), searches))


@dataclass(frozen=True)
class Oriented:
    """Oriented hashes of many inputs, flat: values[k] belongs to input owners[k]."""
    values: np.ndarray  # uint64
    owners: np.ndarray  # int64


def parse_oriented(values: Iterable) -> Oriented:
    """Oriented hashes as the report stores them (space-separated 16-hex-digit hashes, or a
    sequence of ints; None, "" or NaN where unknown), one entry per input."""
    if isinstance(values, Oriented):
        return values
    items = values if isinstance(values, list) else list(values)
    cells = [v if isinstance(v, str) and _is_present(v) else "" for v in items]
    if all(isinstance(v, str) or not _is_present(v) for v in items):
        # One C-level pass, as parse_hashes: cells of 16-digit hashes with single spaces.
        lengths = np.fromiter((len(c) for c in cells), np.int64, len(cells))
        counts = (lengths + 1) // 17
        if np.all((lengths == 0) | (lengths == counts * 17 - 1)):
            digits = "".join(cells).replace(" ", "")
            return Oriented(np.frombuffer(bytes.fromhex(digits), dtype=">u8").astype(np.uint64),
                            np.repeat(np.arange(len(cells), dtype=np.int64), counts))
    hashes, owners = [], []
    for position, value in enumerate(items):
        if not _is_present(value):
            continue
        parts = value.split() if isinstance(value, str) else list(value)
        hashes += [int(h, 16) if isinstance(h, str) else int(h) for h in parts]
        owners += [position] * len(parts)
    return Oriented(np.array(hashes, np.uint64), np.array(owners, np.int64))


def rotation_radius(radius: int) -> int:
    """The radius for rotated hashes: half the pHash radius. A rotated hash meets an askew
    copy within a few bits, and the pool holds twice the oriented search's hashes: at the full
    radius it would bring about 4x its chance pairs (and cost more than both other searches)."""
    return radius // 2


def _pooled(*parts: Oriented) -> Oriented:
    return Oriented(np.concatenate([p.values for p in parts]), np.concatenate([p.owners for p in parts]))


def _oriented_pairs(inverse, present, oriented, radius):
    """Edges between distinct hashes (as indices into them) whose oriented hashes are within
    the radius. Searched as near_pairs over the distinct oriented hashes; inputs that share
    an oriented hash are linked through its first holder."""
    parsed = parse_oriented(oriented)
    values, owners = parsed.values, parsed.owners
    distinct_of_input = np.full(len(present), -1, np.int64)
    distinct_of_input[np.flatnonzero(present)] = inverse
    keep = distinct_of_input[owners] >= 0  # an oriented hash without a hash is not searched
    values, owners = values[keep], distinct_of_input[owners[keep]]
    if not len(values):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    unique, first_holder, which = np.unique(values, return_index=True, return_inverse=True)
    holder = owners[first_holder]
    first, second = [owners], [holder[which]]
    if radius > 0:
        near_first, near_second = near_pairs(unique, radius)
        first.append(holder[near_first])
        second.append(holder[near_second])
    return np.concatenate(first), np.concatenate(second)


def _number_largest_first(component: np.ndarray) -> np.ndarray:
    """Component labels -> group ids 0, 1, ... largest first (ties by first appearance), so ids
    are stable and readable; components of one member become NO_GROUP."""
    ids = np.full(len(component), NO_GROUP, np.int64)
    if not len(component):
        return ids
    sizes = np.bincount(component)
    grouped = sizes[component] > 1
    if not grouped.any():
        return ids
    labels, first_seen = np.unique(component[grouped], return_index=True)
    rank = np.lexsort((first_seen, -sizes[labels]))
    new_id = np.empty(len(labels), np.int64)
    new_id[rank] = np.arange(len(labels))
    ids[grouped] = new_id[np.searchsorted(labels, component[grouped])]
    return ids


def duplicate_groups(hashes: Iterable, checksums: Iterable, radius: int,
                     oriented: Iterable | None = None, rotated: Iterable | None = None) -> np.ndarray:
    """Group id per image from both signals: byte-identical files (same checksum, e.g. the
    sha256 column) always share a group, even when they could not be decoded and have no
    pHash; images whose pHashes are within `radius` bits join them (see `group_ids`).

    Ids as `group_ids`: 0, 1, ... largest group first, NO_GROUP for unique images. Missing
    checksums (None, "", NaN) group nothing.
    """
    near = group_ids(hashes, radius, oriented=oriented, rotated=rotated)
    exact = _exact_ids(checksums, len(near))
    count = len(near)
    for one, other in ((near, exact), (exact, near)):
        if not (other != NO_GROUP).any():  # one kind of group only: no graph to merge them
            return _number_largest_first(np.where(one == NO_GROUP, np.arange(count) + count, one))
    # A graph over the images: each member of a group is linked to the group's first member,
    # by either kind of group; its components merge the two partitions.
    firsts, seconds = [], []
    for ids in (near, exact):
        members = np.flatnonzero(ids != NO_GROUP)
        if len(members):
            labels, first = np.unique(ids[members], return_index=True)
            anchor = np.empty(labels.max() + 1, np.int64)
            anchor[labels] = members[first]
            firsts.append(members)
            seconds.append(anchor[ids[members]])
    if not firsts:
        return np.full(count, NO_GROUP, np.int64)
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    return _number_largest_first(components(first, second, count))


def _exact_ids(checksums: Iterable, count: int) -> np.ndarray:
    """A label per image shared by identical checksums; NO_GROUP where missing or unique."""
    if isinstance(checksums, np.ndarray) and checksums.dtype == "S32":
        return _digest_ids(checksums)
    if isinstance(checksums, np.ndarray) and checksums.dtype.kind == "S":
        values = checksums  # fixed-size digests (compact for millions); b"" is missing
        present = values != b""
    else:
        values = np.array([str(v) if _is_present(v) else "" for v in checksums], dtype=object)
        present = values != ""
    if len(values) != count:
        raise ValueError(f"need one checksum per hash: {len(values)} checksums for {count} hashes")
    ids = np.full(count, NO_GROUP, np.int64)
    if present.any():
        _, inverse, sizes = np.unique(values[present], return_inverse=True, return_counts=True)
        ids[present] = np.where(sizes[inverse] > 1, inverse, NO_GROUP)
    return ids


def _digest_ids(digests: np.ndarray) -> np.ndarray:
    """_exact_ids of 32-byte digests (all-zero: missing), in a fraction of the memory: grouped
    by their first 8 bytes, then checked whole (a group whose members differ beyond those
    is grouped again by the whole digest)."""
    words = np.ascontiguousarray(digests).view(np.uint64).reshape(-1, 4)
    present = words.any(axis=1)
    ids = np.full(len(digests), NO_GROUP, np.int64)
    if present.any():
        _, inverse, sizes = np.unique(words[present, 0], return_inverse=True, return_counts=True)
        ids[present] = np.where(sizes[inverse] > 1, inverse, NO_GROUP)
        members = np.flatnonzero(ids != NO_GROUP)
        if len(members):
            labels, first = np.unique(ids[members], return_index=True)
            anchor = np.empty(labels.max() + 1, np.int64)
            anchor[labels] = members[first]
            anchors = anchor[ids[members]]
            if any((words[members, k] != words[anchors, k]).any() for k in range(1, 4)):  # shared by chance
                values = digests[present]
                _, inverse, sizes = np.unique(values, return_inverse=True, return_counts=True)
                ids[present] = np.where(sizes[inverse] > 1, inverse, NO_GROUP)
    return ids


def group_members(ids: np.ndarray) -> list[np.ndarray]:
    """Indices of each group's members, in group-id order (largest group first)."""
    ids = np.asarray(ids)
    grouped = np.flatnonzero(ids != NO_GROUP)
    order = grouped[np.argsort(ids[grouped], kind="stable")]
    boundaries = np.flatnonzero(np.diff(ids[order])) + 1
    return np.split(order, boundaries) if len(order) else []


def best_copy(pixel_counts: Sequence, sharpness: Sequence) -> int:
    """Position of the copy to keep: most pixels, then sharpest (highest blur score).

    Missing values (None, NaN: a file that failed to decode) rank below any real value;
    remaining ties go to the earliest position.
    """
    if len(pixel_counts) != len(sharpness) or not len(pixel_counts):
        raise ValueError("need one pixel count and one sharpness per copy, at least one copy")

    def rank(position):
        return (_or_minus_inf(pixel_counts[position]), _or_minus_inf(sharpness[position]),
                -position)

    return max(range(len(pixel_counts)), key=rank)


def _or_minus_inf(value) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -math.inf
    return float(value)
