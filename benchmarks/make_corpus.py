#!/usr/bin/env python3
"""Generate the benchmark corpus (deterministic): `python benchmarks/make_corpus.py`.

Two sets, written under benchmarks/corpus/ (git-ignored; about 1.3 GB):

  mixed/     what a digitisation batch looks like: 20-24 MP JPEGs (camera derivatives),
             8-bit and 16-bit RGB TIFF masters, uncompressed and LZW, and PNGs; some out of
             focus. This is the speed corpus.
  whole/     the whole-process bench's sets (benchmarks/bench.py --whole): jpeg/, 48 distinct
             22 MP JPEGs (12 scenes, each at 4 blurs, noise levels and qualities); thumbs/,
             1,000 64x64 JPEG thumbnails (crops of smaller scenes, some out of focus).
  photos/    real photographs, when scikit-image is installed (it ships a few small ones:
             astronaut, cat, coffee, rocket, Hubble, retina, motorcycle, ...): each re-encoded as
             JPEG at three qualities, as PNG, and out of focus; for the fidelity check on real
             colour content (benchmarks/calibrate.py). Optional: `pip install scikit-image`.
  labelled/  a calibration set: JPEGs (and a few TIFFs) of several sizes, each at a known blur
             (Gaussian sigma in pixels of the full image, 0 = sharp) with and without sensor
             noise added after the blur. labels.csv lists file, sigma, noise. The fast mode's
             threshold is calibrated on it (benchmarks/calibrate.py).

Content comes from imgval.synthetic.natural_image (1/f texture, hard-edged shapes, lines,
grain), so scores behave like photographs rather than flat colour or pure noise. Every file
depends only on its seed: running this twice gives identical bytes.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imgval.synthetic import blurred, natural_image  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "corpus"

MP20 = (5472, 3648)  # a 20 MP camera frame
MP24 = (6000, 4000)


def with_noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Sensor noise added after the optics: an out-of-focus photo is still grainy."""
    if sigma <= 0:
        return image
    rng = np.random.default_rng(10_000 + seed)
    noise = rng.normal(0, sigma, image.shape[:2]).astype(np.float32)[..., None]  # luminance grain
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def defocus(image: np.ndarray, sigma: float) -> np.ndarray:
    return blurred(image, sigma) if sigma > 0 else image


def write(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix, image, params or [])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    path.write_bytes(encoded.tobytes())


def tiff_params(lzw: bool) -> list[int]:
    compression = cv2.IMWRITE_TIFF_COMPRESSION_LZW if lzw else cv2.IMWRITE_TIFF_COMPRESSION_NONE
    return [cv2.IMWRITE_TIFF_COMPRESSION, compression]


