"""Which file names are images: what a scan takes from a folder and a sync copies by default."""
from __future__ import annotations

from pathlib import PurePath

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".webp", ".bmp", ".gif", ".heic", ".heif"}
)


def is_image_name(name: str) -> bool:
    """True when the name ends in an image extension, whatever its case."""
    return PurePath(name).suffix.lower() in IMAGE_EXTENSIONS
