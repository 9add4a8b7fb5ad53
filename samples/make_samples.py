#!/usr/bin/env python3
"""Regenerate the bundled samples (deterministic; keep the folder under 2 MB):

    python samples/make_samples.py

sharp.jpg / blurry.jpg    a photo in focus and one out of focus, with camera EXIF
duplicate_a.jpg / _b.jpg  one photo saved twice at different JPEG qualities (same pHash)
no_exif.jpg               a sharp image with no EXIF at all
future_date.jpg           EXIF DateTimeOriginal in 2099 (fails the default profile)
truncated.jpg             a JPEG cut off halfway through its data
not_an_image.jpg          a text file with an image name
"""
import io
from pathlib import Path

import cv2
from PIL import Image

from imgval.synthetic import blurred, natural_image

HERE = Path(__file__).resolve().parent


def camera_exif(date: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Example Camera Co", "Scanner 3000"  # Make, Model
    exif[0x011A], exif[0x011B], exif[0x0128] = 300, 300, 2  # X/YResolution, ResolutionUnit: inch
    exif.get_ifd(0x8769)[0x9003] = date  # DateTimeOriginal
    return exif


def save_jpeg(name: str, bgr, quality: int = 80, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(buffer, "JPEG", quality=quality,
                                                               exif=exif or Image.Exif())
    (HERE / name).write_bytes(buffer.getvalue())
    return buffer.getvalue()


def main() -> None:
    scene = natural_image(1700, 1200, seed=2024)
    save_jpeg("sharp.jpg", scene, exif=camera_exif("2025:06:01 10:30:00"))
    save_jpeg("blurry.jpg", blurred(natural_image(1700, 1200, seed=2025), 2.5), exif=camera_exif("2025:06:01 10:31:00"))
    other = natural_image(1600, 1250, seed=7)
    save_jpeg("duplicate_a.jpg", other, quality=85, exif=camera_exif("2025:06:02 09:00:00"))
    save_jpeg("duplicate_b.jpg", other, quality=70, exif=camera_exif("2025:06:02 09:00:00"))
    cv2.imwrite(str(HERE / "no_exif.jpg"), natural_image(1500, 1100, seed=9), [cv2.IMWRITE_JPEG_QUALITY, 80])
    save_jpeg("future_date.jpg", natural_image(1500, 1300, seed=11), exif=camera_exif("2099:01:01 00:00:00"))
    whole = save_jpeg("truncated.jpg", natural_image(1400, 1000, seed=13))
    (HERE / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (HERE / "not_an_image.jpg").write_text("This is a text file with an image's name.\n")


if __name__ == "__main__":
    main()
