"""What archive tools report about a file's encoding, read from its header (no pixels decoded):
channels, compression and the embedded ICC profile's description."""
from __future__ import annotations

import io

from PIL import Image

# Pillow's TIFF compression names -> the words of the TIFF specification
TIFF_COMPRESSION = {
    "raw": "none", "tiff_lzw": "LZW", "tiff_adobe_deflate": "Deflate", "tiff_deflate": "Deflate",
    "packbits": "PackBits", "jpeg": "JPEG", "tiff_jpeg": "JPEG (old-style)", "group3": "CCITT G3",
    "group4": "CCITT G4", "tiff_ccitt": "CCITT RLE", "tiff_raw_16": "none", "tiff_sgilog": "SGILog",
    "tiff_sgilog24": "SGILog24", "tiff_thunderscan": "ThunderScan", "lzma": "LZMA", "webp": "WebP",
    "zstd": "Zstandard", "jpeg2000": "JPEG 2000",
}
BMP_COMPRESSION = {0: "none", 1: "RLE8", 2: "RLE4", 3: "none (bit fields)", 4: "JPEG", 5: "PNG"}
FIXED_COMPRESSION = {"PNG": "Deflate", "GIF": "LZW", "JPEG2000": "JPEG 2000", "HEIF": "HEVC"}


def channels(mode: str) -> int | None:
    """Samples per pixel of a Pillow mode: 1 for L or P, 3 for RGB, 4 for RGBA or CMYK."""
    try:
        return Image.getmodebands(mode)
    except (KeyError, ValueError):
        return None


TIFFFILE_COMPRESSION = {"NONE": "none", "LZW": "LZW", "ADOBE_DEFLATE": "Deflate", "DEFLATE": "Deflate",
                        "PACKBITS": "PackBits", "JPEG": "JPEG", "OJPEG": "JPEG (old-style)", "CCITT_T4": "CCITT G3",
                        "CCITT_T6": "CCITT G4", "CCITTRLE": "CCITT RLE", "LZMA": "LZMA", "ZSTD": "Zstandard",
                        "WEBP": "WebP", "JPEG2000": "JPEG 2000"}


def _tiff_page(data: bytes):
    """The first page of a TIFF Pillow could not open (read by tifffile), or None."""
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages[0]
            icc = page.tags.get(34675)  # InterColorProfile
            return page.compression.name, icc.value if icc is not None else None
    except Exception:  # noqa: BLE001 - a header tifffile cannot read says nothing more here
        return None


def compression(image: Image.Image | None, data: bytes) -> str:
    """How the pixels are compressed, in the format's own words; "" when the header does not say.
    image is None for a file only a second-opinion decoder reads (odd TIFF layouts)."""
    if image is None:
        page = _tiff_page(data)
        return TIFFFILE_COMPRESSION.get(page[0], page[0].title()) if page else ""
    fmt = image.format
    if fmt == "JPEG":
        return "JPEG progressive" if image.info.get("progressive") or image.info.get("progression") else "JPEG baseline"
    if fmt == "TIFF":
        name = image.info.get("compression", "")
        return TIFF_COMPRESSION.get(name, name)
    if fmt == "BMP":
        return BMP_COMPRESSION.get(image.info.get("compression", 0), "other")
    if fmt == "WEBP":
        return "WebP lossless" if b"VP8L" in data[12:4096] else "WebP lossy"
    return FIXED_COMPRESSION.get(fmt, "")


def icc_description(image: Image.Image | None, data: bytes = b"") -> str:
    """The embedded ICC profile's description ("sRGB IEC61966-2.1", "Adobe RGB (1998)"), "" when
    there is none, or a plain note when the profile cannot be parsed."""
    if image is None:
        page = _tiff_page(data)
        icc = page[1] if page else None
    else:
        icc = image.info.get("icc_profile")
    if not icc:
        return ""
    try:
        from PIL import ImageCms

        description = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.profile_description
    except Exception:  # noqa: BLE001 - a damaged profile is a finding, not a failure
        return "embedded profile (unreadable)"
    return (description or "embedded profile (no description)").strip("\x00 \n")
