"""Near-duplicate grouping: exact against a brute-force reference, and on real image variants."""
from __future__ import annotations

import math

import numpy as np
import pytest

from imgval.dupes import index as dupes
from imgval.dupes.index import NO_GROUP, best_copy, group_ids, group_members, near_pairs, parse_hashes


def random_hashes(rng, count):
    return rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)


def flip_bits(rng, value, bits):
    positions = rng.choice(64, bits, replace=False)
    return np.uint64(int(value) ^ sum(1 << int(p) for p in positions))


def clustered_hashes(rng, seeds=60, copies=5, max_flips=12):
    """Random seeds with copies 0..max_flips bits away, so pairs exist at every radius."""
    values = []
    for seed in random_hashes(rng, seeds):
        values.append(seed)
        for _ in range(copies):
            values.append(flip_bits(rng, seed, int(rng.integers(0, max_flips + 1))))
    return np.array(values, np.uint64)


def reference_components(hashes, radius):
    """Brute force: all pairs, then union-find in plain Python."""
    parent = list(range(len(hashes)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= radius:
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(len(hashes))]
    sizes = {r: roots.count(r) for r in set(roots)}
    return [roots[i] if sizes[roots[i]] > 1 else None for i in range(len(hashes))]


def same_partition(ids, reference):
    """Group ids and reference roots describe the same grouping, singletons ungrouped."""
    assert [i == NO_GROUP for i in ids] == [r is None for r in reference]
    mapping = {}
    for i, r in zip(ids, reference):
        if r is not None:
            assert mapping.setdefault(int(i), r) == r
    assert len(set(mapping.values())) == len(mapping)


@pytest.mark.parametrize("radius", [1, 2, 4, 8, 10, 13])
def test_groups_match_brute_force_for_every_search_strategy(radius):
    rng = np.random.default_rng(radius)
    hashes = clustered_hashes(rng)
    reference = reference_components(hashes, radius)
    assert any(r is not None for r in reference)
    strategies = ["auto", None] + [dupes.split_blocks(m, radius)
                                   for m in (3, 4, 6, max(3, radius + 1))]
    for blocks in strategies:
        same_partition(group_ids(hashes, radius, blocks=blocks), reference)


def test_near_pairs_finds_exactly_the_pairs_within_radius():
    rng = np.random.default_rng(7)
    hashes = np.unique(clustered_hashes(rng, seeds=40, copies=4, max_flips=9))
    distances = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    expected = {(i, j) for i, j in zip(*np.nonzero(distances <= 6)) if i < j}
    for blocks in (None, dupes.split_blocks(3, 6), dupes.split_blocks(5, 6)):
        first, second = near_pairs(hashes, 6, blocks)
        found = {(min(a, b), max(a, b)) for a, b in zip(first.tolist(), second.tolist())}
        assert found == expected


def test_big_buckets_of_near_identical_hashes_are_still_exact():
    # 300 distinct hashes sharing every block but the last few bits: buckets far above the
    # slot-by-slot size, so the big-bucket path runs.
    rng = np.random.default_rng(3)
    base = int(random_hashes(rng, 1)[0]) & ~0xFF
    hashes = np.array([base | int(v) for v in rng.permutation(256)[:200]]
                      + [int(h) for h in random_hashes(rng, 100)], np.uint64)
    reference = reference_components(hashes, 3)
    same_partition(group_ids(hashes, 3, blocks=dupes.split_blocks(3, 3)), reference)


def test_identical_copies_form_one_group_at_any_radius():
    blank = "8000000000000000"
    hashes = [blank] * 10_000 + ["0123456789abcdef", "fedcba9876543210"]
    for radius in (0, 8):
        ids = group_ids(hashes, radius)
        assert set(ids[:10_000]) == {0}
        assert list(ids[10_000:]) == [NO_GROUP, NO_GROUP]


def test_groups_are_numbered_largest_first():
    hashes = ["00000000000000ff"] * 2 + ["ff00000000000000"] * 3 + ["0f0f0f0f0f0f0f0f"]
    assert group_ids(hashes, 0).tolist() == [1, 1, 0, 0, 0, NO_GROUP]
    members = group_members(group_ids(hashes, 0))
    assert [m.tolist() for m in members] == [[2, 3, 4], [0, 1]]


def test_empty_and_missing_hashes():
    assert group_ids([], 8).tolist() == []
    assert group_members(group_ids([], 8)) == []
    # An unreadable file has no hash: it is in no group, and does not shift the others.
    ids = group_ids(["", "00000000000000ff", None, "00000000000000fe", math.nan], 1)
    assert ids.tolist() == [NO_GROUP, 0, NO_GROUP, 0, NO_GROUP]


def test_parse_accepts_hex_ints_and_arrays_alike():
    expected = np.array([0xFFFFFFFFFFFFFFFF, 1, 0x8000000000000000], np.uint64)
    for given in (["ffffffffffffffff", "0000000000000001", "8000000000000000"],
                  [2**64 - 1, 1, 2**63], expected, ["ffffffffffffffff", 1, "8000000000000000"]):
        values, present = parse_hashes(given)
        assert values.dtype == np.uint64 and values.tolist() == expected.tolist()
        assert present.all()


def test_radius_must_not_be_negative():
    with pytest.raises(ValueError):
        group_ids(["00000000000000ff", "00000000000000fe"], -1)


def test_blocks_too_wide_for_a_dense_table_are_refused():
    with pytest.raises(ValueError, match="at least 3 blocks"):
        near_pairs(np.array([1, 2], np.uint64), 1, dupes.split_blocks(2, 1))


def test_best_copy_prefers_pixels_then_sharpness():
    assert best_copy([4_000_000, 12_000_000, 12_000_000], [900.0, 150.0, 300.0]) == 2
    assert best_copy([1000, 1000], [50.0, 50.0]) == 0  # full tie: first listed
    # A copy that failed to decode (no size, no score) is never the best.
    assert best_copy([None, 2000], [math.nan, 10.0]) == 1
    assert best_copy([3000, 3000], [None, 10.0]) == 1
    with pytest.raises(ValueError):
        best_copy([], [])


def test_real_variants_group_and_distinct_images_do_not():
    """A few generated scenes, hashed by the scan itself: derivatives, flipped and turned
    copies join their master."""
    from imgval.analysis.analyze import Settings
    from imgval.dupes.evaluation import VARIANTS, build_labelled_set

    matchable = tuple(v for v in VARIANTS if v.should_match)
    labelled = build_labelled_set(originals=4, seed=11, variants=matchable)
    ids = group_ids(labelled.hashes, dupes.DEFAULT_RADIUS, oriented=labelled.oriented)
    for source in range(4):
        mine = ids[labelled.source == source]
        master = mine[0]
        assert master != NO_GROUP
        # At most one variant per original may escape (crops are the hardest case).
        assert np.count_nonzero(mine == master) >= len(mine) - 1
        others = ids[labelled.source != source]
        assert master not in set(others.tolist())
    assert Settings().mode == "default"  # the mode whose hashes this checks


def test_oriented_hashes_link_inputs_whose_plain_hashes_are_far_apart():
    # Two pictures whose pHashes differ in 32 bits (a mirrored copy) but whose oriented
    # hashes are 2 bits apart, and a third whose oriented hash is far from both.
    a, mirrored, other = "0f0f0f0f0f0f0f0f", "f0f0f0f00f0f0f0f", "00000000ffffffff"
    oriented = ["123456789abcdef0", "123456789abcdef3 00000000000000ff", "fedcba9876543210"]
    assert group_ids([a, mirrored, other], 8).tolist() == [NO_GROUP] * 3
    assert group_ids([a, mirrored, other], 8, oriented=oriented).tolist() == [0, 0, NO_GROUP]
    assert group_ids([a, mirrored, other], 1, oriented=oriented).tolist() == [NO_GROUP] * 3
    # Identical oriented hashes group at radius 0; unknown ones (older reports) group nothing.
    assert group_ids([a, mirrored], 0, oriented=["00000000000000ff", "00000000000000ff"]).tolist() == [0, 0]
    assert group_ids([a, mirrored, other], 8, oriented=["", None, math.nan]).tolist() == [NO_GROUP] * 3
    # An oriented hash without a pHash (the file could not be hashed) is not searched.
    assert group_ids(["", mirrored], 8, oriented=["123456789abcdef0", "123456789abcdef0"]).tolist() == [
        NO_GROUP, NO_GROUP]


def test_rotated_hashes_link_inputs_within_half_the_radius():
    # Plain and oriented hashes far apart (a copy scanned askew), but the second's rotated hash
    # is 4 bits from the first's oriented hash: linked at radius 8 (half: 4), not at 6 (3).
    plain = ["0f0f0f0f0f0f0f0f", "f0f0f0f00f0f0f0f"]
    oriented = ["123456789abcdef0", "fedcba9876543210"]
    rotated = ["0000000000000000", "123456789abcdeff"]
    assert group_ids(plain, 8, oriented=oriented).tolist() == [NO_GROUP] * 2
    assert group_ids(plain, 8, oriented=oriented, rotated=rotated).tolist() == [0, 0]
    assert group_ids(plain, 6, oriented=oriented, rotated=rotated).tolist() == [NO_GROUP] * 2
    # Rotated hashes are compared with each other too, and never searched without a pHash.
    assert group_ids(plain, 8, rotated=["123456789abcdef0", "123456789abcdeff"]).tolist() == [0, 0]
    assert group_ids(["", plain[1]], 8, oriented=oriented, rotated=rotated).tolist() == [NO_GROUP] * 2


def test_known_hashes_and_masked_arrays_say_the_same():
    """The report's finishing pass hands its hashes over as KnownHashes (no numpy.ma import);
    a masked array still works, and 0 stays a valid pHash in both."""
    from imgval.dupes.index import KnownHashes
    values = np.array([0, 5, 0, 4, 7], np.uint64)
    present = np.array([True, True, False, True, True])
    as_known = parse_hashes(KnownHashes(values, present))
    as_masked = parse_hashes(np.ma.MaskedArray(values, mask=~present))
    for found in (as_known, as_masked):
        assert found[0].tolist() == [0, 5, 0, 4, 7] and found[1].tolist() == present.tolist()
    assert group_ids(KnownHashes(values, present), 1).tolist() == group_ids(
        np.ma.MaskedArray(values, mask=~present), 1).tolist()
