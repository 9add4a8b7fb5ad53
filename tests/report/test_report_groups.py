"""sha256 and dup_group in the report: exact copies always grouped, near copies by pHash radius,
ids 1, 2, ... largest group first, rows in their original order, nothing left behind."""
from __future__ import annotations

import csv
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from imgval.analysis.analyze import Record, Settings, analyze_bytes
from imgval.dupes.index import duplicate_groups
from imgval.report.writers import COLUMNS, Report

from imgval.synthetic import natural_image
from tests.conftest import ROOT, run_script, write_image

A = "e54a337264bc8b36"


def near(value: str, bits: int) -> str:
    """The hash with its `bits` lowest bits flipped."""
    return f"{int(value, 16) ^ ((1 << bits) - 1):016x}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def records():
    return [
        Record("a.jpg", score=50.0, hash=A, sha256=digest("a")),
        Record("unique.jpg", score=500.0, hash="0123456789abcdef", sha256=digest("u")),
        Record("a-resized.png", score=20.0, hash=near(A, 4), sha256=digest("a2")),
        Record("broken1.jpg", error="truncated", sha256=digest("broken")),
        Record("a-crop.jpg", score=40.0, hash=near(A, 8), sha256=digest("a3")),
        Record("broken2.jpg", error="truncated", sha256=digest("broken")),
        Record("unreadable.jpg", error="cannot read file"),
        Record("also-unreadable.jpg", error="cannot read file"),
    ]


def write_report(path, output_format="csv", radius=8):
    report = Report(str(path), output_format, ["in"], 100.0, dup_radius=radius)
    for record in records():
        report.write(record)
    report.close(blurry_counts=3)
    return report


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_columns_keep_the_original_four_first_then_sha256_and_dup_group_after_format():
    assert COLUMNS[:4] == ("filepath", "score", "blurry", "hash")
    assert COLUMNS[6] == "format"
    assert COLUMNS.index("format") < COLUMNS.index("sha256") < COLUMNS.index("md5") < COLUMNS.index("dup_group")
    assert COLUMNS[-4:] == ("exif_ok", "exif_status", "exif_issues", "error")


def test_csv_groups_near_and_exact_copies_largest_first_in_row_order(tmp_path):
    report = write_report(tmp_path / "r.csv")
    rows = read_rows(tmp_path / "r.csv")
    assert [r["filepath"] for r in rows] == [r.filepath for r in records()]
    groups = {r["filepath"]: r["dup_group"] for r in rows}
    assert groups == {"a.jpg": "1", "a-resized.png": "1", "a-crop.jpg": "1",  # 3 near copies
                      "broken1.jpg": "2", "broken2.jpg": "2",  # byte-identical, no pHash
                      "unique.jpg": "0", "unreadable.jpg": "0", "also-unreadable.jpg": "0"}  # 0: no group
    assert rows[0]["sha256"] == digest("a")
    assert report.duplicates.groups == 2 and report.duplicates.images == 5


def test_radius_decides_which_near_copies_join_and_groups_chain(tmp_path):
    # a-crop is 8 bits from a.jpg but 4 from a-resized.png, which is 4 from a.jpg: one chain.
    write_report(tmp_path / "r4.csv", radius=4)
    groups = {r["filepath"]: r["dup_group"] for r in read_rows(tmp_path / "r4.csv")}
    assert groups["a.jpg"] == groups["a-resized.png"] == groups["a-crop.jpg"] == "1"
    write_report(tmp_path / "r2.csv", radius=2)
    groups = {r["filepath"]: r["dup_group"] for r in read_rows(tmp_path / "r2.csv")}
    assert groups["a.jpg"] == groups["a-resized.png"] == groups["a-crop.jpg"] == "0"
    assert groups["broken1.jpg"] == groups["broken2.jpg"] == "1"  # exact copies regardless


