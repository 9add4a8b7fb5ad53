"""The conformance columns as a scan writes them: one verdict and the issues per file."""
from __future__ import annotations

import csv

import cv2
from click.testing import CliRunner

from imgval.analysis.conformance import NOT_WELL_FORMED, WELL_FORMED_AND_VALID, WELL_FORMED_NOT_VALID
from imgval.cli.main import main
from imgval.synthetic import natural_image


def test_the_scan_report_has_the_conformance_columns(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    ok, png = cv2.imencode(".png", natural_image(160, 120, seed=4))
    (folder / "good.png").write_bytes(png.tobytes())
    (folder / "junk-after-iend.png").write_bytes(png.tobytes() + b"xx")
    (folder / "cut.png").write_bytes(png.tobytes()[:-200])
    out = tmp_path / "results.csv"
    result = CliRunner().invoke(main, ["scan", "--no-cache", "-j", "1", "-s", str(out), "-i", str(folder)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {row["filepath"].rsplit("/", 1)[-1]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["good.png"]["conformance"] == WELL_FORMED_AND_VALID
    assert rows["good.png"]["conformance_issues"] == ""
    assert rows["junk-after-iend.png"]["conformance"] == WELL_FORMED_NOT_VALID
    assert rows["junk-after-iend.png"]["conformance_issues"] == "2 bytes after the IEND chunk"
    assert rows["cut.png"]["conformance"] == NOT_WELL_FORMED
    assert "truncated" in rows["cut.png"]["conformance_issues"]
