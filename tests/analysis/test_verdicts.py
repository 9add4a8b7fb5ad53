"""Integrity verdicts decoders disagree about: valid files of odd layouts that one decoder
cannot read must not be called corrupt (another decoder reads them, with their samples scaled
right), and damaged data one decoder reads past (logging the damage) must not be scored."""
import cv2
import numpy as np
import pytest

from imgval import hostile
from imgval.analysis import decode
from imgval.report import thumbnails
from imgval.analysis.analyze import MODES, Settings, analyze_bytes
from imgval.synthetic import natural_image

PICTURE = cv2.cvtColor(natural_image(240, 160, seed=5), cv2.COLOR_BGR2GRAY)
LAYOUTS = dict(hostile.odd_layouts(PICTURE))
VALID = [name for name in LAYOUTS if not name.endswith("_damaged.tif")]


def score(data: bytes, mode: str) -> float:
    record = analyze_bytes("x", data, Settings(mode=mode))
    assert record.error == "", record.error
    return record.score


@pytest.fixture(scope="module")
def reference():
    """Scores of the same picture as an ordinary 8-bit gray PNG, per mode."""
    png = cv2.imencode(".png", PICTURE)[1].tobytes()
    return {mode: score(png, mode) for mode in MODES}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", VALID)
def test_valid_odd_layouts_are_read_and_scored_like_the_picture(name, mode, reference):
    record = analyze_bytes(name, LAYOUTS[name], Settings(mode=mode))
    assert record.error == "" and record.score is not None, record.error
    if "2bit" in name or "4bit" in name or "int32" in name or name.startswith(("rgb", "cmyk", "old_style")):
        # fewer grey levels, stretched contrast (32-bit integers have no standard scale), or
        # colour planes that are not the grey picture: the same scene, other numbers
        assert record.score > reference[mode] * 0.2, (record.score, reference[mode])
    else:  # the same grey levels, scaled from 12, 16, 32 bits or floats: the same score
        assert record.score == pytest.approx(reference[mode], rel=0.05)


@pytest.mark.parametrize("name", VALID)
def test_valid_odd_layouts_get_a_thumbnail(name):
    image = thumbnails.thumbnail(LAYOUTS[name])
    assert max(image.size) == thumbnails.THUMB_SIDE and np.asarray(image).std() > 5  # not blank


def test_float_rgb_tiff_is_an_image():
    record = analyze_bytes("x.tif", LAYOUTS["rgb_float32.tif"], Settings())
    assert (record.format, record.width, record.height, record.error) == ("TIFF", 240, 160, "")


@pytest.mark.parametrize("mode", MODES)
def test_damaged_lzw_data_is_an_error_though_opencv_reads_past_it(mode):
    data = LAYOUTS["lzw_bad_code_damaged.tif"]
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None  # the premise
    record = analyze_bytes("x.tif", data, Settings(mode=mode))
    assert record.error.startswith("truncated or corrupt TIFF data"), record.error
    assert record.score is None


def test_truncated_odd_layouts_stay_errors():
    for name in ("gray_12bit.tif", "rgb_float32.tif", "cmyk_16bit.tif", "rgb32_111110.bmp"):
        data = LAYOUTS[name]
        record = analyze_bytes(name, data[:len(data) * 2 // 3], Settings())
        assert record.error and record.score is None, name


@pytest.fixture(scope="module")
def damaged_corpus():
    """A small hostile corpus: damaged copies (truncated, bit-flipped, fuzzed headers) of a
    valid file of every format and several layouts, plus the odd layouts."""
    files = list(LAYOUTS.items())
    for name, data in hostile.valid_seeds():
        files.append((name, data))
        files += list(hostile.damaged(name, data, 9))
    return files


@pytest.mark.parametrize("mode", MODES)
def test_damaged_files_get_a_verdict_never_an_unexpected_error(damaged_corpus, mode):
    for name, data in damaged_corpus:
        record = analyze_bytes(name, data, Settings(mode=mode))
        assert "unexpected" not in record.error, (name, record.error)
        if "_truncated_" in name:
            assert record.error and record.score is None, name
        try:
            thumbnails.thumbnail(data)
        except Exception as exc:
            assert isinstance(exc, (decode.DecodeError, OSError)), (name, repr(exc))  # ours, or Pillow's