def test_json_report_has_the_groups_too(tmp_path):
    write_report(tmp_path / "r.json", "json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["blurry_counts"] == 3
    groups = {r["filepath"]: r["dup_group"] for r in data["results"]}
    assert groups["a.jpg"] == 1 and groups["broken2.jpg"] == 2 and groups["unique.jpg"] == 0


def test_a_discarded_report_leaves_no_files(tmp_path):
    report = Report(str(tmp_path / "r.csv"), "csv", ["in"], 100.0)
    report.write(records()[0])
    report.discard()
    assert os.listdir(tmp_path) == []


def test_exact_copies_group_even_at_radius_zero_and_identical_hashes_too():
    ids = duplicate_groups([A, near(A, 2), None, None, A], ["x", "y", "z", "z", "w"], 0)
    assert list(ids) == [0, -1, 1, 1, 0]


def test_sha256_is_the_hash_of_the_file_bytes_readable_or_not(sharp_image):
    ok, encoded = cv2.imencode(".jpg", sharp_image)
    data = encoded.tobytes()
    assert analyze_bytes("x.jpg", data, Settings()).sha256 == hashlib.sha256(data).hexdigest()
    broken = analyze_bytes("y.jpg", b"not an image", Settings())
    assert broken.error and broken.sha256 == hashlib.sha256(b"not an image").hexdigest()


def test_scan_groups_a_resized_derivative_and_documents_the_radius(tmp_path, sharp_image):
    folder = tmp_path / "in"
    write_image(folder / "master.png", sharp_image)
    write_image(folder / "access.jpg", cv2.resize(sharp_image, (600, 400), interpolation=cv2.INTER_AREA))
    write_image(folder / "mirrored.jpg", np.ascontiguousarray(sharp_image[:, ::-1]))  # found by hash_oriented
    height, width = sharp_image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), -4.5, 1.0)
    write_image(folder / "askew.png", cv2.warpAffine(sharp_image, turn, (width, height),  # and hash_rotated
                                                     borderMode=cv2.BORDER_REFLECT))
    write_image(folder / "other.jpg", natural_image(1800, 1200, seed=11))
    (folder / "copy.png").write_bytes((folder / "master.png").read_bytes())
    result = run_script(str(ROOT / "process.py"), "-i", str(folder), "-s", str(tmp_path / "r.csv"),
                        "--no-cache", cwd=tmp_path, check=True)
    rows = read_rows(tmp_path / "r.csv")
    groups = {r["filepath"].rsplit("/", 1)[-1]: r["dup_group"] for r in rows}
    assert groups == {"master.png": "1", "copy.png": "1", "access.jpg": "1", "mirrored.jpg": "1",
                      "askew.png": "1", "other.jpg": "0"}, result.stderr
    by_name = {r["filepath"].rsplit("/", 1)[-1]: r for r in rows}
    assert by_name["mirrored.jpg"]["hash"] != by_name["master.png"]["hash"]  # the stored pHash is as before
    # Regrouping from the report finds the mirrored copy as the scan did.
    regrouped = run_script("-m", "imgval.cli", "dupes", str(tmp_path / "r.csv"), "--dup-radius", "8",
                           cwd=tmp_path, check=True).stdout
    assert "mirrored.jpg" in regrouped and "askew.png" in regrouped and "other.jpg" not in regrouped
    assert len(by_name["askew.png"]["hash_rotated"].split()) == len(by_name["askew.png"]["hash_oriented"].split())
    help_text = run_script(str(ROOT / "process.py"), "--help", cwd=tmp_path, check=True).stdout
    assert "--dup-radius" in help_text and "default: 8" in help_text


@pytest.mark.parametrize("radius", ["-1", "65", "x"])
def test_bad_radius_is_a_usage_error(tmp_path, radius):
    (tmp_path / "in").mkdir()
    result = run_script(str(ROOT / "process.py"), "-i", "in", "--dup-radius", radius, cwd=tmp_path)
    assert result.returncode == 2 and "--dup-radius" in result.stderr
