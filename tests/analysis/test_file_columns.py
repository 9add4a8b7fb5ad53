"""Columns archive tools report (issue 12, point 8): file size, colour mode and channels, bit
depth, compression and the ICC profile's description, from real files written by Pillow and
OpenCV; files skipped as non-images are counted; --include-ext takes more extensions."""
from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image, ImageCms

from imgval.synthetic import natural_image

from tests.conftest import ROOT, run_script


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_batch(folder):
    folder.mkdir()
    rgb = Image.fromarray(natural_image(320, 240, seed=3)[:, :, ::-1].copy())
    rgb.save(folder / "progressive.jpg", "JPEG", progressive=True, icc_profile=srgb_icc())
    rgb.save(folder / "baseline.jpg", "JPEG")
    rgb.convert("CMYK").save(folder / "cmyk.jpg", "JPEG")
    rgb.save(folder / "lzw.tif", "TIFF", compression="tiff_lzw")
    rgb.save(folder / "plain.tif", "TIFF")
    rgb.convert("RGBA").save(folder / "alpha.png", "PNG")
    gray16 = (np.asarray(rgb.convert("L"), np.uint16) * 257)
    Image.fromarray(gray16).save(folder / "gray16.png", "PNG")
    rgb.convert("P").save(folder / "palette.gif", "GIF")
    rgb.save(folder / "lossless.webp", "WEBP", lossless=True)
    rgb.save(folder / "lossy.webp", "WEBP", quality=80)
    rgb.save(folder / "plain.bmp", "BMP")
    rgb.save(folder / "photo.jfif", "JPEG")  # a JPEG under an extension the scan does not take by default
    rgb.convert("L").save(folder / "scan.pgm")  # a format imgval does not decode at all
    (folder / "scan.xmp").write_text("<x:xmpmeta/>")
    (folder / "raw.CR2").write_bytes(b"II*\x00raw")
    (folder / "README").write_text("sidecar")
    return folder


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {r["filepath"].rsplit("/", 1)[-1]: r for r in csv.DictReader(handle)}


EXPECTED = {  # file: (mode, channels, bit_depth, compression)
    "progressive.jpg": ("RGB", "3", "8", "JPEG progressive"),
    "baseline.jpg": ("RGB", "3", "8", "JPEG baseline"),
    "cmyk.jpg": ("CMYK", "4", "8", "JPEG baseline"),
    "lzw.tif": ("RGB", "3", "8", "LZW"),
    "plain.tif": ("RGB", "3", "8", "none"),
    "alpha.png": ("RGBA", "4", "8", "Deflate"),
    "gray16.png": ("I;16", "1", "16", "Deflate"),
    "palette.gif": ("P", "1", "8", "LZW"),
    "lossless.webp": ("RGB", "3", "8", "WebP lossless"),
    "lossy.webp": ("RGB", "3", "8", "WebP lossy"),
    "plain.bmp": ("RGB", "3", "8", "none"),
}


def test_size_mode_channels_depth_compression_and_icc(tmp_path):
    batch = make_batch(tmp_path / "batch")
    result = run_script(str(ROOT / "process.py"), "batch", "-s", "r.csv", "--no-cache", "-j", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = rows(tmp_path / "r.csv")
    assert set(found) == set(EXPECTED)
    for name, (mode, channels, depth, compression) in EXPECTED.items():
        row = found[name]
        assert (row["mode"], row["channels"], row["bit_depth"], row["compression"]) == (mode, channels, depth,
                                                                                         compression), name
        assert int(row["file_size"]) == (batch / name).stat().st_size
    assert found["progressive.jpg"]["icc_profile"].startswith("sRGB")
    assert found["baseline.jpg"]["icc_profile"] == ""
    # the sidecars, the RAW file, the .jfif and the .pgm were skipped, and the summary says so
    assert "5 other files skipped (" in result.stdout and ".xmp 1" in result.stdout and ".cr2 1" in result.stdout
    assert "(no extension) 1" in result.stdout
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert meta["skipped"] == {"": 1, ".cr2": 1, ".jfif": 1, ".pgm": 1, ".xmp": 1}


def test_include_ext_adds_extensions(tmp_path):
    make_batch(tmp_path / "batch")
    result = run_script(str(ROOT / "process.py"), "batch", "-s", "r.csv", "--no-cache", "--include-ext", "JFIF,pgm",
                        "--include-ext", ".xmp,cr2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = rows(tmp_path / "r.csv")
    assert found["photo.jfif"]["error"] == "" and found["photo.jfif"]["format"] == "JPEG"
    assert found["photo.jfif"]["score"] and found["photo.jfif"]["compression"] == "JPEG baseline"
    assert found["scan.pgm"]["error"].startswith("not a supported image")  # taken, and reported for what it is
    assert found["scan.xmp"]["error"].startswith("not an image")  # taken, and reported for what it is
    assert "1 other file skipped ((no extension) 1)" in result.stdout


def test_unreadable_file_has_its_size_and_zero_for_what_is_unknown(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "text.jpg").write_text("not an image")
    run_script(str(ROOT / "process.py"), "in", "-s", "r.csv", "--no-cache", cwd=tmp_path, check=True)
    row = rows(tmp_path / "r.csv")["text.jpg"]
    assert row["file_size"] == "12" and row["channels"] == "0" and row["bit_depth"] == "0" and row["mode"] == ""
