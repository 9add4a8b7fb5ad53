"""Files found by fuzzing that crashed a decoder or were judged wrongly: each gets its error row
now, in every mode, in the scan and in the HTML report's previews. A file that crashed is
analysed in a process of its own, so a crash fails the test instead of ending the suite."""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT

PROBE = """
import json, sys
from imgval.analysis.analyze import Settings, analyze_path
from imgval.report.thumbnails import blur_map_preview, file_preview
record = analyze_path(sys.argv[1], Settings())
previews = [file_preview(sys.argv[1]), blur_map_preview(sys.argv[1], Settings(keep_pixels=True))]
print(json.dumps({"error": record.error, "previews": [p is not None for p in previews]}))
"""


def bmp(mode: str, width: int | None = None, height: int | None = None) -> bytes:
    """An uncompressed 80x64 BMP with its width or height field damaged (the pixel data as it was)."""
    pixels = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    if width is not None:
        struct.pack_into("<i", data, 18, width)
    if height is not None:
        struct.pack_into("<i", data, 22, height)
    return bytes(data)


# imagecodecs' BMP decoder (the last of three readers asked) read past the file's end for these
DAMAGED_BMPS = {
    "taller.bmp": lambda: bmp("RGB", height=55_360),  # 80x55,360 pixels in a 15 KB file
    "wider.bmp": lambda: bmp("RGB", width=48_464),
    "taller_32bit.bmp": lambda: bmp("RGBA", height=34_368),
    "upside_down.bmp": lambda: bmp("RGB", height=-55_360),  # a top-down BMP: a negative height
}


@pytest.mark.parametrize("name", DAMAGED_BMPS)
def test_a_bmp_whose_rows_reach_past_its_end_is_an_error_not_a_crash(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(DAMAGED_BMPS[name]())
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, f"the analysis died (exit code {result.returncode}): {result.stderr[-2000:]}"
    found = json.loads(result.stdout)
    assert found["error"].startswith(("truncated or corrupt BMP data", "image too large")), found["error"]
    assert found["previews"] == [False, False]


def cmyk_jpeg_with_a_stray_marker() -> bytes:
    from imgval.synthetic import natural_image
    picture = natural_image(320, 240, seed=5)
    buffer = io.BytesIO()
    Image.fromarray(picture if picture.ndim == 3 else np.dstack([picture] * 3)).convert("CMYK").save(
        buffer, "JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    scan = data.index(b"\xff\xda")
    middle = scan + (len(data) - scan) // 3
    data[middle:middle + 2] = b"\xff\xd0"  # a restart marker where none belongs: the rest of the scan is lost
    return bytes(data)


@pytest.mark.parametrize("mode", ["default", "fast", "exact"])
def test_a_damaged_cmyk_jpeg_is_an_error_not_a_grey_filled_picture(mode):
    """CMYK JPEGs are OpenCV's to decode (its colour conversion is the original tool's), and
    OpenCV fills what a damaged scan lacks with grey: a fuzzed one scored 0.05, no error."""
    import cv2

    from imgval.analysis.analyze import Settings, analyze_bytes
    data = cmyk_jpeg_with_a_stray_marker()
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) is not None  # the premise
    record = analyze_bytes("cmyk.jpg", data, Settings(mode=mode))
    assert record.error.startswith("truncated or corrupt JPEG data"), record.error
    assert record.score is None


@pytest.mark.parametrize("mode", ["default", "fast", "exact"])
def test_an_undamaged_cmyk_jpeg_is_still_read(mode):
    from imgval.analysis.analyze import Settings, analyze_bytes
    from imgval.synthetic import natural_image
    picture = natural_image(320, 240, seed=5)
    buffer = io.BytesIO()
    Image.fromarray(picture if picture.ndim == 3 else np.dstack([picture] * 3)).convert("CMYK").save(buffer, "JPEG")
    record = analyze_bytes("cmyk.jpg", buffer.getvalue(), Settings(mode=mode))
    assert record.error == "" and record.score is not None


@pytest.mark.parametrize("mode", ["default", "fast", "exact"])
def test_an_animated_png_cut_off_in_a_later_frame_is_truncated_in_every_mode(mode):
    """Its first frame is whole, and OpenCV's colour read returned it: the exact mode scored a
    file the default mode called truncated (found by fuzzing)."""
    from imgval.analysis.analyze import Settings, analyze_bytes
    from imgval.synthetic import natural_image
    picture = natural_image(320, 240, seed=5)
    frame = Image.fromarray(picture if picture.ndim == 3 else np.dstack([picture] * 3)).convert("RGB")
    buffer = io.BytesIO()
    frame.save(buffer, "PNG", save_all=True, append_images=[frame.rotate(5), frame.rotate(10)])
    data = buffer.getvalue()
    cut = data[:data.index(b"fdAT") + 500]
    record = analyze_bytes("anim.png", cut, Settings(mode=mode))
    assert record.error == "truncated PNG data (the file ends before its IEND chunk)", record.error


@pytest.mark.parametrize("mode", ["default", "fast", "exact"])
def test_an_animated_png_with_broken_image_data_is_corrupt_in_every_mode(mode):
    """Four bytes of its first IDAT zeroed: libpng and Pillow refuse it, OpenCV's read returned a
    picture, and the scan scored it (found by fuzzing: 23 such files, conformance saying their
    IDAT's CRC was wrong)."""
    import cv2

    from imgval.analysis.analyze import Settings, analyze_bytes
    from imgval.synthetic import natural_image
    picture = natural_image(160, 120, seed=11)
    frame = Image.fromarray(picture if picture.ndim == 3 else np.dstack([picture] * 3)).convert("RGB")
    buffer = io.BytesIO()
    frame.save(buffer, "PNG", save_all=True, append_images=[frame.rotate(5), frame.rotate(10)])
    data = bytearray(buffer.getvalue())
    image_data = data.index(b"IDAT") + 8
    data[image_data:image_data + 4] = bytes(4)
    assert cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR) is not None  # the premise
    record = analyze_bytes("anim.png", bytes(data), Settings(mode=mode))
    assert record.error.startswith("truncated or corrupt PNG data"), record.error
    assert record.score is None
