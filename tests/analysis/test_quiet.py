"""Decoder chatter stays off the terminal: the C libraries behind the decoders (libpng, libjpeg,
libtiff) print what they find wrong in a damaged file straight to stderr, while the file's row
says it already (analysis/quiet.py). Errors are one line each."""
from __future__ import annotations

import csv
import io
import subprocess
import sys

import cv2
import numpy as np
import pytest

from imgval import hostile
from imgval.analysis import decode
from imgval.synthetic import natural_image

from tests.conftest import ROOT, run_script

# what the libraries print for the files below (seen on a fuzzed corpus: ~700 such lines for
# 2,400 files)
CHATTER = ("libpng", "Corrupt JPEG data", "tempfile.tif", "LZWDecode", "ZIPDecode", "Using code not yet in table")


def damaged_files(folder) -> dict[str, bytes]:
    picture = natural_image(256, 192, seed=4)
    rgb = picture if picture.ndim == 3 else np.dstack([picture] * 3)
    png = bytearray(cv2.imencode(".png", rgb)[1].tobytes())
    png[len(png) // 2:len(png) // 2 + 32] = bytes(32)  # IDAT data and its CRC broken
    jpeg = cv2.imencode(".jpg", rgb)[1].tobytes()
    start = jpeg.index(b"\xff\xdb")  # junk before the quantisation table: libjpeg warns of it
    jpeg = jpeg[:start] + b"\x00" * 68 + jpeg[start:]
    files = {"png.png": bytes(png), "jpeg.jpg": jpeg, "lzw.tif": hostile.lzw_tiff_with_bad_code(rgb)}
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def chatter_in(text: str, folder) -> list[str]:
    """Lines of the libraries' chatter: not imgval's own warnings about a file of the folder,
    which may quote a library's message in the row's error."""
    return [line for line in text.splitlines()
            if any(word in line for word in CHATTER) and str(folder) not in line]


def test_the_damaged_files_make_the_libraries_chatter(tmp_path):
    """The premise: without imgval's silencing, decoding these files prints to stderr."""
    folder = tmp_path / "in"
    damaged_files(folder)
    probe = ("import sys, cv2, numpy as np\n"
             "from PIL import Image\n"
             "for name in sys.argv[1:]:\n"
             "    data = open(name, 'rb').read()\n"
             "    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)\n"
             "    try:\n"
             "        Image.open(name).load()\n"
             "    except Exception:\n"
             "        pass\n")
    result = subprocess.run([sys.executable, "-c", probe, *map(str, sorted(folder.iterdir()))],
                            capture_output=True, text=True, timeout=120)
    assert len({word for word in CHATTER if word in result.stderr}) >= 3, result.stderr


@pytest.mark.parametrize("script, extra", [("process.py", ["--html", "report.html"]), ("process_blur.py", [])])
def test_a_scan_of_damaged_files_prints_no_decoder_chatter(tmp_path, script, extra):
    folder = tmp_path / "in"
    files = damaged_files(folder)
    out = tmp_path / "results.csv"
    result = run_script(str(ROOT / script), "-i", str(folder), "-s", str(out), "--no-cache" if script == "process.py"
                        else "-v", *extra, cwd=tmp_path)
    assert result.returncode in (0, 3), result.stderr
    assert chatter_in(result.stderr, folder) == []
    with open(out, newline="") as handle:
        rows = {row.get("filepath") or row.get("input_path"): row for row in csv.DictReader(handle)}
    assert len(rows) == len(files)
    # the PNG and the TIFF are unreadable (the JPEG's junk between markers spoils no pixel) ...
    unreadable = [path for path, row in rows.items() if row["error"]]
    assert sorted(path.rsplit("/", 1)[-1] for path in unreadable) == ["lzw.tif", "png.png"]
    # ... and imgval's own warnings of them still reach stderr
    assert all(path in result.stderr for path in unreadable)


def test_stderr_is_silenced_only_inside_and_restored_after():
    probe = ("import os, sys, threading\n"
             "from imgval.analysis.quiet import stderr_silenced\n"
             "os.write(2, b'before\\n')\n"
             "with stderr_silenced():\n"
             "    os.write(2, b'inside\\n')\n"
             "    print('python inside', file=sys.stderr)\n"
             "    with stderr_silenced():\n"
             "        os.write(2, b'nested\\n')\n"
             "    os.write(2, b'after nested\\n')\n"
             "    t = threading.Thread(target=lambda: (stderr_silenced().__enter__(), None))\n"
             "os.write(2, b'after\\n')\n"
             "print('python after', file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(ROOT)})
    assert result.stderr.splitlines() == ["before", "after", "python after"], result.stderr


def test_a_librarys_multi_line_message_makes_a_one_line_error():
    assert str(decode.DecodeError("truncated or corrupt HEIF data: Invalid input:\nend of file\n")) == \
        "truncated or corrupt HEIF data: Invalid input: end of file"


def test_a_damaged_heif_file_has_a_one_line_error(tmp_path):
    from PIL import Image

    from imgval.analysis.analyze import Settings, analyze_bytes
    buffer = io.BytesIO()
    try:
        Image.fromarray(natural_image(256, 192, seed=3)).convert("RGB").save(buffer, "HEIF", quality=70)
    except (KeyError, OSError):
        pytest.skip("no HEIF encoder here")
    data = buffer.getvalue()
    record = analyze_bytes("cut.heic", data[:len(data) // 2], Settings())
    assert record.error.startswith("truncated or corrupt HEIF data")
    assert "\n" not in record.error and record.error == record.error.strip()
