"""Which decoder reads which file in the default mode, and that every route gives OpenCV's
luminance (within one level) and its integrity verdicts; and that a mapped file analyses
exactly as a read one."""
import io
import mmap
import os

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from imgval.analysis import decode, samples
from imgval.analysis.analyze import MODES, Settings, analyze_path
from imgval.analysis.filedata import byte_stream, read_input
from imgval.synthetic import natural_image


@pytest.fixture(scope="module")
def photo():
    return natural_image(900, 600, seed=31)


def opencv_gray(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def rgb16(bgr: np.ndarray) -> np.ndarray:
    """16-bit RGB with low-byte detail, as a 16-bit scan has."""
    noise = np.random.default_rng(5).integers(0, 256, bgr.shape, dtype=np.uint16)
    return bgr[:, :, ::-1].astype(np.uint16) * 256 + noise


def png_bytes(pixels: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes(bgr: np.ndarray) -> bytes:  # decoded through Pillow, from the probe's stream
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(buffer, "GIF")
    return buffer.getvalue()


def tiff_bytes(pixels: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, **options)
    return buffer.getvalue()


def spy_on_imagecodecs(monkeypatch) -> list:
    """Records each call to imagecodecs' decoders (the real ones still run); clear it between files."""
    calls = []
    for module, name in ((decode, "_PNG_DECODE"), (samples, "TIFF_DECODE")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k))
    return calls


def png_cases(photo):
    rgb = np.ascontiguousarray(photo[:, :, ::-1])
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    return {
        "rgb8": png_bytes(rgb),
        "rgba8": png_bytes(rgb, "RGBA"),
        "gray8": png_bytes(gray),
        "palette": png_bytes(rgb, "P"),
        "rgb16": cv2.imencode(".png", rgb16(photo)[:, :, ::-1])[1].tobytes(),  # OpenCV writes 16-bit BGR
    }


def tiff_cases(photo):
    rgb = np.ascontiguousarray(photo[:, :, ::-1])
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    return {
        "rgb8-lzw": cv2.imencode(".tif", photo)[1].tobytes(),  # OpenCV's default: LZW
        "rgb16-lzw": cv2.imencode(".tif", rgb16(photo)[:, :, ::-1])[1].tobytes(),
        "rgb8-zlib-tiled": tiff_bytes(rgb, photometric="rgb", compression="zlib", tile=(256, 256)),
        "gray16-zlib": tiff_bytes(rgb16(photo)[:, :, 1], photometric="minisblack", compression="zlib"),
        "gray8-bigendian": tiff_bytes(gray, photometric="minisblack", byteorder=">"),
    }


@pytest.mark.parametrize("kind", ["png", "tiff"])
def test_png_and_compressed_tiff_go_through_imagecodecs_with_opencvs_luminance(photo, monkeypatch, kind):
    cases = png_cases(photo) if kind == "png" else tiff_cases(photo)
    calls = spy_on_imagecodecs(monkeypatch)
    for name, data in cases.items():
        calls.clear()
        ours = decode.decode_gray(data, *decode.probe(data))
        assert calls, f"{name}: not decoded by imagecodecs"
        reference = opencv_gray(data)
        assert ours.dtype == np.uint8 and ours.shape == reference.shape, name
        assert np.abs(ours.astype(int) - reference).max() <= 1, name


def test_exact_mode_colour_of_compressed_tiffs_is_opencvs_to_the_pixel(photo):
    # 8-bit layouts come from libtiff's strict decode (the integrity check), 16-bit from OpenCV
    for name, data in tiff_cases(photo).items():
        reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(decode.decode_bgr(data, *decode.probe(data)), reference), name


def test_tiff_layouts_imagecodecs_would_misread_keep_opencvs_pixels(photo):
    # imagecodecs returns these samples as stored (indices, inverted, ink, planes); OpenCV
    # converts them to what the picture looks like, and that is what must be scored (imagecodecs
    # still decodes them, strictly, to check the compressed data is undamaged)
    rgb = np.ascontiguousarray(photo[:, :, ::-1])
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    palette = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(palette, "TIFF", compression="tiff_deflate")
    cases = {
        "palette": palette.getvalue(),
        "miniswhite": tiff_bytes(255 - gray, photometric="miniswhite", compression="zlib"),
        "planar": tiff_bytes(np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate",
                             compression="zlib"),
    }
    for name, data in cases.items():
        ours = decode.decode_gray(data, *decode.probe(data))
        assert np.abs(ours.astype(int) - opencv_gray(data)).max() <= 1, name


@pytest.mark.parametrize("mode", MODES)
def test_png_cut_after_its_last_row_is_an_error_in_every_mode(tmp_path, photo, mode):
    # libpng (in imagecodecs) returns every row of a PNG that lost only its IEND chunk; the file
    # is still incomplete, and OpenCV refuses it, so it must stay an error row
    data = png_cases(photo)["rgb8"]
    assert data.endswith(b"IEND\xaeB`\x82")
    path = tmp_path / "cut.png"
    path.write_bytes(data[:-12])
    record = analyze_path(str(path), Settings(mode=mode))
    assert record.error and record.score is None and record.blurry is None


@pytest.mark.parametrize("mode", MODES)
def test_png_with_a_damaged_chunk_is_an_error_in_every_mode(tmp_path, photo, mode):
    data = bytearray(png_cases(photo)["rgb8"])
    idat = data.index(b"IDAT")
    data[idat + 200:idat + 232] = bytes(32)  # zeroed compressed data: the chunk's CRC fails
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    record = analyze_path(str(path), Settings(mode=mode))
    assert record.error and record.score is None


@pytest.mark.parametrize("mode", MODES)
def test_truncated_16bit_lzw_tiff_is_an_error_in_every_mode(tmp_path, photo, mode):
    data = tiff_cases(photo)["rgb16-lzw"]
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: len(data) * 2 // 3])
    record = analyze_path(str(path), Settings(mode=mode))
    assert record.error and record.score is None


@pytest.mark.parametrize("mode", MODES)
def test_a_mapped_file_gives_the_same_row_as_a_read_one(tmp_path, photo, mode):
    files = {"a.jpg": cv2.imencode(".jpg", photo)[1].tobytes(), "b.png": png_cases(photo)["rgb8"],
             "c.tif": tiff_cases(photo)["rgb16-lzw"], "d.webp": cv2.imencode(".webp", photo)[1].tobytes(),
             "e.tif": tiff_bytes(rgb16(photo), photometric="rgb"),  # read in place
             "f.gif": gif_bytes(photo), "empty.jpg": b"", "text.png": b"not a picture at all"}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        read = analyze_path(str(path), Settings(mode=mode))
        mapped = analyze_path(str(path), Settings(mode=mode), mapped=True)
        assert mapped == read, name
        assert bool(read.error) == (name in ("empty.jpg", "text.png")), (name, read.error)


def test_read_input_maps_only_when_asked_and_never_an_empty_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"0123456789")
    assert isinstance(read_input(str(path)), bytes)
    mapped = read_input(str(path), mapped=True)
    assert isinstance(mapped, mmap.mmap) and mapped[:] == b"0123456789"
    (tmp_path / "empty.bin").write_bytes(b"")
    assert read_input(str(tmp_path / "empty.bin"), mapped=True) == b""


