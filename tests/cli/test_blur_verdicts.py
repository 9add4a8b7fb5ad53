"""The two blur verdicts as a user meets them: `blurry` from the sharpness measure by default in
process.py / imgval scan, the original's verdict kept in blurry_classic and one option away
(--blur-verdict classic, or -t alone), process_blur.py unchanged unless asked, images too small
or blank to judge reported as such, and the HTML page following the active verdict."""
from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from imgval.analysis.analyze import Settings, analyze_bytes
from imgval.cli import exitcodes
from imgval.defaults import SHARPNESS_THRESHOLD
from imgval.report.reader import Results, load_results, verdict_of
from imgval.report.thumbnails import BLURRED_TINT, SHARP_TINT, sharpness_overlay
from imgval.synthetic import blurred, natural_image

from tests.conftest import ROOT, run_script, write_image


def jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def dim(image: np.ndarray, contrast: float = 0.15, level: float = 40) -> np.ndarray:
    """A dim, flat copy: a sharp scan of a faded page on a dark bed."""
    return np.clip(image.astype(np.float32) * contrast + level, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return natural_image(1200, 900, seed=21)


def test_blurry_follows_the_sharpness_verdict_and_the_classic_one_is_kept(photo):
    settings = Settings()
    assert settings.blur_verdict == "sharpness" and settings.sharpness_threshold == SHARPNESS_THRESHOLD
    flat = analyze_bytes("flat.jpg", jpeg(dim(photo)), settings)
    soft = analyze_bytes("soft.jpg", jpeg(blurred(photo, 8)), settings)
    # the dim, flat but sharp scan: the classic score calls it blurry, the sharpness does not
    assert flat.blurry_classic is True and flat.blurry is False and flat.blur_status == "sharp"
    assert soft.blurry is True and soft.blurry_classic is True and soft.blur_status == "blurry"
    assert flat.sharpness > SHARPNESS_THRESHOLD > soft.sharpness
    classic = analyze_bytes("flat.jpg", jpeg(dim(photo)), Settings(blur_verdict="classic"))
    assert classic.blurry is True and classic.blur_status == "blurry"
    assert classic.score == flat.score and classic.sharpness == flat.sharpness  # both always measured


def test_every_mode_measures_the_sharpness_of_the_same_decode(photo):
    data = jpeg(photo)
    values = {mode: analyze_bytes("a.jpg", data, Settings(mode=mode)).sharpness for mode in ("default", "exact", "fast")}
    assert values["default"] == pytest.approx(values["exact"], rel=0.05)
    assert values["fast"] > SHARPNESS_THRESHOLD  # a DCT-reduced decode: same verdict


def test_the_fast_modes_reduced_decode_gives_the_default_modes_verdicts():
    # 6 MP: the fast mode decodes it at 1/2 (1.5 MP) and views that bilinearly (low-passed already)
    large = cv2.resize(natural_image(1500, 1000, seed=4), (3000, 2000), interpolation=cv2.INTER_CUBIC)
    for picture, is_blurry in ((large, False), (blurred(large, 6), True)):
        data = jpeg(picture)
        default, fast = (analyze_bytes("a.jpg", data, Settings(mode=mode)) for mode in ("default", "fast"))
        assert default.blurry is fast.blurry is is_blurry, (default.sharpness, fast.sharpness)
        assert fast.sharpness == pytest.approx(default.sharpness, abs=0.1)


def test_images_too_small_or_blank_get_no_verdict_but_keep_their_score(photo):
    tiny = analyze_bytes("icon.jpg", jpeg(cv2.resize(photo, (96, 72), interpolation=cv2.INTER_AREA)), Settings())
    assert tiny.blurry is None and tiny.blur_status == "too small" and tiny.sharpness is None
    assert tiny.score is not None and tiny.blurry_classic is not None and tiny.error == ""
    grey = np.full((600, 800), 118, np.uint8)
    blank = analyze_bytes("cap.png", cv2.imencode(".png", grey)[1].tobytes(), Settings())
    assert blank.blurry is None and blank.blur_status == "blank" and blank.score == 0.0
    # the original's verdict judges everything, as it did
    assert analyze_bytes("cap.png", cv2.imencode(".png", grey)[1].tobytes(),
                         Settings(blur_verdict="classic")).blurry is True


@pytest.fixture
def batch(tmp_path, photo):
    folder = tmp_path / "batch"
    write_image(folder / "sharp.jpg", photo)
    write_image(folder / "dim.jpg", dim(photo))
    write_image(folder / "soft.jpg", blurred(photo, 8))
    write_image(folder / "icon.jpg", natural_image(90, 60, seed=3))
    return folder


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {r["filepath"].rsplit("/", 1)[-1]: r for r in csv.DictReader(handle)}


def test_scan_reports_both_verdicts_and_says_which_is_active(batch, tmp_path):
    result = run_script(str(ROOT / "process.py"), "-i", str(batch), "-s", "r.csv", "--no-cache", "-v",
                        cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    rows = rows_of(tmp_path / "r.csv")
    assert (rows["dim.jpg"]["blurry"], rows["dim.jpg"]["blurry_classic"]) == ("False", "True")
    assert (rows["soft.jpg"]["blurry"], rows["soft.jpg"]["blur_status"]) == ("True", "blurry")
    assert (rows["icon.jpg"]["blurry"], rows["icon.jpg"]["blur_status"], rows["icon.jpg"]["sharpness"]) == \
        ("False", "too small", "")
    assert float(rows["sharp.jpg"]["sharpness"]) > SHARPNESS_THRESHOLD
    assert "--- Found 1 blurry images ---" in result.stdout
    assert "1 blurry, 1 too small," in result.stderr  # the summary line counts the unjudged
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert meta["blur_verdict"] == "sharpness" and meta["sharpness_threshold"] == SHARPNESS_THRESHOLD
    loaded = load_results(str(tmp_path / "r.csv"))
    icon = next(r for r in loaded.rows if r.filepath.endswith("icon.jpg"))
    assert icon.blurry is None and icon.blur_status == "too small"  # read back: no verdict, not False
    assert verdict_of(loaded).kind == "sharpness"


@pytest.mark.parametrize("args, verdict, name, blurry", [
    (["--blur-verdict", "classic"], "classic", "dim.jpg", "True"),
    (["-t", "0.5"], "classic", "dim.jpg", "False"),  # -t alone keeps its meaning: the original's verdict
    (["-t", "0.5", "--blur-verdict", "sharpness"], "sharpness", "dim.jpg", "False"),
    (["--sharpness-threshold", "0.5"], "sharpness", "soft.jpg", "False"),  # blurry at the default
])
def test_the_verdict_and_its_threshold_are_options(batch, tmp_path, args, verdict, name, blurry):
    run_script(str(ROOT / "process.py"), "-i", str(batch), "-s", "r.json", "-o", "json", "--no-cache", *args,
               cwd=tmp_path, check=True)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["meta"]["blur_verdict"] == verdict
    rows = {r["filepath"].rsplit("/", 1)[-1]: r for r in data["results"]}
    assert str(rows[name]["blurry"]) == blurry
    if "-t" in args:  # -t always sets the classic verdict's threshold
        assert data["threshold"] == 0.5 and rows["dim.jpg"]["blurry_classic"] is False


@pytest.mark.parametrize("args, message", [
    (["--sharpness-threshold", "nan"], "is not a blur threshold"),
    (["--sharpness-threshold", "3.74"], "above the sharpness scale, which ends at 2"),  # an earlier scale's
    (["--blur-verdict", "laplacian"], "'laplacian' is not one of 'sharpness', 'classic'"),
])
def test_bad_verdict_options_are_usage_errors(batch, tmp_path, args, message):
    result = run_script(str(ROOT / "process.py"), "-i", str(batch), *args, cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE and message in result.stderr
    assert not (tmp_path / "results.csv").exists()


def test_process_blur_keeps_the_original_columns_unless_asked(batch, tmp_path):
    plain = run_script(str(ROOT / "process_blur.py"), "-i", str(batch), cwd=tmp_path, check=True)
    assert plain.stdout.splitlines()[0] == "input_path,score,blurry,error"
    rows = list(csv.DictReader(plain.stdout.splitlines()))
    assert {r["input_path"].rsplit("/", 1)[-1]: r["blurry"] for r in rows}["dim.jpg"] == "True"  # classic
    asked = run_script(str(ROOT / "process_blur.py"), "-i", str(batch), "--blur-verdict", "sharpness",
                       cwd=tmp_path, check=True)
    assert asked.stdout.splitlines()[0] == "input_path,score,blurry,sharpness,blur_status,blurry_classic,error"
    rows = {r["input_path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(asked.stdout.splitlines())}
    assert (rows["dim.jpg"]["blurry"], rows["dim.jpg"]["blurry_classic"]) == ("False", "True")


def test_process_blur_saves_the_map_of_the_active_verdict(batch, tmp_path):
    def maps(*verdict):
        folder = tmp_path / ("maps" + "-".join(verdict))
        run_script(str(ROOT / "process_blur.py"), "-i", str(batch), *verdict, "--blur-map-dir", str(folder),
                   cwd=tmp_path, check=True)
        return {p.name.split("__")[-1]: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in folder.glob("*.png")}

    def share(picture, tint):  # of pixels tinted towards this RGB colour (OpenCV reads BGR)
        b, g, r = (picture[..., i].astype(int) for i in range(3))
        green = (g > r + 40) & (g > b + 20)
        orange = (r > g + 20) & (g > b + 20)
        return float(np.mean(green if tint == SHARP_TINT else orange))

    classic = maps()
    assert all(picture.ndim == 2 for picture in classic.values())  # the original's Laplacian map
    overlays = maps("--blur-verdict", "sharpness")
    sharp, soft = overlays["sharp.jpg.blurmap.png"], overlays["soft.jpg.blurmap.png"]
    assert sharp.ndim == 3 and soft.ndim == 3
    # where the image is sharp, and where it is not, at a glance
    assert share(sharp, SHARP_TINT) > 0.3 > share(sharp, BLURRED_TINT)
    assert share(soft, BLURRED_TINT) > 0.3 > share(soft, SHARP_TINT)


def test_html_follows_the_active_verdict(batch, tmp_path):
    for verdict in ("sharpness", "classic"):
        run_script(str(ROOT / "process.py"), "-i", str(batch), "-s", f"{verdict}.csv", "--no-cache",
                   "--blur-verdict", verdict, "--html", f"{verdict}.html", cwd=tmp_path, check=True)
    sharp_page = (tmp_path / "sharpness.html").read_text()
    classic_page = (tmp_path / "classic.html").read_text()
    assert "<h2>Sharpness</h2>" in sharp_page and f"threshold {SHARPNESS_THRESHOLD:g}" in sharp_page
    assert "<h2>Blur scores</h2>" in classic_page and "threshold 100" in classic_page
    # the classic verdict judges the upscaled icon too (blurry, as the original said)
    for page, blurry in ((sharp_page, {"soft.jpg"}), (classic_page, {"soft.jpg", "dim.jpg", "icon.jpg"})):
        section = page[page.index('<section id="blurry"'):]
        section = section[:section.index("</section>")]
        names = ("soft.jpg", "dim.jpg", "sharp.jpg", "icon.jpg")
        assert {name for name in names if f"<b>{name}</b>" in section} == blurry
        assert section.count('alt="blur map"') == len(blurry)
    assert "green where the detail is sharp" in sharp_page and "icon.jpg" in sharp_page
    # `imgval report` on the same CSV reads the verdict back from its metadata
    result = run_script("-m", "imgval.cli", "report", "sharpness.csv", "--html", "again.html", cwd=tmp_path,
                        check=True)
    assert "1 blurry, 1 too small or blank" in result.stdout
    assert "<h2>Sharpness</h2>" in (tmp_path / "again.html").read_text()
    assert verdict_of(load_results(str(tmp_path / "classic.csv"))).kind == "classic"


def test_verdict_is_inferred_for_reports_without_metadata():
    from imgval.report.reader import Row

    def row(score, blurry, sharpness, classic):
        return Row("a.jpg", score, blurry, "", 10, 10, "JPEG", "", None, True, "", "", sharpness=sharpness,
                   blurry_classic=classic)

    older = Results([row(50.0, True, None, None), row(150.0, False, None, None)], None, True)
    assert (verdict_of(older).kind, verdict_of(older).threshold) == ("classic", 100.0)
    newer = Results([row(50.0, False, 3.0, True), row(150.0, False, 4.0, False)], None, True)
    assert verdict_of(newer).kind == "sharpness" and verdict_of(newer).inferred


def test_sharpness_overlay_tints_sharp_and_blurred_tiles_and_leaves_flat_ones():
    gray = np.full((64, 96), 100, np.uint8)
    tiles = np.array([[SHARPNESS_THRESHOLD * 2, SHARPNESS_THRESHOLD / 2, np.nan]], np.float32)
    picture = sharpness_overlay(gray, tiles, SHARPNESS_THRESHOLD)
    assert picture.shape == (64, 96, 3)
    sharp, blurred_, flat = picture[32, 16], picture[32, 48], picture[32, 80]
    assert np.argmax(sharp) == np.argmax(SHARP_TINT) and np.argmax(blurred_) == np.argmax(BLURRED_TINT)
    assert tuple(flat) == (100, 100, 100)
