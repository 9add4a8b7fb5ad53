"""Reports say what they were made with and find their files from anywhere (issue 12, points 4
and 5): the run's metadata in JSON (`meta`), beside a CSV (results.meta.json) and on the HTML
page; `imgval report` / `imgval dupes` resolve relative paths from the folder the scan ran in,
and warn when previews cannot be made; the histogram splits the bar the threshold cuts."""
from __future__ import annotations

import json
import re
import shutil

import cv2

from imgval import __version__
from imgval.report.html import histogram_svg

from tests.conftest import ROOT, run_script, write_image


def scan_relative(tmp_path, small_batch, *args):
    """A scan run in the project folder with a relative input, its report in reports/."""
    project = tmp_path / "project"
    shutil.copytree(small_batch, project / "batch")
    (project / "reports").mkdir()
    write_image(project / "batch" / "copy.jpg", cv2.imread(str(small_batch / "sharp.jpg")))
    result = run_script(str(ROOT / "process.py"), "-i", "batch", "-s", "reports/results.csv", "--no-cache",
                        "-j", "1", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    return project


def previews_in(page: str) -> int:
    return len(re.findall(r'<img src="data:image/jpeg', page))


def test_report_and_dupes_from_another_folder_find_the_files(tmp_path, small_batch):
    project = scan_relative(tmp_path, small_batch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = str(project / "reports" / "results.csv")
    page = elsewhere / "page.html"
    made = run_script("-m", "imgval", "report", report, "--html", str(page), cwd=elsewhere)
    assert made.returncode == 0 and "could not be previewed" not in made.stderr, made.stderr
    assert "no preview" not in page.read_text() and previews_in(page.read_text()) >= 2
    dupes = run_script("-m", "imgval", "dupes", report, cwd=elsewhere)
    assert re.search(r"batch/copy\.jpg\s+480x360\s+\d+ bytes", dupes.stdout), dupes.stdout

    # the whole project moved: the recorded base is relative to the report, so it still resolves
    moved = tmp_path / "moved"
    shutil.move(project, moved)
    again = run_script("-m", "imgval", "report", str(moved / "reports" / "results.csv"), "--html", str(page),
                       cwd=elsewhere)
    assert again.returncode == 0 and "could not be previewed" not in again.stderr

    # an image changed since the scan (found, but no longer an image): said apart from missing ones
    changed = next((moved / "batch").glob("*.jpg"))
    changed.write_bytes(b"not an image any more")
    again = run_script("-m", "imgval", "report", str(moved / "reports" / "results.csv"), "--html", str(page),
                       cwd=elsewhere)
    assert again.returncode == 0 and "could not be previewed: found, but not decoded now" in again.stderr
    assert "not found" not in again.stderr and changed.name in again.stderr, again.stderr

    shutil.rmtree(moved / "batch")  # the images are gone: say so, do not pass in silence
    gone = run_script("-m", "imgval", "report", str(moved / "reports" / "results.csv"), "--html", str(page),
                      cwd=elsewhere)
    assert gone.returncode == 0 and "could not be previewed: not found" in gone.stderr, gone.stderr
    assert "looked up from" in gone.stderr and "not decoded now" not in gone.stderr


def test_json_csv_and_html_carry_the_runs_metadata(tmp_path, small_batch):
    project = scan_relative(tmp_path, small_batch, "-t", "50", "--html", "reports/page.html",
                            "--profile", str(ROOT / "examples" / "profile.toml"))
    meta = json.loads((project / "reports" / "results.meta.json").read_text())
    assert meta["threshold"] == 50 and meta["mode"] == "default" and meta["imgval"] == __version__
    assert meta["inputs"] == ["batch"] and meta["profile"] == "Archival masters" and meta["created"]
    page = (project / "reports" / "page.html").read_text()
    run_block = page[page.index('<dl id="run"'):page.index("</dl>")]
    for text in ("Archival masters", "default", "batch", meta["created"], "50"):
        assert text in run_block, text
    assert "below 50." in page

    again = run_script("-m", "imgval", "report", "reports/results.csv", "--html", "reports/again.html",
                       cwd=project)
    assert again.returncode == 0
    assert "below 50." in (project / "reports" / "again.html").read_text()  # not inferred from the scores

    (project / "reports" / "results.meta.json").unlink()  # an older report: the page says it does not know
    run_script("-m", "imgval", "report", "reports/results.csv", "--html", "reports/old.html", cwd=project,
               check=True)
    old = (project / "reports" / "old.html").read_text()
    assert "were not recorded" in old and "does not record" in old

    result = run_script(str(ROOT / "process.py"), "-i", "batch", "-s", "r.json", "-o", "json", "--no-cache",
                        "--fast", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads((project / "r.json").read_text())
    assert data["meta"]["mode"] == "fast" and data["meta"]["threshold"] == data["threshold"]
    assert list(data)[:3] == ["images", "threshold", "fix_size"] and "results" in data


def test_the_bar_the_threshold_cuts_shows_its_blurry_and_sharp_images():
    scores = [90.0, 91.0, 92.0, 93.0, 101.0, 5000.0]  # one bin holds 90..101 with 100 inside it
    flags = [True, True, True, True, False, False]
    svg = histogram_svg(scores, 100.0, flags, bins=8)
    bars = re.findall(r'<rect class="bar (blurry|sharp)"[^>]*height="([\d.]+)"[^>]*><title>([^<]*)', svg)
    shared = [(kind, float(h)) for kind, h, title in bars if title.startswith("5 image(s)")]
    assert dict(shared)["blurry"] == 4 * dict(shared)["sharp"]
    assert "4 flagged blurry" in svg
