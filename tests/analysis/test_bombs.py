"""Decompression bombs are refused by the memory their decode would take (channels, bit depth,
every layer of a container), in the scan and in the thumbnail pass alike, before any pixel is
decoded. Bombs here are small versions checked against a small --max-memory, so a regression
costs this test tens of megabytes, not gigabytes."""
import threading

import pytest
from PIL import Image

from imgval import hostile
from imgval.analysis import decode
from imgval.report import thumbnails
from imgval.analysis.analyze import Settings, analyze_path

from tests.conftest import ROOT, run_script

LIMIT = 20_000_000  # bytes: each bomb below needs 30-110 MB decoded, a real image this size far less

SMALL_BOMBS = {
    "png_16bit_rgba.png": lambda: hostile.png_bomb(1800, 1800, 16, 6),  # 26 MB as stored
    "gif_screen.gif": lambda: hostile.gif_screen_bomb(3000, 3000),  # a 1x1 frame on a 9 MP screen
    "tiff_second_page.tif": lambda: hostile.tiff_bomb(1800, 1800, small_first_page=True),
    "jp2_header.jp2": lambda: hostile.jp2_header_bomb(2000, 2000),  # OpenJPEG: 4 bytes a sample
    "webp.webp": lambda: hostile.webp_bomb(3000, 3000),
    "bmp_rle8.bmp": lambda: hostile.bmp_rle_bomb(3000, 3000),
    "jpeg_header.jpg": lambda: hostile.jpeg_header_bomb(3000, 3000),
    "heif_ispe.heic": lambda: hostile.heif_header_bomb(3000, 3000),
}


@pytest.mark.parametrize("name", SMALL_BOMBS)
def test_each_kind_of_bomb_is_refused_by_decoded_size_in_scan_and_thumbnail(tmp_path, name):
    data = SMALL_BOMBS[name]()
    if data is None:
        pytest.skip("no HEIF encoder here")
    path = tmp_path / (name.replace(".", "_") + ".jpg")  # an attacker's name, not the format's
    path.write_bytes(data)
    settings = Settings(max_memory=LIMIT)
    record = analyze_path(str(path), settings)
    assert record.error.startswith("image too large to decode"), record.error
    assert "--max-memory" in record.error and record.score is None and not record.transient
    with pytest.raises(decode.DecodeError, match="too large"):
        thumbnails.thumbnail(data, max_memory=LIMIT)
    assert thumbnails.blur_map_preview(str(path), Settings(max_memory=LIMIT, keep_pixels=True)) is None


def test_the_default_limit_refuses_a_16_bit_rgba_png_under_the_pixel_limit(tmp_path):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(hostile.png_bomb(12000, 12000, 16, 6))  # 144 MP: 1.15 GB as stored, 1.7 GB with the copies decoding makes
    record = analyze_path(str(path), Settings())
    assert record.error.startswith("image too large to decode") and "1,728 MB" in record.error
    assert (record.width, record.height, record.format) == (12000, 12000, "PNG")


def test_real_images_of_the_same_sizes_pass(tmp_path, sharp_image):
    for mode in ("RGB", "I;16"):
        path = tmp_path / f"real_{mode.replace(';', '')}.tif"
        Image.new(mode, (1200, 1200)).save(path)
        assert analyze_path(str(path), Settings(max_memory=LIMIT)).error == ""


def test_pillows_own_guard_stays_on_at_the_users_limit(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(path)
    analyze_path(str(path), Settings(max_pixels=5_000_000))
    assert Image.MAX_IMAGE_PIXELS == 5_000_000


def test_scan_html_thumbnails_obey_the_scans_limit(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bomb.jpg").write_bytes(SMALL_BOMBS["png_16bit_rgba.png"]())
    html = tmp_path / "r.html"
    result = run_script(str(ROOT / "process.py"), "-i", str(folder), "-s", str(tmp_path / "r.csv"),
                        "--html", str(html), "--no-cache", "--max-memory", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = html.read_text()
    assert "image too large to decode" in page and "data:image/jpeg" not in page


def test_max_memory_is_checked_and_documented(tmp_path):
    bad = run_script(str(ROOT / "process.py"), "-i", str(tmp_path), "--max-memory", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "--max-memory" in bad.stderr
    assert "--max-memory" in run_script(str(ROOT / "process.py"), "--help", cwd=tmp_path).stdout


def test_thumbnail_decodes_running_at_once_share_the_memory_limit():
    budget = thumbnails.MemoryBudget(100)
    order = []
    first_in = threading.Event()
    release_first = threading.Event()

    def decode(name, amount, entered=None, leave=None):
        with budget.hold(amount):
            order.append(f"{name} in")
            if entered:
                entered.set()
            if leave:
                leave.wait(10)
            order.append(f"{name} out")
    first = threading.Thread(target=decode, args=("big", 80, first_in, release_first))
    first.start()
    first_in.wait(10)
    small = threading.Thread(target=decode, args=("small", 20))  # fits beside it
    second = threading.Thread(target=decode, args=("second big", 80))  # must wait for the first
    small.start()
    small.join(10)
    second.start()
    second.join(0.5)
    assert second.is_alive() and order == ["big in", "small in", "small out"]
    release_first.set()
    first.join(10)
    second.join(10)
    assert order[3:] == ["big out", "second big in", "second big out"]


def test_a_too_large_error_names_the_tiff_layer_that_is_too_large(tmp_path):
    """A TIFF's memory is its largest layer's, which may not be the image its first page
    describes: the error names that layer, so a 16x16 picture is not said to need 39 MB."""
    path = tmp_path / "second_page.jpg"
    path.write_bytes(SMALL_BOMBS["tiff_second_page.tif"]())
    error = analyze_path(str(path), Settings(max_memory=LIMIT)).error
    assert error.startswith("image too large to decode: page 2 of the TIFF (1,800x1,800, 4 samples of 16 bits a pixel)"), error
    # a damaged header's tile size (TileLength 4,000,000 for a 256x192 image)
    import zlib
    strip = zlib.compress(bytes(256 * 192 * 3))
    page = {256: (4, [256]), 257: (4, [192]), 258: (3, [8, 8, 8]), 259: (3, [8]), 262: (3, [2]), 277: (3, [3]),
            284: (3, [1]), 322: (4, [256]), 323: (4, [4_000_000]), 324: (4, [8]), 325: (4, [len(strip)])}
    path = tmp_path / "tile.tif"
    path.write_bytes(hostile._tiff([page], strip))
    record = analyze_path(str(path), Settings())
    assert record.error.startswith("image too large to decode: a tile of page 1 of the TIFF (256x4,000,000, "
                                   "3 samples of 8 bits a pixel) would take about 3,072 MB"), record.error
    assert (record.width, record.height) == (256, 192)
