"""The labelled set the sharpness measure is evaluated on: real photographs pip packages ship,
with realistic blur and realistic sharp traps, saved as real JPEG and PNG files.

Sources (each one group: its variants are never on both sides of a cross-validation split):
scikit-image's `skimage.data` photographs, scikit-learn's sample images, matplotlib's sample
photograph, PyWavelets' aerial photograph and stairs, and the project's own samples/ (generated
scenes, the only originals over 1 MP besides retina). Sources whose package is not installed are
left out and named in the evaluation's output. Larger originals also give native-resolution
crops (each a base of its own, in its source's group).

Every base gets blurred variants (defocus disk, linear motion at a random angle, Gaussian; with
sensor noise added after the blur), applied in linear light with strengths defined at viewing
size, and sharp traps (downscales to 50% and 25%, JPEG q60, added noise, a dim flat copy and a
washed-out one, a small native crop). Thumbnails of every source at short sides 48..256 px,
sharp and blurred at their own size, are the measurement the too-small limit is decided from.

Build it:  python -m imgval.analysis.sharpness_corpus DIR   (or let sharpness_eval build it)
"""
from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

VIEW_PIXELS = 1_000_000  # as analysis.sharpness.VIEW_PIXELS: blur strengths are defined at this size
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MANIFEST = "labels.csv"
THUMBNAIL_SIDES = (48, 64, 96, 128, 160, 192, 256)


# ---------------------------------------------------------------- sources: real photographs

def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load():
        import skimage.data
        return getattr(skimage.data, name)()
    return load


def _motorcycle():
    import skimage.data
    return skimage.data.stereo_motorcycle()[0]


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load():
        from sklearn.datasets import load_sample_image
        return load_sample_image(name)
    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load():
        import matplotlib.cbook
        with matplotlib.cbook.get_sample_data(name) as file:
            data = np.frombuffer(file.read(), np.uint8)
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return load


def _pywt(name: str) -> Callable[[], np.ndarray]:
    def load():
        import pywt.data
        return np.clip(getattr(pywt.data, name)(), 0, 255).astype(np.uint8)
    return load


def _sample(name: str) -> Callable[[], np.ndarray]:
    def load():
        return cv2.cvtColor(cv2.imread(str(SAMPLES / name)), cv2.COLOR_BGR2RGB)
    return load


# (name, loader, label of the original): only photographs, no drawings or synthetic patterns
SOURCES: tuple[tuple[str, Callable[[], np.ndarray]], ...] = tuple(
    [(f"skimage:{n}", _skimage(n)) for n in (
        "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text",
        "immunohistochemistry", "hubble_deep_field", "brick", "grass", "gravel", "retina")]
    + [("skimage:motorcycle", _motorcycle)]
    + [(f"sklearn:{n}", _sklearn(n)) for n in ("china.jpg", "flower.jpg")]
    + [("matplotlib:grace_hopper", _matplotlib("grace_hopper.jpg"))]
    + [(f"pywt:{n}", _pywt(n)) for n in ("aero", "ascent")]
    + [(f"samples:{n}", _sample(n)) for n in ("sharp.jpg", "no_exif.jpg", "future_date.jpg")]
)


def load_sources(names: list[str] | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """The sources that load here (RGB or gray uint8), and the names of those that did not."""
    loaded, missing = {}, []
    for name, load in SOURCES:
        if names is not None and name not in names:
            continue
        try:
            image = load()
        except Exception:  # the package is not installed, or does not ship that file
            missing.append(name)
            continue
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        loaded[name] = np.ascontiguousarray(image.astype(np.uint8))
    return loaded, missing


# ---------------------------------------------------------------- image operations

def viewing_scale(image: np.ndarray) -> float:
    """Viewing-size pixels per stored pixel (1 for images of at most VIEW_PIXELS)."""
    return min(1.0, float(np.sqrt(VIEW_PIXELS / (image.shape[0] * image.shape[1]))))


def to_linear(image: np.ndarray) -> np.ndarray:
    """sRGB-encoded uint8 -> linear light float32 in 0..1 (the sRGB transfer function)."""
    x = image.astype(np.float32) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0, 1)
    x = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def disk_kernel(radius: float) -> np.ndarray:
    """A defocused lens's point spread: a uniform disk (antialiased edge)."""
    size = int(np.ceil(radius)) * 2 + 3
    yy, xx = np.mgrid[:size, :size] - size // 2
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    return kernel / kernel.sum()


