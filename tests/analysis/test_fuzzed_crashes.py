"""Files found by fuzzing that crashed a decoder: each gets its error row now, in the scan and
in the HTML report's previews. Each is analysed in a process of its own, so a crash fails the
test instead of ending the suite."""
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
