"""A labelled conformance corpus, built in memory: valid files of every checked format in the
layouts real writers produce (libjpeg, libtiff, libpng, OpenJPEG, libwebp, Pillow, tifffile),
made from real photographs (scikit-image's sample data), and every defect the checks look for,
made deliberately in copies of them. Each file carries the verdict it must get and a few words
an issue must contain, so a defect counts as found only when it is found for its own reason.

The layouts are in layouts.py, the defects in defects.py. Needs scikit-image (the
photographs); imgval.analysis.conformance.evaluate runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from imgval.analysis.conformance.defects import DEFECTS
from imgval.analysis.conformance.issues import WELL_FORMED_AND_VALID
from imgval.analysis.conformance.layouts import LAYOUTS

__all__ = ["DEFECTS", "LAYOUTS", "PHOTOGRAPHS", "Sample", "corpus", "package_files", "photographs"]

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "camera")  # skimage.data; camera is greyscale


@dataclass(frozen=True)
class Sample:
    name: str  # format/layout/photo, plus +defect for a damaged copy
    format: str
    data: bytes
    expected: str  # the verdict it must get
    expected_issue: str = ""  # words one of its issues must contain ("" for valid files)


def photographs(names=PHOTOGRAPHS, max_side: int = 512) -> list[tuple[str, np.ndarray]]:
    """RGB photographs from skimage.data, shrunk so the longer side is at most max_side."""
    import skimage.data

    photos = []
    for name in names:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.dstack([image] * 3)
        scale = min(1.0, max_side / max(image.shape[:2]))
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        photos.append((name, np.ascontiguousarray(image[:, :, :3])))
    return photos


# (package, folder inside it) of image files installed packages ship
PACKAGE_FOLDERS = (("skimage", "data"), ("sklearn", "datasets/images"), ("matplotlib", "mpl-data"))
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".jp2", ".j2k")


def package_files() -> list[Sample]:
    """The image files installed packages ship (scikit-image's sample data, scikit-learn's
    sample photographs, matplotlib's sample data and icons): real files from real writers,
    taken as valid. Packages that are not installed are skipped."""
    import importlib.util
    from pathlib import Path

    from imgval.analysis.conformance import format_of

    samples = []
    for package, folder in PACKAGE_FOLDERS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(spec.submodule_search_locations[0]) / folder
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in _EXTENSIONS):
            data = path.read_bytes()
            fmt = format_of(data)
            if fmt:
                samples.append(Sample(f"{package}/{path.relative_to(root)}", fmt, data, WELL_FORMED_AND_VALID))
    return samples


def corpus(photos: list[tuple[str, np.ndarray]]) -> Iterator[Sample]:
    """Every valid file, then every applicable defect of each."""
    for photo_name, rgb in photos:
        for fmt, layouts in LAYOUTS.items():
            for layout, make in layouts.items():
                data = make(rgb)
                name = f"{fmt}/{layout}/{photo_name}"
                yield Sample(name, fmt, data, WELL_FORMED_AND_VALID)
                for defect, (damage, expected, words) in DEFECTS[fmt].items():
                    damaged = damage(data)
                    if damaged is not None:
                        yield Sample(f"{name}+{defect}", fmt, damaged, expected, words)
