"""The stored pHash is imagehash's; the oriented pHash is the same for every flip and turn."""
from pathlib import Path

import cv2
import imagehash
import numpy as np
from PIL import Image

from imgval.analysis.phash import (ORIENTATIONS, hash_of, low_frequencies, oriented, oriented_hashes, phash_hex,
                          standard_orientations)
from imgval.synthetic import natural_image

TURNS = {
    "identity": lambda g: g,
    "flip vertical": lambda g: g[::-1],
    "flip horizontal": lambda g: g[:, ::-1],
    "rotate 180": lambda g: g[::-1, ::-1],
    "transpose": lambda g: g.T,
    "rotate 90 clockwise": lambda g: cv2.rotate(g, cv2.ROTATE_90_CLOCKWISE),
    "rotate 90 counterclockwise": lambda g: cv2.rotate(g, cv2.ROTATE_90_COUNTERCLOCKWISE),
    "anti-transpose": lambda g: g[::-1, ::-1].T,
}


def gray(seed, height=700, width=1000):
    return cv2.cvtColor(natural_image(height, width, seed=seed), cv2.COLOR_BGR2GRAY)


def distance(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def test_phash_is_imagehash_phash():
    for seed in range(5):
        image = gray(seed)
        assert phash_hex(image) == str(imagehash.phash(Image.fromarray(image)))


def test_each_orientation_predicts_the_hash_of_the_turned_image():
    for seed in range(3):
        image = gray(seed)
        low = low_frequencies(image)
        for index, (name, _) in enumerate(ORIENTATIONS):
            turned = np.ascontiguousarray(TURNS[name](image))
            actual = int(str(imagehash.phash(Image.fromarray(turned))), 16)
            assert distance(hash_of(oriented(low, index)), actual) <= 2, name


def test_every_flip_and_turn_shares_an_oriented_hash_with_the_original():
    for seed in range(4):
        image = gray(seed)
        original = set(oriented_hashes(low_frequencies(image)))
        for name, turn in TURNS.items():
            copy = oriented_hashes(low_frequencies(np.ascontiguousarray(turn(image))))
            assert min(distance(a, b) for a in original for b in copy) <= 2, name
            plain = int(phash_hex(np.ascontiguousarray(turn(image))), 16)
            if name != "identity":  # what the stored hash alone cannot see
                assert distance(plain, int(phash_hex(image), 16)) > 8, name


def test_one_standard_orientation_unless_nearly_a_tie():
    low = np.zeros((8, 8))
    low[0, 1], low[1, 0] = -5.0, 2.0  # upright = mirror left-right: (0, 1) becomes +5
    assert [ORIENTATIONS[i][0] for i in standard_orientations(low)] == ["flip horizontal"]
    low[1, 0] = 4.8  # |(0,1)| and |(1,0)| nearly equal: transposed versions count too
    assert len(standard_orientations(low)) == 2
    low[1, 0] = 0.1  # (1,0) nearly 0: its sign is a toss-up
    assert len(standard_orientations(low)) == 2
    assert len(standard_orientations(low, margin=0.0)) == 1


def _pictures():
    """Many 8-bit pictures: real photographs (scikit-image's bundled data) at several sizes,
    generated scenes, and the degenerate ones where coefficients tie (flat, ramps, symmetric)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    for path in sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg")):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            continue
        yield image
        for size in ((64, 64), (100, 75), (33, 47), (517, 389)):
            yield cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        yield cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    for seed in range(20):
        yield gray(seed, 40 + 13 * seed, 50 + 17 * seed)
    rng = np.random.default_rng(3)
    for value in (0, 1, 128, 255):
        yield np.full((64, 48), value, np.uint8)
    ramp = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint8)
    yield ramp
    yield ramp.T.copy()
    yield np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    symmetric = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    yield np.block([[symmetric, symmetric[:, ::-1]], [symmetric[::-1], symmetric[::-1, ::-1]]])
    yield (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)  # checkerboard
    for _ in range(10):
        yield rng.integers(0, 256, (int(rng.integers(8, 200)), int(rng.integers(8, 200))), dtype=np.uint8)


def test_hashes_are_imagehash_phash_bit_for_bit_on_many_pictures():
    """The DCT is imgval's own (two matrix products, not scipy's): every hash and oriented hash
    must still be the one scipy's DCT gives, flat and symmetric pictures (ties) included."""
    import scipy.fftpack

    pictures = list(_pictures())
    assert len(pictures) > 150
    for image in pictures:
        assert phash_hex(image) == str(imagehash.phash(Image.fromarray(image)))
        reduced = np.asarray(Image.fromarray(image).resize((32, 32), Image.LANCZOS))
        scipy_low = scipy.fftpack.dct(scipy.fftpack.dct(reduced, axis=0), axis=1)[:8, :8]
        assert oriented_hashes(low_frequencies(image)) == oriented_hashes(scipy_low)
