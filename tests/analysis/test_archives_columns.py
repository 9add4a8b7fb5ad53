"""PRONOM identification (puid, mime, ext_mismatch) and the md5 fixity column, from the one read."""
import csv
import hashlib
import io

import cv2
import numpy as np
import pytest

from PIL import Image

from imgval.cli import exitcodes
from imgval.analysis.analyze import Settings, analyze_bytes, analyze_path
from imgval.analysis.pronom import extension_mismatch, identify
from imgval.synthetic import natural_image

from tests.conftest import ROOT, run_script, write_image


def encoded(ext: str, image=None) -> bytes:
    image = natural_image(64, 48, seed=4) if image is None else image
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def gif_bytes() -> bytes:  # OpenCV cannot write GIF
    buffer = io.BytesIO()
    Image.fromarray(natural_image(64, 48, seed=4)).save(buffer, "GIF")
    return buffer.getvalue()


@pytest.mark.parametrize("ext, puid, mime", [
    (".jpg", "fmt/43", "image/jpeg"),
    (".tif", "fmt/353", "image/tiff"),
    (".jp2", "x-fmt/392", "image/jp2"),
    (".png", "fmt/11", "image/png"),   # PRONOM's PNG 1.0: what libpng writes without 1.2's chunks
    (".gif", "fmt/3", "image/gif"),  # GIF 87a: what Pillow writes for a still image
    (".bmp", "fmt/116", "image/bmp"),
    (".webp", "fmt/567", "image/webp"),  # PRONOM has no MIME type for WebP: Python's registry's
])
def test_formats_are_identified_from_their_bytes(ext, puid, mime):
    found = identify(gif_bytes() if ext == ".gif" else encoded(ext))
    assert (found.puid, found.mime) == (puid, mime)


def test_identification_uses_the_bytes_not_the_name():
    png = encoded(".png")
    record = analyze_bytes("scan_001.jpg", png, Settings())
    assert record.puid == "fmt/11" and record.mime == "image/png"
    assert record.ext_mismatch is True
    assert analyze_bytes("scan_001.PNG", png, Settings()).ext_mismatch is False
    assert analyze_bytes("scan_001.jpeg", encoded(".jpg"), Settings()).ext_mismatch is False
    assert analyze_bytes("scan_001.tiff", encoded(".tif"), Settings()).ext_mismatch is False


def test_unidentified_bytes_have_no_puid_and_no_mismatch_verdict():
    found = identify(b"just some notes, not an image\n" * 20)
    assert found.puid == "" and found.mime == ""
    assert extension_mismatch("notes.jpg", found) is None
    assert identify(b"").puid == ""
    assert extension_mismatch("no_extension", identify(encoded(".jpg"))) is None


def test_broken_files_keep_their_identification_and_checksums():
    png = bytearray(encoded(".png", natural_image(400, 300, seed=5)))
    png[len(png) // 2:len(png) // 2 + 64] = bytes(64)  # corrupt data, start and end intact
    record = analyze_bytes("damaged.png", bytes(png), Settings(checksums=("sha256", "md5")))
    assert record.error
    assert record.puid == "fmt/11"
    assert record.md5 == hashlib.md5(png).hexdigest()
    # PRONOM's JPEG signatures need the end-of-image marker: a cut-off JPEG matches none (as
    # in DROID), but still has its checksums and its error.
    truncated = encoded(".jpg", natural_image(400, 300, seed=5))[:3000]
    record = analyze_bytes("cut.jpg", truncated, Settings(checksums=("sha256", "md5")))
    assert record.error and record.puid == "" and record.ext_mismatch is None
    assert record.md5 == hashlib.md5(truncated).hexdigest()


def test_md5_only_when_asked_and_from_the_same_bytes(tmp_path):
    path = write_image(tmp_path / "a.png", natural_image(64, 48, seed=6))
    data = path.read_bytes()
    plain = analyze_path(str(path), Settings())
    both = analyze_path(str(path), Settings(checksums=("sha256", "md5")))
    assert plain.md5 == "" and plain.sha256 == hashlib.sha256(data).hexdigest()
    assert both.md5 == hashlib.md5(data).hexdigest() and both.sha256 == plain.sha256
    with pytest.raises(ValueError, match="sha1"):
        Settings(checksums=("sha1",))


@pytest.mark.parametrize("damaged", [False, True])
def test_checksums_hashed_beside_the_decode_are_the_same(damaged):
    """A large file's checksums may be hashed on a second thread while it is decoded (when a
    core is free): the record is the same either way, for a readable and a damaged file."""
    from imgval.analysis import analyze
    rng = np.random.default_rng(3)
    data = bytearray(encoded(".png", rng.integers(0, 256, (1400, 1400, 3), dtype=np.uint8)))
    assert len(data) >= analyze.HASH_BESIDE_FROM_BYTES
    if damaged:
        data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    settings = Settings(checksums=("sha256", "md5"))
    try:
        analyze.hash_beside_when(lambda: True)
        beside = analyze_bytes("big.png", bytes(data), settings)
    finally:
        analyze.hash_beside_when(lambda: False)
    inline = analyze_bytes("big.png", bytes(data), settings)
    assert beside == inline
    assert beside.sha256 == hashlib.sha256(data).hexdigest() and beside.md5 == hashlib.md5(data).hexdigest()
    assert bool(beside.error) == damaged


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_scan_writes_puid_mime_mismatch_and_md5_columns(tmp_path):
    batch = tmp_path / "batch"
    write_image(batch / "photo.jpg", natural_image(80, 60, seed=7))
    (batch / "renamed.tif").write_bytes(encoded(".png"))
    (batch / "notes.jpg").write_text("not an image")
    out = tmp_path / "r.csv"
    result = run_script(str(ROOT / "process.py"), "-i", str(batch), "-s", str(out), "--hash", "sha256,md5",
                        "--no-cache", "-j", "1", cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    rows = {row["filepath"].rsplit("/", 1)[-1]: row for row in read_csv(out)}
    assert (rows["photo.jpg"]["puid"], rows["photo.jpg"]["mime"], rows["photo.jpg"]["ext_mismatch"]) == (
        "fmt/43", "image/jpeg", "False")
    assert (rows["renamed.tif"]["puid"], rows["renamed.tif"]["ext_mismatch"]) == ("fmt/11", "True")
    # not identified: no verdict, and the boolean stays pandas-safe (False; the empty puid says why)
    assert rows["notes.jpg"]["puid"] == "" and rows["notes.jpg"]["ext_mismatch"] == "False"
    for name, row in rows.items():
        assert row["md5"] == hashlib.md5((batch / name).read_bytes()).hexdigest()
    # Without --hash md5 the column is there and empty.
    run_script(str(ROOT / "process.py"), "-i", str(batch), "-s", str(out), "--no-cache", cwd=tmp_path, check=True)
    assert {row["md5"] for row in read_csv(out)} == {""}


def test_unknown_checksum_is_a_usage_error(tmp_path):
    write_image(tmp_path / "a.png", natural_image(64, 48, seed=6))
    result = run_script(str(ROOT / "process.py"), "-i", str(tmp_path / "a.png"), "--hash", "sha256,crc32",
                        cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE
    assert "--hash" in result.stderr and "crc32" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results.csv").exists()
