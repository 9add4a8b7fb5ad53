"""File names that are not valid UTF-8 (issue 11.1): old Windows/Mac archives and zip files have
them. Every such file gets its row, its name shown with the undecodable bytes as \\xNN escapes,
and the row still leads back to the file (imgval report, imgval dupes, the cache)."""
from __future__ import annotations

import csv
import json
import os
import re

import cv2

from imgval.cli import exitcodes
from imgval.escaped_names import on_disk, shown
from imgval.synthetic import natural_image

from tests.cli.test_outputs import imgval
from tests.conftest import ROOT, run_script

LATIN1_NAME = b"caf\xe9.jpg"  # "café.jpg" as Windows-1252 wrote it: not UTF-8


def test_shown_escapes_only_undecodable_bytes_and_reads_back():
    raw = os.fsdecode(b"/batch/caf\xe9 \\ \xff.jpg")
    text = shown(raw)
    assert text == "/batch/caf\\xe9 \\\\ \\xff.jpg"
    text.encode("utf-8")  # writable anywhere
    assert shown("/batch/café \\ ok.jpg") == "/batch/café \\ ok.jpg"  # valid names unchanged


def test_on_disk_finds_the_file_a_shown_name_came_from(tmp_path):
    folder = os.fsencode(tmp_path)
    open(folder + b"/caf\xe9.jpg", "wb").close()
    open(folder + b"/plain \\x41.jpg", "wb").close()  # a real backslash-x in a valid name
    raw = os.fsdecode(folder + b"/caf\xe9.jpg")
    assert on_disk(shown(raw)) == raw
    assert os.path.exists(on_disk(shown(raw)))
    plain = os.fsdecode(folder + b"/plain \\x41.jpg")
    assert on_disk(shown(plain)) == plain  # taken as it is: that name exists


def make_batch(tmp_path):
    """A folder with a non-UTF-8 name, a byte-identical copy of it (a duplicate pair) and a
    plainly named image; bytes paths, as an archive unpacks them."""
    folder = os.fsencode(tmp_path / "batch")
    os.mkdir(folder)
    ok, encoded = cv2.imencode(".jpg", natural_image(320, 240, seed=4))
    assert ok
    for name in (LATIN1_NAME, b"copy \xff\xfe.jpg", b"plain.jpg"):
        with open(folder + b"/" + name, "wb") as handle:
            handle.write(encoded.tobytes())
    with open(folder + b"/other.jpg", "wb") as handle:
        handle.write(cv2.imencode(".jpg", natural_image(320, 240, seed=9))[1].tobytes())
    return tmp_path / "batch"


def test_scan_csv_cache_html_report_and_dupes_survive_non_utf8_names(tmp_path):
    batch = make_batch(tmp_path)
    cache = tmp_path / "cache.sqlite"
    log = tmp_path / "run.log"
    args = ["-i", str(batch), "-s", "r.csv", "--html", "r.html", "--cache", str(cache),
            "--log-file", str(log), "-j", "1", "-v"]
    first = run_script(str(ROOT / "process.py"), *args, cwd=tmp_path)
    assert first.returncode == exitcodes.OK, first.stderr
    assert "Traceback" not in first.stderr and "Logging error" not in first.stderr
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = sorted(row["filepath"].rsplit("/", 1)[-1] for row in rows)
    assert names == ["caf\\xe9.jpg", "copy \\xff\\xfe.jpg", "other.jpg", "plain.jpg"]
    for row in rows:  # every row was analysed and leads back to its file
        assert row["error"] == "" and row["score"]
        assert os.path.exists(on_disk(row["filepath"]))
    assert len({row["dup_group"] for row in rows if "\\x" in row["filepath"] or "plain" in row["filepath"]}) == 1
    assert "caf\\xe9.jpg" in log.read_text(encoding="utf-8")

    again = run_script(str(ROOT / "process.py"), *args, cwd=tmp_path)  # reused from the cache
    assert again.returncode == exitcodes.OK, again.stderr
    assert re.search(r"0 analysed, 4 reused", again.stdout), again.stdout

    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "caf\\xe9.jpg" in page
    assert "no preview" not in page.split('id="duplicates"')[1].split("</section>")[0]  # thumbnails found

    report = imgval("report", "r.csv", "--html", "again.html", cwd=tmp_path)
    assert report.returncode == exitcodes.OK, report.stderr
    assert "caf\\xe9.jpg" in (tmp_path / "again.html").read_text(encoding="utf-8")
    dupes = imgval("dupes", "r.csv", cwd=tmp_path)
    assert dupes.returncode == exitcodes.OK, dupes.stderr
    size = os.path.getsize(os.fsencode(batch) + b"/" + LATIN1_NAME)
    assert re.search(r"caf\\xe9\.jpg\s+320x240\s+%d bytes" % size, dupes.stdout), dupes.stdout


def test_json_report_uses_the_same_escaped_names(tmp_path):
    batch = make_batch(tmp_path)
    result = run_script(str(ROOT / "process.py"), "-i", str(batch), "-o", "json", "--no-cache", "--html",
                        "r.html", "-j", "1", cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert any(row["filepath"].endswith("/caf\\xe9.jpg") for row in data["results"])
    assert "caf\\xe9.jpg" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_process_blur_survives_non_utf8_names(tmp_path):
    batch = make_batch(tmp_path)
    result = run_script(str(ROOT / "process_blur.py"), "-i", str(batch), "--blur-map-dir", "maps", cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    assert "caf\\xe9.jpg" in result.stdout and len(result.stdout.splitlines()) == 5
    assert len(list((tmp_path / "maps").glob("*caf\\xe9.jpg.blurmap.png"))) == 1


def test_control_characters_in_names_cannot_forge_log_lines(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    ok, encoded = cv2.imencode(".jpg", natural_image(64, 48, seed=2))
    forged = "x.jpg\n2026-01-01 00:00:00,000 WARNING all good\x1b[2K.jpg"
    (folder / forged).write_bytes(encoded.tobytes())
    log = tmp_path / "run.log"
    result = run_script(str(ROOT / "process.py"), "-i", str(folder), "--no-cache", "--log-file", str(log), "-v",
                        cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    for text in (log.read_text(encoding="utf-8"), result.stderr, result.stdout):
        assert "\n2026-01-01 00:00:00,000 WARNING all good" not in text and "\x1b" not in text
    assert "x.jpg\\n2026-01-01" in log.read_text(encoding="utf-8")
