"""One file -> one record: integrity verdicts, pixel limits, hashes; never an exception."""
import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from imgval.analysis.analyze import Settings, analyze_path
from imgval.synthetic import natural_image

from tests.conftest import write_image


@pytest.fixture(scope="module")
def picture():
    return natural_image(1800, 1300, seed=11)


def encode(image, ext, params=None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


def test_sharp_jpeg_gets_score_hash_size_and_format(tmp_path, picture):
    path = write_image(tmp_path / "a.jpg", picture)
    record = analyze_path(str(path), Settings())
    assert record.error == ""
    assert record.score > 100 and record.blurry is False
    assert len(record.hash) == 16 and int(record.hash, 16) >= 0
    assert (record.width, record.height, record.format) == (1800, 1300, "JPEG")


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp", ".bmp", ".jp2"])
def test_truncated_file_is_an_error_not_a_score(tmp_path, picture, ext):
    data = encode(picture, ext)
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    record = analyze_path(str(path), Settings())
    assert record.error, record
    assert record.score is None and record.blurry is None


def test_jpeg_with_corrupt_data_mid_stream_is_an_error(tmp_path, picture):
    data = bytearray(encode(picture, ".jpg"))
    start = len(data) // 2
    data[start:start + 64] = b"\xff\xd9" * 32  # an early end-of-image marker inside the scan
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    record = analyze_path(str(path), Settings())
    assert "corrupt" in record.error or "truncated" in record.error
    assert record.score is None


def test_truncated_gif_is_an_error(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(natural_image(400, 300, seed=6)[:, :, ::-1]).save(buffer, "GIF")
    path = tmp_path / "cut.gif"
    path.write_bytes(buffer.getvalue()[: buffer.tell() // 2])
    assert analyze_path(str(path), Settings()).error


def test_gif_and_heic_decode_through_pillow(tmp_path):
    import pillow_heif  # registered by imgval.analysis.decode
    small = natural_image(400, 300, seed=5)
    for fmt, name in [("GIF", "a.gif"), ("HEIF", "a.heic")]:
        buffer = io.BytesIO()
        Image.fromarray(small[:, :, ::-1]).save(buffer, fmt)
        (tmp_path / name).write_bytes(buffer.getvalue())
        record = analyze_path(str(tmp_path / name), Settings())
        assert record.error == "" and record.score > 0, (name, record.error)
    assert pillow_heif


def test_text_file_named_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    record = analyze_path(str(path), Settings())
    assert "not an image" in record.error and record.score is None


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert "empty" in analyze_path(str(path), Settings()).error


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a token of compressed zeros as its data:
    the shape of a decompression bomb (a few bytes that would inflate to gigabytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 65536)) + chunk(b"IEND", b"")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(15000, 10000))
    record = analyze_path(str(path), Settings(max_pixels=100_000_000))
    assert "too large" in record.error and "150 MP" in record.error
    assert (record.width, record.height) == (15000, 10000) and record.score is None
    # over twice the limit, Pillow's own guard refuses it while reading the header
    path.write_bytes(png_header_only(20000, 20000))
    record = analyze_path(str(path), Settings(max_pixels=100_000_000))
    assert "too large" in record.error and "400 MP" in record.error and record.score is None


def test_pixel_limit_is_the_users_choice(tmp_path, picture):
    path = write_image(tmp_path / "a.png", picture)
    assert analyze_path(str(path), Settings(max_pixels=1800 * 1300)).error == ""
    assert "too large" in analyze_path(str(path), Settings(max_pixels=1800 * 1300 - 1)).error


def test_missing_unreadable_and_special_files(tmp_path):
    assert "cannot read" in analyze_path(str(tmp_path / "gone.jpg"), Settings()).error
    os.mkfifo(tmp_path / "pipe.jpg")
    assert "not a regular file" in analyze_path(str(tmp_path / "pipe.jpg"), Settings()).error


def test_identical_pixels_share_a_hash_across_formats(tmp_path, picture):
    png = analyze_path(str(write_image(tmp_path / "a.png", picture)), Settings())
    tif = analyze_path(str(write_image(tmp_path / "a.tif", picture)), Settings())
    other = analyze_path(str(write_image(tmp_path / "b.png", natural_image(1800, 1300, seed=12))), Settings())
    assert png.hash == tif.hash != other.hash


def test_exif_orientation_is_applied_before_hashing(tmp_path, picture):
    upright = tmp_path / "upright.jpg"
    Image.fromarray(picture[:, :, ::-1]).save(upright, quality=95)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; viewers rotate it 90 degrees clockwise
    Image.fromarray(np.ascontiguousarray(np.rot90(picture, 1)[:, :, ::-1])).save(rotated, quality=95, exif=exif)
    a, b = analyze_path(str(upright), Settings()), analyze_path(str(rotated), Settings())
    assert (b.width, b.height) == (1300, 1800)  # as stored
    distance = bin(int(a.hash, 16) ^ int(b.hash, 16)).count("1")
    assert distance <= 4
    assert b.score == pytest.approx(a.score, rel=0.05)
