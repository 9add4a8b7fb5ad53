"""Scoring modes: exact (the original's decode), default (luminance decoded directly) and fast
(reduced-size decode). Options exist and are documented; default stays within tolerance of
exact; fast decodes smaller and has its own threshold; every mode refuses damaged files."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from imgval.analysis import blur, decode
from imgval.analysis.analyze import MODES, Settings, analyze_path
from imgval.synthetic import blurred, natural_image

from tests.conftest import run_script, write_image, ROOT


@pytest.fixture(scope="module")
def photo():
    return natural_image(2400, 1600, seed=21)


def within_default_tolerance(score: float, exact: float) -> bool:
    """The default mode's promise (docs/performance.md): within max(5%, 1.0) of exact."""
    return abs(score - exact) <= max(0.05 * exact, 1.0)


@pytest.mark.parametrize("script", ["process.py", "process_blur.py"])
def test_mode_options_are_documented_in_help(tmp_path, script):
    out = run_script(str(ROOT / script), "--help", cwd=tmp_path, check=True).stdout
    for text in ("--mode [default|exact|fast]", "--exact", "--fast", f"{blur.FAST_DEFAULT_THRESHOLD:g} with --fast"):
        assert text in out, text
    default = "exact" if script == "process_blur.py" else "default"
    assert f"[default: {default}]" in " ".join(out.split())


def test_exact_and_fast_together_is_a_usage_error(tmp_path, image_dir):
    result = run_script(str(ROOT / "process.py"), "-i", str(image_dir), "--exact", "--fast",
                        cwd=tmp_path)
    assert result.returncode == 2 and "contradict" in result.stderr
    assert not (tmp_path / "results.csv").exists()


@pytest.mark.parametrize("name,params,sigma", [
    ("sharp.jpg", [cv2.IMWRITE_JPEG_QUALITY, 90], 0),
    ("soft.jpg", [cv2.IMWRITE_JPEG_QUALITY, 90], 2.5),
    ("very_soft.jpg", [cv2.IMWRITE_JPEG_QUALITY, 85], 6),
    ("master.png", None, 0),
    ("master.tif", None, 1.5),
    ("photo.webp", [cv2.IMWRITE_WEBP_QUALITY, 90], 0),
])
def test_default_mode_scores_within_tolerance_of_exact(tmp_path, photo, name, params, sigma):
    image = blurred(photo, sigma) if sigma else photo
    path = str(write_image(tmp_path / name, image, params))
    exact = analyze_path(path, Settings(mode="exact"))
    default = analyze_path(path, Settings())
    assert default.error == "" and exact.error == ""
    assert within_default_tolerance(default.score, exact.score), (default.score, exact.score)
    assert default.blurry_classic == exact.blurry_classic
    assert bin(int(default.hash, 16) ^ int(exact.hash, 16)).count("1") <= 4


