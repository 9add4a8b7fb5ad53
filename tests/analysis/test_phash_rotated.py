"""Rotated pHashes meet copies turned a few degrees, whichever way and even when mirrored."""
import cv2
import numpy as np

from imgval.analysis.phash import low_frequencies, oriented_hashes
from imgval.analysis.phash_rotated import ROTATION_DEGREES, rotated_hashes
from imgval.dupes.index import DEFAULT_RADIUS, rotation_radius
from imgval.synthetic import natural_image


def gray(seed, height=700, width=1000):
    return cv2.cvtColor(natural_image(height, width, seed=seed), cv2.COLOR_BGR2GRAY)


def askew(image, degrees, border=cv2.BORDER_REFLECT):
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=border)


def pool(image):
    low = low_frequencies(image)
    return oriented_hashes(low) + rotated_hashes(image, low)


def closest(a, b):
    return min(bin(x ^ y).count("1") for x in a for y in b)


def test_one_rotated_hash_per_oriented_hash():
    for seed in range(3):
        image = gray(seed)
        low = low_frequencies(image)
        assert len(rotated_hashes(image, low)) == len(oriented_hashes(low))


def test_copies_turned_either_way_or_mirrored_meet_the_original_within_the_rotation_radius():
    radius = rotation_radius(DEFAULT_RADIUS)
    found = []
    for seed in range(3):
        image = gray(seed)
        original = pool(image)
        for degrees in (2.5, ROTATION_DEGREES, 4.5):
            for copy in (askew(image, degrees), askew(image, -degrees),
                         askew(np.ascontiguousarray(image[:, ::-1]), degrees),
                         askew(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), -degrees, cv2.BORDER_REPLICATE)):
                distance = closest(original, pool(copy))
                if degrees != 4.5:  # near the rotated hashes' own angle: always
                    assert distance <= radius, (seed, degrees)
                found.append(distance <= radius)
    assert np.mean(found) >= 0.9  # at the edge of the 2-5 degrees, nearly always


def test_other_pictures_stay_far():
    pools = [pool(gray(seed)) for seed in range(6)]
    for i in range(len(pools)):
        for j in range(i + 1, len(pools)):
            assert closest(pools[i], pools[j]) > DEFAULT_RADIUS


def test_tiny_and_flat_images_still_hash():
    for image in (np.zeros((3, 5), np.uint8), np.full((40, 2000), 200, np.uint8),
                  np.arange(2000, dtype=np.uint8)[None, :], np.zeros((2000, 1), np.uint8)):
        low = low_frequencies(image)
        assert len(rotated_hashes(image, low)) == len(oriented_hashes(low))