def make_mixed(out: Path) -> list[Path]:
    """The speed corpus: 12 JPEG, 8 TIFF (8/16-bit x none/LZW), 4 PNG."""
    folder = out / "mixed"
    made = []
    # (seed, size, blur sigma, noise, quality)
    jpegs = [
        (101, MP20, 0, 0, 92), (102, MP24, 0, 2, 90), (103, MP20, 0, 0, 85), (104, MP24, 0, 0, 95),
        (105, MP20, 1.0, 2, 90), (106, MP24, 1.5, 0, 92), (107, MP20, 2.0, 2, 88), (108, MP24, 3.0, 0, 90),
        (109, MP20, 0, 1, 80), (110, MP24, 4.0, 2, 92), (111, MP20, 6.0, 0, 90), (112, MP20, 0.7, 1, 94),
    ]
    for seed, size, sigma, noise, quality in jpegs:
        path = folder / f"jpeg_{seed}_s{sigma:g}.jpg"
        if not path.exists():
            image = with_noise(defocus(natural_image(*size, seed=seed), sigma), noise, seed)
            write(path, image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        made.append(path)
    # TIFF masters: 8-bit and 16-bit, uncompressed and LZW, one of each pair out of focus
    for seed, size, bits, lzw, sigma in [
        (201, MP20, 8, False, 0), (202, MP20, 8, False, 2.5), (203, MP20, 8, True, 0), (204, MP20, 8, True, 1.5),
        (205, MP20, 16, False, 0), (206, MP20, 16, False, 3.0), (207, MP20, 16, True, 0), (208, MP20, 16, True, 1.0),
    ]:
        path = folder / f"tiff{bits}_{'lzw' if lzw else 'raw'}_{seed}_s{sigma:g}.tif"
        if not path.exists():
            image = defocus(natural_image(*size, seed=seed), sigma)
            if bits == 16:  # a scanner's 16-bit master: full range, low bits carry signal too
                image = image.astype(np.uint16) * 257 + np.random.default_rng(seed).integers(0, 200, image.shape,
                                                                                              dtype=np.uint16)
            write(path, image, tiff_params(lzw))
        made.append(path)
    for seed, sigma in [(301, 0), (302, 2.0), (303, 0), (304, 5.0)]:
        path = folder / f"png_{seed}_s{sigma:g}.png"
        if not path.exists():
            image = defocus(natural_image(4000, 3000, seed=seed), sigma)
            write(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        made.append(path)
    return made


MP22 = (5760, 3840)
WHOLE_VARIANTS = [(0, 0, 92), (0.8, 2, 88), (1.6, 0, 95), (3.0, 1, 85)]  # blur sigma, noise, quality


def make_whole(out: Path, thumbnails: int = 1000) -> list[Path]:
    """The whole-process sets: 48 distinct 22 MP JPEGs, and 64x64 thumbnails."""
    made = []
    for scene in range(12):
        base = None
        for variant, (sigma, noise, quality) in enumerate(WHOLE_VARIANTS):
            path = out / "whole" / "jpeg" / f"w{scene:02d}_{variant}_s{sigma:g}.jpg"
            if not path.exists():
                if base is None:
                    base = natural_image(*MP22, seed=500 + scene)
                image = with_noise(defocus(base, sigma), noise, 500 + scene * 10 + variant)
                write(path, image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            made.append(path)
    folder = out / "whole" / "thumbs"
    for scene in range(thumbnails // 50):
        base = None
        for index in range(50):
            path = folder / f"t{scene:02d}_{index:02d}.jpg"
            if not path.exists():
                if base is None:
                    base = natural_image(640, 480, seed=700 + scene)
                y, x = (index // 10) * 80, (index % 10) * 56
                crop = cv2.resize(base[y:y + 256, x:x + 128 + index], (64, 64), interpolation=cv2.INTER_AREA)
                write(path, defocus(crop, (index % 4) * 0.6), [cv2.IMWRITE_JPEG_QUALITY, 80 + index % 15])
            made.append(path)
    return made


LABELLED_SIGMAS = (0, 0.5, 0.8, 1.1, 1.5, 2.0, 2.8, 4.0, 6.0)
LABELLED_BASES = [  # seed, (width, height): several sizes, since fast mode's decode scale depends on size
    (401, MP24), (402, MP20), (403, (4608, 3456)), (404, (4032, 3024)), (405, (3264, 2448)),
    (406, (2592, 1944)), (407, (1920, 1280)), (408, (5472, 3648)),
]


def make_labelled(out: Path) -> list[Path]:
    """Calibration set: every base at every blur, with noise on alternate files."""
    folder = out / "labelled"
    folder.mkdir(parents=True, exist_ok=True)
    rows, made = [], []
    for index, (seed, size) in enumerate(LABELLED_BASES):
        base = None
        for j, sigma in enumerate(LABELLED_SIGMAS):
            noise = 2.0 if (index + j) % 2 else 0.0
            tiff = seed == 405 and j % 3 == 0  # a few TIFFs, so the calibration is not JPEG-only
            path = folder / f"l{seed}_{size[0]}x{size[1]}_s{sigma:g}_n{noise:g}.{'tif' if tiff else 'jpg'}"
            if not path.exists():
                if base is None:
                    base = natural_image(*size, seed=seed)
                image = with_noise(defocus(base, sigma * max(size) / 6000), noise, seed * 10 + j)
                write(path, image, tiff_params(True) if tiff else [cv2.IMWRITE_JPEG_QUALITY, 88 + (j % 3) * 3])
            rows.append({"file": path.name, "sigma_24mp": sigma, "noise": noise})
            made.append(path)
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "sigma_24mp", "noise"])
        writer.writeheader()
        writer.writerows(rows)
    return made


PHOTOS_COLOUR = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                 "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg")
PHOTOS_GRAY = ("camera.png", "brick.png", "grass.png", "gravel.png", "coins.png", "moon.png")


def make_photos(out: Path) -> list[Path]:
    """Real photographs from scikit-image's bundled data, re-encoded (skipped without it)."""
    try:
        import skimage
    except ImportError:
        print("scikit-image is not installed: no photos/ set (pip install scikit-image to add it)")
        return []
    source = Path(skimage.__file__).parent / "data"
    folder = out / "photos"
    made = []
    for name in PHOTOS_COLOUR + PHOTOS_GRAY:
        image = cv2.imread(str(source / name), cv2.IMREAD_COLOR if name in PHOTOS_COLOUR else cv2.IMREAD_GRAYSCALE)
        stem = Path(name).stem
        variants = [(f"{stem}_q75.jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75]),
                    (f"{stem}_q90.jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90]),
                    (f"{stem}_q97.jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 97]),
                    (f"{stem}.png", image, None),
                    (f"{stem}_s1.jpg", blurred(image, 1.0), [cv2.IMWRITE_JPEG_QUALITY, 90]),
                    (f"{stem}_s2.jpg", blurred(image, 2.0), [cv2.IMWRITE_JPEG_QUALITY, 90])]
        for filename, pixels, params in variants:
            path = folder / filename
            if not path.exists():
                write(path, pixels, params)
            made.append(path)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus folder [%(default)s]")
    parser.add_argument("--only", choices=["mixed", "labelled", "photos", "whole"], help="make one set only")
    args = parser.parse_args()
    start = time.perf_counter()
    made = []
    if args.only in (None, "mixed"):
        made += make_mixed(args.out)
    if args.only in (None, "labelled"):
        made += make_labelled(args.out)
    if args.only in (None, "whole"):
        made += make_whole(args.out)
    if args.only in (None, "photos"):
        made += make_photos(args.out)
    size = sum(p.stat().st_size for p in made)
    print(f"{len(made)} files, {size / 1e6:.0f} MB in {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
