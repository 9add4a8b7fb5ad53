"""Which file names are images: what a scan takes from a folder and a sync copies by default."""
from __future__ import annotations

from pathlib import PurePath

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".webp", ".bmp", ".gif", ".heic", ".heif"}
)


def sorted_extensions(extensions=IMAGE_EXTENSIONS) -> list[str]:
    return sorted(ext.lstrip(".") for ext in extensions)


def extension_of(name: str) -> str:
    return PurePath(name).suffix.lower()


def is_image_name(name: str, extensions=IMAGE_EXTENSIONS) -> bool:
    """True when the name ends in an image extension, whatever its case."""
    return extension_of(name) in extensions


def with_extensions(extra) -> frozenset[str]:
    """IMAGE_EXTENSIONS plus `--include-ext` values ("jfif", ".JFIF" and "jfif,jpe" alike)."""
    added = {"." + e.strip().lstrip(".").lower() for value in extra for e in value.split(",") if e.strip(" .")}
    return IMAGE_EXTENSIONS | added
