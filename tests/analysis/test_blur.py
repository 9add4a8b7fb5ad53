"""The blur score: faithful to the original tool's definition, and pure math behaving as documented."""
import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgval.analysis import blur
from imgval.analysis.analyze import Settings, analyze_path
from imgval.synthetic import natural_image

from tests.conftest import write_image

EXACT = Settings(mode="exact")  # the original's decode path; the default mode is tested in test_modes.py
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "clirdlf_pipeline.py"


def original_score(path: Path) -> float:
    """The original tool's score, computed independently of imgval: cv2.imread in colour,
    resize to ~2 MP, grayscale, float64 Laplacian, variance."""
    image = cv2.imread(str(path))
    ratio = np.sqrt(2e6 / (image.shape[0] * image.shape[1]))
    image = cv2.resize(image, (0, 0), fx=ratio, fy=ratio)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(np.var(cv2.Laplacian(gray, cv2.CV_64F)))


@pytest.mark.parametrize("name,size,params", [
    ("large.jpg", (2400, 1600), [cv2.IMWRITE_JPEG_QUALITY, 90]),   # downscaled to 2 MP
    ("small.jpg", (640, 480), [cv2.IMWRITE_JPEG_QUALITY, 75]),     # upscaled to 2 MP
    ("gray.jpg", (1200, 900), None),
    ("lossless.png", (1000, 800), None),
    ("master.tif", (900, 1300), None),
    ("photo.webp", (800, 600), [cv2.IMWRITE_WEBP_QUALITY, 90]),
])
def test_score_matches_original_definition(tmp_path, name, size, params):
    image = natural_image(*size, seed=len(name))
    if name.startswith("gray"):
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    path = write_image(tmp_path / name, image, params)
    record = analyze_path(str(path), EXACT)
    assert record.error == ""
    expected = original_score(path)
    assert record.score == pytest.approx(expected, rel=1e-3)


def test_16_bit_tiff_scores_like_opencv_reads_it(tmp_path):
    image16 = natural_image(800, 600, seed=7).astype(np.uint16) * 257
    path = write_image(tmp_path / "deep.tif", image16)
    record = analyze_path(str(path), EXACT)
    assert record.error == ""
    assert record.score == pytest.approx(original_score(path), rel=1e-3)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference pipeline is not beside the project")
def test_scores_match_the_reference_pipeline(tmp_path, image_dir):
    out = tmp_path / "reference.csv"
    subprocess.run([sys.executable, str(REFERENCE), "-i", str(image_dir), "-o", str(out), "-j", "1"],
                   check=True, capture_output=True)
    with open(out) as handle:
        reference = {row["filepath"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert len(reference) == 4
    for path, score in reference.items():
        assert analyze_path(path, EXACT).score == pytest.approx(score, rel=1e-3)


def test_blur_lowers_the_score_and_threshold_flags_it(sharp_image, blurry_image):
    def score(image):
        return blur.blur_score(blur.laplacian(blur.to_gray(blur.normalise_size(image))))
    sharp, soft = score(sharp_image), score(blurry_image)
    assert soft < sharp / 10
    assert blur.is_blurry(soft) and not blur.is_blurry(sharp)
    assert blur.is_blurry(50.0, threshold=60.0) and not blur.is_blurry(60.0, threshold=60.0)


@pytest.mark.parametrize("shape", [(100, 100), (3000, 2000), (1414, 1414)])
def test_normalise_size_targets_two_megapixels(shape):
    resized = blur.normalise_size(np.zeros(shape, np.uint8))
    assert resized.shape[0] * resized.shape[1] == pytest.approx(2e6, rel=0.01)
    assert resized.shape[0] / resized.shape[1] == pytest.approx(shape[0] / shape[1], rel=0.01)


def test_pretty_blur_map_is_an_8_bit_picture_of_the_same_size(sharp_image):
    lap = blur.laplacian(blur.to_gray(sharp_image))
    picture = blur.pretty_blur_map(lap)
    assert picture.dtype == np.uint8 and picture.shape == lap.shape
    assert picture.max() == 255 and picture.min() == 0


@pytest.mark.parametrize("shape", [(64, 64), (48, 64), (75, 100), (120, 90), (17, 5)])
def test_closed_form_score_is_the_unrounded_upscales_laplacian_variance(shape):
    """Without the rounding term, the closed form is the Laplacian variance of the bilinear
    upscale itself (computed here in float64, where cv2.resize does not round)."""
    rng = np.random.default_rng(shape[0])
    gray = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 1.0)
    upscaled = blur.normalise_size(gray.astype(np.float64))
    dense = float(np.var(cv2.Laplacian(upscaled, cv2.CV_64F)))
    assert blur.upscaled_laplacian_variance(gray, rounding_gain=0) == pytest.approx(dense, rel=1e-9, abs=1e-12)


def test_closed_form_is_only_for_small_images_that_would_be_upscaled():
    assert blur.scored_in_closed_form((64, 64)) and blur.scored_in_closed_form((96, 128))
    assert not blur.scored_in_closed_form((1000, 1000))  # upscaled, but the upscale is cheaper
    assert not blur.scored_in_closed_form((1500, 1500))  # downscaled
