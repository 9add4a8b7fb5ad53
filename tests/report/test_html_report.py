"""The HTML report: what it shows and bounds (rendered from rows), `imgval report` / `dupes` /
`scan --html` as a user runs them, and the page opened in a real headless Chromium."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgval.analysis.blur import FAST_DEFAULT_THRESHOLD
from imgval.report.dupe_listing import list_groups
from imgval.report.html import Limits, choose, histogram_svg, render
from imgval.report.reader import BlurVerdict, Results, Row, load_results, threshold_of
from imgval.synthetic import natural_image

from tests.browser import Chromium, chromium_or_skip
from tests.conftest import ROOT, run_script, write_image
from .test_report_groups import write_report

CLASSIC = BlurVerdict("classic", 100.0)
HOSTILE = '<img src=x onerror=alert(1)> & "q".jpg'  # no slash: a real file name


def row(path, score=500.0, blurry=False, hash="", sha256="", width=100, height=100, dup_group=None,
        exif_ok=True, exif_issues="", error=""):
    return Row(path, score, blurry, hash, width, height, "JPEG", sha256, dup_group, exif_ok, exif_issues, error)


def big_results(count=10_000):
    """10,000 rows: 10% blurry, 300 pairs of duplicates, 200 EXIF failures, 150 errors."""
    rows = []
    for i in range(count):
        pair = i // 2 + 1 if i < 600 else None
        rows.append(row(f"/batch/{i:05d}.jpg", score=50.0 + i if i % 10 == 0 else 1000.0 + i, blurry=i % 10 == 0,
                        dup_group=pair, exif_ok=not (1000 <= i < 1200),
                        exif_issues="missing required tags: Artist" if 1000 <= i < 1200 else "",
                        error="truncated" if i >= count - 150 else ""))
    return Results(rows, 100.0, True)


def no_preview(path):
    return None


def test_large_batches_show_a_bounded_page_that_says_how_many_more():
    limits = Limits()
    sections = choose(big_results(), None, limits)
    page = render(sections, CLASSIC, no_preview, no_preview, "results.csv")
    assert len(sections.blurry) == limits.blurry and sections.blurry_total == 1000
    assert len(sections.groups) == limits.groups and sections.groups_total == 300
    assert sections.grouped_images == 600
    assert f"and {1000 - limits.blurry} more blurry images, see results.csv" in page
    assert f"and {300 - limits.groups} more groups" in page
    assert f"and {200 - limits.exif} more rows" in page and f"and {150 - limits.errors} more rows" in page
    assert len(page) < 1_000_000  # without thumbnails; each shown thumbnail adds ~5-10 KB


def test_blurriest_first_and_best_copy_first_in_each_group():
    rows = [row("sharp.jpg", 900), row("b.jpg", 40, True), row("a.jpg", 10, True),
            row("small.jpg", 800, width=50, height=50, dup_group=1),
            row("big-soft.jpg", 20, True, width=200, height=200, dup_group=1),
            row("big-sharp.jpg", 300, width=200, height=200, dup_group=1)]
    sections = choose(Results(rows, 100.0, True), None, Limits(members=2))
    assert [r.filepath for r in sections.blurry] == ["a.jpg", "big-soft.jpg", "b.jpg"]
    group = sections.groups[0]
    assert group.members[group.best].row.filepath == "big-sharp.jpg"  # most pixels, then sharpest
    assert group.best == 0 and len(group.members) == 2 and group.hidden == 1


def test_file_names_are_escaped_everywhere():
    rows = [row(f"/in/{HOSTILE}", 5, True, dup_group=1, exif_ok=False, exif_issues="<b>bad</b>",
                error="<script>x</script>"), row("/in/copy.jpg", dup_group=1)]
    page = render(choose(Results(rows, 100.0, True), None, Limits()), CLASSIC, no_preview, no_preview,
                  "<results>.csv")
    assert "<img src=x" not in page and "<script>x" not in page and "<b>bad" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;.jpg" in page
    assert "&lt;results&gt;.csv" in page


def test_page_loads_nothing_from_anywhere():
    sections = choose(big_results(200), None, Limits())
    page = render(sections, CLASSIC, no_preview, no_preview)
    assert "default-src 'none'; img-src data:" in page
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<script" not in page and "<link" not in page


def test_histogram_is_log_scaled_with_the_threshold_marked():
    svg = histogram_svg([5.0, 50.0, 50.0, 5000.0], 100.0)
    assert 'id="threshold"' in svg and "threshold 100" in svg
    x_of_line = float(re.search(r'id="threshold" x1="([\d.]+)"', svg).group(1))
    ticks = {label: float(x) for x, label in re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">([\d.e+]+)<', svg)}
    assert ticks["100"] == pytest.approx(x_of_line, abs=0.2)  # 100 sits on the line
    assert ticks["10"] - ticks["1"] == pytest.approx(ticks["1000"] - ticks["100"], abs=0.2)  # decades equal
    assert sum("<rect" in part for part in svg.split("</rect>")) == 3  # 5, 50 (x2), 5000: three bins
    assert histogram_svg([0.0, 0.0], 100.0).count("<rect") == 1  # flat images: the first bin


def test_threshold_is_read_back_or_inferred():
    assert threshold_of(Results([row("a", 50, True), row("b", 150, False)], None, True)) == 100.0
    fast = FAST_DEFAULT_THRESHOLD
    assert threshold_of(Results([row("a", fast * 0.6, True), row("b", fast * 1.2, False)], None, True)) == fast
    assert threshold_of(Results([row("a", 10, True), row("b", 20, False)], None, True)) == 20.0
    assert threshold_of(Results([row("a", 10, True)], 42.0, True)) == 42.0


def test_report_and_dupes_commands_read_a_report_back(tmp_path):
    write_report(tmp_path / "r.csv")  # groups a.jpg + 2 near copies, and two identical broken files
    results = load_results(str(tmp_path / "r.csv"))
    assert results.has_groups and [r.dup_group for r in results.rows][:3] == [1, None, 1]
    groups, total = list_groups(results, radius=2)  # regrouped: near copies 4 and 8 bits away part
    assert total == 1 and [m.row.filepath for m in groups[0].members] == ["broken1.jpg", "broken2.jpg"]
    listed = run_script("-m", "imgval.cli", "dupes", str(tmp_path / "r.csv"), cwd=tmp_path, check=True).stdout
    assert listed.index("Group 1: 3 files") < listed.index("Group 2: 2 files")
    assert "* a.jpg" in listed and "(best copy)" in listed and "2 duplicate groups" in listed
    regrouped = run_script("-m", "imgval.cli", "dupes", "r.csv", "--dup-radius", "2", cwd=tmp_path, check=True)
    assert "Group 1: 2 files" in regrouped.stdout and "Group 2" not in regrouped.stdout
    result = run_script("-m", "imgval.cli", "report", "r.csv", "--html", "r.html", cwd=tmp_path, check=True)
    assert "2 duplicate groups" in result.stdout and (tmp_path / "r.html").stat().st_size > 0
    bad = run_script("-m", "imgval.cli", "report", "missing.csv", "--html", "r.html", cwd=tmp_path)
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def scanned_batch(tmp_path_factory, sharp_image, blurry_image):
    """A scan with --html of every kind of finding: blurry, duplicates, EXIF failure, errors,
    and a hostile file name."""
    root = tmp_path_factory.mktemp("html")
    folder = root / "batch"
    write_image(folder / "sharp.jpg", sharp_image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    write_image(folder / "blurry.jpg", blurry_image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    write_image(folder / "access copy.jpg", cv2.resize(sharp_image, (600, 400), interpolation=cv2.INTER_AREA))
    # another picture (a flipped copy would now join sharp.jpg's group through hash_oriented)
    write_image(folder / f"{HOSTILE}.png", natural_image(1200, 800, seed=12))
    write_image(folder / "icon.jpg", natural_image(96, 72, seed=13))  # too small to judge
    grey = np.full((600, 800, 3), 128, np.uint8) + np.random.default_rng(5).integers(0, 2, (600, 800, 3), np.uint8)
    write_image(folder / "lens cap.png", grey)  # blank
    data = (folder / "sharp.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    profile = root / "profile.toml"
    profile.write_text('name = "needs artist"\nrequired_tags = ["Artist"]\n')
    result = run_script(str(ROOT / "process.py"), "-i", str(folder), "-s", str(root / "results.csv"),
                        "--html", str(root / "report.html"), "--profile", str(profile), "--no-cache",
                        cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def test_scan_html_writes_every_section_with_thumbnails_and_blur_maps(scanned_batch):
    page = (scanned_batch / "report.html").read_text()
    for section in ("summary", "histogram", "blurry", "unjudged", "duplicates", "exif", "errors"):
        assert f'<section id="{section}"' in page
    rows = list(csv.DictReader(open(scanned_batch / "results.csv", newline="")))
    # The resized copy and the blurred one keep sharp.jpg's pHash: one group, sharp.jpg best.
    groups = {Path(r["filepath"]).name: r["dup_group"] for r in rows}
    assert groups["sharp.jpg"] == groups["access copy.jpg"] == groups["blurry.jpg"] == "1"
    assert groups["truncated.jpg"] == groups[f"{HOSTILE}.png"] == groups["icon.jpg"] == groups["lens cap.png"] == "0"
    status = {Path(r["filepath"]).name: (r["blurry"], r["blur_status"]) for r in rows}
    assert status["icon.jpg"] == ("False", "too small") and status["lens cap.png"] == ("False", "blank")
    unjudged = page[page.index('<section id="unjudged"'):]
    unjudged = unjudged[:unjudged.index("</section>")]
    too_small, blank = unjudged.index('data-status="too small"'), unjudged.index('data-status="blank"')
    assert too_small < unjudged.index("icon.jpg") < blank < unjudged.index("lens cap.png")
    duplicates = page[page.index('<section id="duplicates"'):]
    duplicates = duplicates[:duplicates.index("</section>")]
    assert duplicates.index("best copy") < duplicates.index("sharp.jpg") < duplicates.index("access copy.jpg")
    blurry = sum(r["blurry"] == "True" for r in rows)
    assert blurry >= 1 and page.count('alt="blur map"') == blurry  # each blurry image, with its map
    assert page.count("data:image/jpeg;base64,") >= 5
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


def test_report_renders_in_a_real_browser_without_console_errors(scanned_batch, tmp_path):
    binary = chromium_or_skip()
    with Chromium(binary) as browser:
        page = browser.new_page()
        page.open((scanned_batch / "report.html").as_uri())
        # Every thumbnail decoded, sections in the rendered DOM (not only in the source).
        state = page.evaluate("""(async () => {
            const images = [...document.images];
            await Promise.all(images.map(i => i.decode().catch(() => null)));
            return {
              sections: [...document.querySelectorAll('section')].map(s => s.id),
              headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
              images: images.length,
              broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
              bars: document.querySelectorAll('#histogram svg rect.bar').length,
              svgWidth: document.querySelector('#histogram svg').getBoundingClientRect().width,
              best: document.querySelectorAll('#duplicates figure.best').length,
              scripts: document.scripts.length,
              hostile: document.body.innerText.includes('<img src=x onerror=alert(1)>'),
            };
        })()""")
        shot = page.screenshot()
        errors = page.console_errors()
        page.close()
    assert state["sections"] == ["summary", "histogram", "blurry", "unjudged", "duplicates", "exif", "errors"]
    assert any(h.startswith("Duplicate groups") for h in state["headings"])
    assert state["images"] >= 5 and state["broken"] == []
    assert state["bars"] >= 2 and state["svgWidth"] > 300 and state["best"] == 1
    assert state["scripts"] == 0 and state["hostile"]  # the name shown as text, not run
    assert errors == []
    picture = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == 1280 and picture.std() > 20  # not a blank page
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 1000  # thumbnails, not just text


def test_the_browser_check_does_catch_console_errors(tmp_path):
    """The page above passing means something: a broken page fails the same checks."""
    binary = chromium_or_skip()
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
                   "<p>x</p><script>console.error('boom')</script>")
    with Chromium(binary) as browser:
        page = browser.new_page()
        page.open(bad.as_uri())
        errors = page.console_errors()
        page.close()
    assert errors and any("Content Security Policy" in e or "boom" in e for e in errors)


def test_thumbnails_fit_160px_upright_from_16_bit_cmyk_and_rotated_files(tmp_path):
    from PIL import Image

    from imgval.report.thumbnails import file_preview

    write_image(tmp_path / "master16.tif", (np.arange(300 * 400, dtype=np.uint32) % 65536)
                .astype(np.uint16).reshape(300, 400))
    Image.new("CMYK", (400, 300), (10, 200, 30, 0)).save(tmp_path / "print.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees: a portrait
    Image.new("RGB", (400, 300), (200, 10, 10)).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    sizes = {name: file_preview(str(tmp_path / name)) for name in ("master16.tif", "print.jpg", "phone.jpg")}
    assert (sizes["master16.tif"].width, sizes["master16.tif"].height) == (160, 120)
    assert (sizes["print.jpg"].width, sizes["print.jpg"].height) == (160, 120)
    assert (sizes["phone.jpg"].width, sizes["phone.jpg"].height) == (120, 160)
    assert all(p.uri.startswith("data:image/jpeg;base64,") for p in sizes.values())
    (tmp_path / "half.jpg").write_bytes((tmp_path / "phone.jpg").read_bytes()[:200])
    assert file_preview(str(tmp_path / "half.jpg")) is None and file_preview(str(tmp_path / "gone.jpg")) is None


def test_names_read_back_as_they_are_on_disk_and_print_safely(tmp_path):
    from imgval.analysis.analyze import Record
    from imgval.cli.dupes import printable
    from imgval.report.writers import Report

    names = ["=cmd.jpg", "+1.jpg", "plain.jpg", "bell\x07\x1b[31m.jpg"]
    report = Report(str(tmp_path / "r.csv"), "csv", [], 100.0)
    for name in names:
        report.write(Record(name, hash="0" * 16, sha256="ab" * 32))
    report.close(0)
    assert "'=cmd.jpg" in (tmp_path / "r.csv").read_text()  # neutralised for spreadsheets...
    assert [r.filepath for r in load_results(str(tmp_path / "r.csv")).rows] == names  # ...not for us
    assert printable(names[3]) == "bell\\x07\\x1b[31m.jpg"