def test_default_mode_is_the_default_and_exact_is_the_originals_score(tmp_path, photo):
    path = str(write_image(tmp_path / "a.jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 92]))
    assert Settings().mode == "default"
    bgr = cv2.imread(path)
    gray = cv2.cvtColor(blur.normalise_size(bgr), cv2.COLOR_BGR2GRAY)
    original = float(np.var(cv2.Laplacian(gray, cv2.CV_64F)))
    assert analyze_path(path, Settings(mode="exact")).score == pytest.approx(original, rel=1e-9)


def test_laplacian_variance_equals_the_float64_definition(photo):
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    assert blur.laplacian_variance(gray) == pytest.approx(blur.blur_score(blur.laplacian(gray)), rel=1e-9)


def test_fast_mode_decodes_jpeg_at_reduced_size(tmp_path, monkeypatch):
    import simplejpeg
    image = natural_image(2000, 1500, seed=5)  # 3 MP: 1/2 scale keeps 0.75 MP >= 0.5 MP, 1/4 would not
    path = str(write_image(tmp_path / "big.jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90]))
    calls = []
    real = simplejpeg.decode_jpeg

    def spy(data, **kwargs):
        out = real(data, **kwargs)
        calls.append(out.shape[:2])
        return out
    monkeypatch.setattr(decode.simplejpeg, "decode_jpeg", spy)
    record = analyze_path(path, Settings(mode="fast"))
    assert record.error == ""
    assert calls == [(750, 1000)]  # libjpeg's 1/2 DCT scale, not a full decode
    calls.clear()
    analyze_path(path, Settings())
    assert calls == [(1500, 2000)]


@pytest.mark.parametrize("size,factor", [((9000, 6000), 8), ((6000, 4000), 4), ((4000, 3000), 4),
                                         ((2000, 1500), 2), ((1600, 1200), 1), ((900, 700), 1)])
def test_reduction_factor_keeps_the_minimum_pixels(size, factor):
    assert decode.reduction_factor(*size, 0.5e6) == factor


def test_fast_mode_has_its_own_threshold_and_flags_blur(tmp_path, photo):
    assert Settings(mode="fast").threshold == blur.FAST_DEFAULT_THRESHOLD
    assert Settings(mode="fast", threshold=50).threshold == 50
    assert Settings(mode="exact").threshold == Settings().threshold == blur.DEFAULT_THRESHOLD
    sharp = str(write_image(tmp_path / "sharp.jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 90]))
    soft = str(write_image(tmp_path / "soft.jpg", blurred(photo, 6), [cv2.IMWRITE_JPEG_QUALITY, 90]))
    fast = Settings(mode="fast")
    a, b = analyze_path(sharp, fast), analyze_path(soft, fast)
    assert a.blurry_classic is False and b.blurry_classic is True
    assert b.score < a.score / 3
    assert len(a.hash) == 16


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown mode"):
        Settings(mode="quick")


def encode(image, ext, params=None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp", ".gif"])
def test_truncated_files_are_errors_in_every_mode(tmp_path, photo, mode, ext):
    photo = np.ascontiguousarray(photo[:600, :900])  # small: lossless WebP encoding is slow
    if ext == ".gif":
        buffer = io.BytesIO()
        Image.fromarray(photo[:, :, ::-1]).save(buffer, "GIF")
        data = buffer.getvalue()
    else:
        data = encode(photo, ext)
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    record = analyze_path(str(path), Settings(mode=mode))
    assert record.error and record.score is None and record.blurry is None


@pytest.mark.parametrize("mode", MODES)
def test_corrupt_jpeg_mid_stream_is_an_error_in_every_mode(tmp_path, photo, mode):
    data = bytearray(encode(photo, ".jpg"))
    start = len(data) // 2
    data[start:start + 64] = b"\xff\xd9" * 32
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    record = analyze_path(str(path), Settings(mode=mode))
    assert "corrupt" in record.error or "truncated" in record.error
    assert record.score is None


@pytest.mark.parametrize("mode", MODES)
def test_exif_orientation_is_applied_in_every_mode(tmp_path, photo, mode):
    upright = tmp_path / "upright.jpg"
    Image.fromarray(photo[:, :, ::-1]).save(upright, quality=95)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(photo, 1)[:, :, ::-1])).save(rotated, quality=95, exif=exif)
    a, b = analyze_path(str(upright), Settings(mode=mode)), analyze_path(str(rotated), Settings(mode=mode))
    assert bin(int(a.hash, 16) ^ int(b.hash, 16)).count("1") <= 4
    assert b.score == pytest.approx(a.score, rel=0.05)


def test_png_probe_does_not_decode_the_pixels(tmp_path, photo, monkeypatch):
    from PIL import PngImagePlugin
    data = encode(photo, ".png")

    def refuse(self):
        raise AssertionError("the header probe decoded the whole PNG")
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse)
    header, _ = decode.probe(data)
    assert (header.width, header.height, header.orientation) == (2400, 1600, 1)


def test_process_blur_runs_exact_by_default_and_fast_on_request(tmp_path, image_dir):
    exact = run_script(str(ROOT / "process_blur.py"), "-i", str(image_dir), cwd=tmp_path, check=True).stdout
    fast = run_script(str(ROOT / "process_blur.py"), "-i", str(image_dir), "--fast", cwd=tmp_path,
                      check=True).stdout
    sharp = str(image_dir / "sharp.jpg")
    scores = {}
    for label, out in (("exact", exact), ("fast", fast)):
        row = next(line for line in out.splitlines() if line.startswith(sharp))
        scores[label] = float(row.split(",")[1])
    assert scores["exact"] == pytest.approx(analyze_path(sharp, Settings(mode="exact")).score, rel=1e-9)
    assert scores["fast"] == pytest.approx(analyze_path(sharp, Settings(mode="fast")).score, rel=1e-9)


def write_plain_tiff(path, bgr, bits, gray=False, **options):
    """An uncompressed TIFF as scanners write masters (tifffile; OpenCV would write LZW)."""
    import tifffile
    pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if gray else np.ascontiguousarray(bgr[:, :, ::-1])
    if bits == 16:  # spread 8-bit values over 16 bits with low-byte detail, as a 16-bit scan has
        noise = np.random.default_rng(3).integers(0, 256, pixels.shape, dtype=np.uint16)
        pixels = pixels.astype(np.uint16) * 256 + noise
    if options.get("planarconfig") == "separate":
        pixels = np.moveaxis(pixels, -1, 0)  # tifffile takes planar data as (samples, rows, columns)
    tifffile.imwrite(path, pixels, photometric="minisblack" if gray else "rgb", **options)
    return path


@pytest.mark.parametrize("bits,gray,options", [(8, False, {}), (16, False, {}), (8, True, {}),
                                               (16, True, {}), (16, False, {"rowsperstrip": 7})])
def test_uncompressed_tiff_is_read_in_place_with_the_scores_of_exact(tmp_path, photo, monkeypatch,
                                                                     bits, gray, options):
    path = str(write_plain_tiff(tmp_path / "master.tif", photo, bits, gray, **options))
    exact = analyze_path(path, Settings(mode="exact"))
    opencv_reads = []
    real = decode.cv2.imdecode
    monkeypatch.setattr(decode.cv2, "imdecode", lambda *a: opencv_reads.append(1) or real(*a))
    default = analyze_path(path, Settings())
    assert default.error == "" and opencv_reads == []  # the pixels were viewed, not decoded
    assert within_default_tolerance(default.score, exact.score), (default.score, exact.score)
    assert default.blurry_classic == exact.blurry_classic
    data = open(path, "rb").read()
    opencv_gray = real(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    ours = decode.decode_gray(data, *decode.probe(data))
    assert ours.dtype == np.uint8 and ours.shape == opencv_gray.shape
    assert np.abs(ours.astype(int) - opencv_gray).max() <= 1  # OpenCV's luminance up to rounding


@pytest.mark.parametrize("options", [{"compression": "zlib"}, {"tile": (256, 256)}, {"byteorder": ">"},
                                     {"planarconfig": "separate"}])
def test_unusual_tiff_layouts_are_decoded_not_viewed_with_the_scores_of_exact(tmp_path, photo, options):
    path = write_plain_tiff(tmp_path / "odd.tif", photo, 16, **options)
    data = path.read_bytes()
    assert decode._plain_tiff_gray(data) is None
    record = analyze_path(str(path), Settings())
    exact = analyze_path(str(path), Settings(mode="exact"))
    assert record.error == "" and within_default_tolerance(record.score, exact.score)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bits", [8, 16])
def test_truncated_uncompressed_tiff_is_an_error_in_every_mode(tmp_path, photo, mode, bits):
    data = write_plain_tiff(tmp_path / "full.tif", photo, bits).read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: len(data) * 2 // 3])
    record = analyze_path(str(path), Settings(mode=mode))
    assert record.error and record.score is None and record.blurry is None


@pytest.mark.parametrize("mode", MODES)
def test_an_uncompressed_tiff_whose_strips_fall_short_is_an_error_in_every_mode(tmp_path, photo, mode):
    """A damaged RowsPerStrip (16 -> 157: each strip's byte count now covers a tenth of its rows)
    in a file that is otherwise whole: OpenCV's read returned a picture, libtiff's strict read
    refuses it; every mode gives the same verdict (found by fuzzing: exact mode scored it)."""
    import tifffile
    path = write_plain_tiff(tmp_path / "full.tif", photo, 16, rowsperstrip=16)
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages.first.tags["RowsPerStrip"]
        value_at, kind = tag.valueoffset, tag.dtype
    data[value_at:value_at + (2 if kind == 3 else 4)] = (157).to_bytes(2 if kind == 3 else 4, "little")
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(data))
    record = analyze_path(str(damaged), Settings(mode=mode))
    assert record.error.startswith("truncated or corrupt TIFF data"), record.error
    assert record.score is None


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_tiff_pillow_cannot_open_gets_the_same_verdict_in_every_mode(tmp_path, photo, compression):
    """Its PhotometricInterpretation entry damaged (tag 0, type 256: Pillow refuses the file,
    tifffile reads it): exact mode failed with "unexpected error ... AttributeError" (found by
    fuzzing) where the default mode scored it."""
    import tifffile
    path = write_plain_tiff(tmp_path / "full.tif", photo, 8, **({"compression": compression} if compression else {}))
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        entry = tif.pages.first.tags["PhotometricInterpretation"].offset
    data[entry:entry + 4] = b"\x00\x00\x00\x01"
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(data))
    records = {mode: analyze_path(str(damaged), Settings(mode=mode)) for mode in MODES}
    assert not any("unexpected" in r.error for r in records.values()), {m: r.error for m, r in records.items()}
    assert {bool(r.error) for r in records.values()} == {False}, {m: r.error for m, r in records.items()}


@pytest.mark.parametrize("options", [{}, {"compression": "zlib"}])
def test_tiff_probe_lets_go_of_the_file_bytes(tmp_path, photo, options):
    # tifffile's objects form reference cycles; if they kept the bytes, every worker would hold
    # a previous 100+ MB master until the cycle collector ran (measured: +180 MB peak RSS)
    import gc
    import sys
    data = write_plain_tiff(tmp_path / "m.tif", photo, 16, **options).read_bytes()
    gc.disable()
    try:
        before = sys.getrefcount(data)
        decode._plain_tiff_gray(data)
        assert sys.getrefcount(data) == before
    finally:
        gc.enable()


def _small_pictures():
    rng = np.random.default_rng(7)
    for seed, (width, height) in enumerate([(64, 64), (64, 48), (100, 75), (128, 96), (40, 90)]):
        picture = natural_image(width, height, seed=seed)
        yield f"scene{seed}", picture
        yield f"soft{seed}", blurred(picture, 1.5)
    yield "noise", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    yield "flat", np.full((64, 64, 3), 90, np.uint8)
    yield "stripes", np.tile((np.arange(64) % 8 < 4).astype(np.uint8)[None, :, None] * 255, (64, 1, 3))


@pytest.mark.parametrize("name,picture", list(_small_pictures()))
def test_small_images_score_in_closed_form_within_tolerance_of_exact(tmp_path, name, picture):
    """Thumbnails are scored without the 2 MP upscale (blur.upscaled_laplacian_variance): still
    within the default mode's tolerance of exact, which upscales as the original did."""
    path = str(write_image(tmp_path / f"{name}.jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 90]))
    exact, default = analyze_path(path, Settings(mode="exact")), analyze_path(path, Settings())
    assert within_default_tolerance(default.score, exact.score), (default.score, exact.score)
    assert default.blurry == exact.blurry


def test_small_images_are_hashed_as_stored_and_exact_keeps_the_upscaled_hash(tmp_path):
    """Hash version 2 (default, fast): an image under the normalised size is hashed as stored,
    imagehash's pHash of its luminance; exact mode keeps version 1, the hash of the upscale."""
    import imagehash

    path = str(write_image(tmp_path / "thumb.jpg", natural_image(96, 64, seed=3), [cv2.IMWRITE_JPEG_QUALITY, 90]))
    data = open(path, "rb").read()
    header, image = decode.probe(data)
    luminance = decode.decode_gray(data, header, image)
    assert analyze_path(path, Settings()).hash == str(imagehash.phash(Image.fromarray(luminance)))
    upscaled = cv2.cvtColor(blur.normalise_size(cv2.imread(path)), cv2.COLOR_BGR2GRAY)
    assert analyze_path(path, Settings(mode="exact")).hash == str(imagehash.phash(Image.fromarray(upscaled)))