def test_read_input_maps_only_files_of_map_from_bytes_or_more(tmp_path):
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"x" * 999)
    large.write_bytes(b"y" * 1000)
    assert read_input(str(small), mapped=True, map_from=1000) == b"x" * 999
    assert isinstance(read_input(str(small), mapped=True, map_from=1000), bytes)
    mapped = read_input(str(large), mapped=True, map_from=1000)
    assert isinstance(mapped, mmap.mmap) and mapped[:] == b"y" * 1000


def test_the_workers_read_small_files_and_map_large_ones_with_the_same_rows(tmp_path, photo):
    from imgval.analysis.analyze import analyze_mapped
    from imgval.analysis.filedata import MAP_FROM_BYTES
    small = tmp_path / "small.jpg"
    small.write_bytes(cv2.imencode(".jpg", photo)[1].tobytes())
    large = tmp_path / "large.tif"
    large.write_bytes(tiff_bytes(rgb16(cv2.resize(photo, (800, 600))), photometric="rgb"))
    assert small.stat().st_size < MAP_FROM_BYTES <= large.stat().st_size
    for path in (small, large):
        assert analyze_mapped(str(path), Settings()) == analyze_path(str(path), Settings()), path.name


def test_byte_stream_over_a_mapping_reads_and_seeks_as_bytesio_does(tmp_path):
    payload = bytes(range(256)) * 40
    path = tmp_path / "a.bin"
    path.write_bytes(payload)
    ours, theirs = byte_stream(read_input(str(path), mapped=True)), io.BytesIO(payload)
    for stream in (ours, theirs):
        stream.seek(100)
    assert ours.read(10) == theirs.read(10) and ours.tell() == theirs.tell() == 110
    assert ours.seek(-5, io.SEEK_END) == theirs.seek(-5, io.SEEK_END)
    assert ours.read() == theirs.read() == payload[-5:]
    assert ours.read(3) == b"" and ours.seek(7, io.SEEK_SET) == 7 and ours.seek(3, io.SEEK_CUR) == 10
    into = bytearray(6)
    assert ours.readinto(into) == 6 and bytes(into) == payload[10:16]
    with pytest.raises(ValueError):
        ours.seek(-1)
    ours.close()
    assert ours.closed


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux's /proc/self/maps")
def test_a_mapped_file_is_unmapped_when_its_analysis_ends(tmp_path, photo):
    # a view left behind (a parser's stream, a pixel array over the bytes) would keep every
    # analysed file mapped in a long-lived worker, even with the cycle collector off
    import gc
    files = {"a.jpg": cv2.imencode(".jpg", photo)[1].tobytes(), "b.png": png_cases(photo)["rgb8"],
             "c.tif": tiff_cases(photo)["rgb16-lzw"], "d.tif": tiff_bytes(rgb16(photo), photometric="rgb"),
             "e.tif": tiff_bytes(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), photometric="minisblack")}
    gc.disable()
    try:
        for name, data in files.items():
            path = tmp_path / name
            path.write_bytes(data)
            assert analyze_path(str(path), Settings(fix_size=False), mapped=True).error == ""
            with open("/proc/self/maps") as maps:
                assert str(path) not in maps.read(), name
    finally:
        gc.enable()