def motion_kernel(length: float, angle_degrees: float) -> np.ndarray:
    """Linear camera motion: a line of the given length (pixels) at the given angle."""
    size = int(np.ceil(length)) | 1
    size += 2
    kernel = np.zeros((size * 4, size * 4), np.float32)  # drawn 4x larger, then box-reduced
    centre, half = size * 2, length * 2
    dx, dy = np.cos(np.radians(angle_degrees)) * half, np.sin(np.radians(angle_degrees)) * half
    cv2.line(kernel, (int(round(centre - dx)), int(round(centre - dy))),
             (int(round(centre + dx)), int(round(centre + dy))), 1.0, 4, cv2.LINE_AA)
    kernel = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def blurred_linear(image: np.ndarray, kernel: np.ndarray | None = None, sigma: float = 0.0) -> np.ndarray:
    """image convolved in linear light (as optics blur light), back to sRGB uint8."""
    linear = to_linear(image)
    if kernel is not None:
        linear = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)
    else:
        linear = cv2.GaussianBlur(linear, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return to_srgb(linear)


def with_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor-like noise: mostly luminance (the same in every channel), a little chroma."""
    shape = image.shape[:2] + ((1,) if image.ndim == 3 else ())
    noise = rng.normal(0, sigma, shape)
    if image.ndim == 3:
        noise = noise + rng.normal(0, sigma / 3, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def resized(image: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, int(round(image.shape[1] * factor))), max(1, int(round(image.shape[0] * factor))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def dimmed(image: np.ndarray, contrast: float, level: float) -> np.ndarray:
    """A flat scan: contrast scaled about the mean, the mean moved to level (0..255)."""
    x = image.astype(np.float32)
    return np.clip((x - x.mean()) * contrast + level, 0, 255).round().astype(np.uint8)


# ---------------------------------------------------------------- variants

@dataclass(frozen=True)
class Variant:
    kind: str
    blurry: bool | None  # the label; None: documented only, never in accuracy or calibration
    make: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, str]]  # -> (pixels, detail)
    encoding: str = "jpg"  # jpg (q92 unless the variant says) or png


def _strength(image, low, high, rng):
    """A strength drawn at viewing size, in this image's stored pixels."""
    value = float(rng.uniform(low, high))
    return value, value / viewing_scale(image)


def _defocus(image, rng):
    radius, stored = _strength(image, 3, 8, rng)
    return blurred_linear(image, disk_kernel(stored)), f"disk radius {radius:.1f} px"


def _motion(image, rng):
    length, stored = _strength(image, 8, 24, rng)
    angle = float(rng.uniform(0, 180))
    return blurred_linear(image, motion_kernel(stored, angle)), f"motion {length:.1f} px at {angle:.0f} deg"


def _gaussian(image, rng):
    sigma, stored = _strength(image, 2, 5, rng)
    return blurred_linear(image, sigma=stored), f"gaussian sigma {sigma:.1f} px"


def _mild(image, rng):
    sigma, stored = _strength(image, 1.0, 1.5, rng)
    return blurred_linear(image, sigma=stored), f"gaussian sigma {sigma:.1f} px"


def _blur_and_noise(image, rng):
    blur = (_defocus, _motion, _gaussian)[int(rng.integers(3))]
    pixels, detail = blur(image, rng)
    sigma = float(rng.uniform(3, 10))
    return with_noise(pixels, sigma, rng), f"{detail}, noise sigma {sigma:.1f}"


def _original(image, rng):
    return image, "untouched"


def _down(factor):
    return lambda image, rng: (resized(image, factor), f"INTER_AREA {factor:.0%}")


def _noisy(image, rng):
    sigma = float(rng.uniform(4, 12))
    return with_noise(image, sigma, rng), f"noise sigma {sigma:.1f}"


def _dim(image, rng):
    contrast, level = float(rng.uniform(0.2, 0.4)), float(rng.uniform(35, 70))
    return dimmed(image, contrast, level), f"contrast x{contrast:.2f}, mean {level:.0f}"


def _washed(image, rng):
    contrast, level = float(rng.uniform(0.2, 0.4)), float(rng.uniform(170, 215))
    return dimmed(image, contrast, level), f"contrast x{contrast:.2f}, mean {level:.0f}"


def _small_crop(image, rng):
    height, width = image.shape[:2]
    side = int(rng.integers(200, 320))
    ch, cw = min(height, side * 3 // 4), min(width, side)
    top, left = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
    return image[top:top + ch, left:left + cw], f"native crop {cw}x{ch}"


VARIANTS = (
    Variant("original", False, _original, "png"),
    Variant("downscale 50%", False, _down(0.5)),
    Variant("downscale 25%", False, _down(0.25)),
    Variant("JPEG q60", False, _original, "jpg60"),
    Variant("noise", False, _noisy),
    Variant("dim flat", False, _dim),
    Variant("washed-out flat", False, _washed),
    Variant("small original", False, _small_crop),
    Variant("defocus", True, _defocus),
    Variant("motion", True, _motion),
    Variant("motion", True, _motion),
    Variant("gaussian", True, _gaussian),
    Variant("blur + noise", True, _blur_and_noise),
    Variant("blur + noise", True, _blur_and_noise),
    Variant("mild blur (sigma 1-1.5)", None, _mild),
)
SHARP_KINDS = tuple(dict.fromkeys(v.kind for v in VARIANTS if v.blurry is False))
BLURRED_KINDS = tuple(dict.fromkeys(v.kind for v in VARIANTS if v.blurry))


def bases(image: np.ndarray, rng: np.random.Generator, crop: int = 640) -> list[tuple[str, np.ndarray]]:
    """The source itself, plus native-resolution crops (crop x crop*3/4) of larger originals:
    two when its short side is at least 1.5 crops, one when it is at least one."""
    found = [("full", image)]
    height, width = image.shape[:2]
    ch, cw = crop * 3 // 4, crop
    count = 2 if min(height, width) >= 1.5 * crop else (1 if height >= ch and width >= cw and
                                                          height * width >= 2 * ch * cw else 0)
    for index in range(count):
        top, left = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
        found.append((f"crop{index + 1}", image[top:top + ch, left:left + cw]))
    return found


def _encode(pixels: np.ndarray, encoding: str) -> tuple[bytes, str]:
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if pixels.ndim == 3 else pixels
    if encoding == "png":
        ok, data = cv2.imencode(".png", bgr)
        return data.tobytes(), "png"
    quality = 60 if encoding == "jpg60" else 92
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes(), "jpg"


@dataclass(frozen=True)
class Entry:
    file: str
    source: str
    base: str
    kind: str
    blurry: bool | None
    detail: str
    width: int
    height: int


def _thumbnails(image, rng):
    """(kind, label, pixels, detail) for the too-small measurement: the whole photo reduced to
    each short side, sharp; blurred at that size (Gaussian sigma 2-4 px); and the thumbnail of
    the photo blurred at its viewing size (Gaussian sigma 2-5 px), labelled blurry: the photo
    is, whether its thumbnail still shows it or not."""
    _, photo_blur = _gaussian(image, rng)
    blurred_photo = blurred_linear(image, sigma=float(photo_blur.split()[-2]) / viewing_scale(image))
    for side in THUMBNAIL_SIDES:
        factor = side / min(image.shape[:2])
        if factor >= 1:
            continue
        small = resized(image, factor)
        yield f"thumbnail {side}", False, small, f"short side {side}"
        sigma = float(rng.uniform(2, 4))
        yield f"thumbnail {side}", True, blurred_linear(small, sigma=sigma), f"short side {side}, gaussian sigma {sigma:.1f}"
        yield (f"thumbnail {side}", True, resized(blurred_photo, factor),
               f"short side {side}, of the photo blurred by {photo_blur}")


def build(folder: Path, seed: int = 0, sources: list[str] | None = None,
          variants: tuple[Variant, ...] = VARIANTS, thumbnails: bool = True) -> tuple[list[Entry], list[str]]:
    """Write the labelled set into folder (JPEG/PNG files and labels.csv); returns its entries
    and the sources that could not be loaded."""
    folder.mkdir(parents=True, exist_ok=True)
    loaded, missing = load_sources(sources)
    entries: list[Entry] = []
    for number, (source, image) in enumerate(loaded.items()):
        rng = np.random.default_rng([seed, number])
        made = []
        for base, pixels in bases(image, rng):
            for variant in variants:
                result, detail = variant.make(pixels, rng)
                made.append((base, variant.kind, variant.blurry, result, detail, variant.encoding))
        if thumbnails:
            for kind, label, result, detail in _thumbnails(image, rng):
                made.append(("full", kind, label, result, detail, "jpg"))
        stem = source.replace(":", "_").replace(".", "_")
        for index, (base, kind, label, result, detail, encoding) in enumerate(made):
            data, ext = _encode(result, encoding)
            name = f"{stem}_{index:03d}.{ext}"
            (folder / name).write_bytes(data)
            entries.append(Entry(name, source, base, kind, label, detail, result.shape[1], result.shape[0]))
    with open(folder / MANIFEST, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(Entry.__dataclass_fields__)
        for e in entries:
            writer.writerow([e.file, e.source, e.base, e.kind, "" if e.blurry is None else int(e.blurry),
                             e.detail, e.width, e.height])
    return entries, missing


def read_manifest(folder: Path) -> list[Entry]:
    with open(folder / MANIFEST, newline="") as file:
        return [Entry(r["file"], r["source"], r["base"], r["kind"],
                      None if r["blurry"] == "" else r["blurry"] == "1", r["detail"],
                      int(r["width"]), int(r["height"])) for r in csv.DictReader(file)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    entries, missing = build(args.folder, args.seed)
    print(f"{len(entries)} files in {args.folder}" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
