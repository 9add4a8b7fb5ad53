"""CSV injection (issue 11): no cell of a CSV report can start a formula in a spreadsheet, however
the formula character is hidden (OWASP: leading whitespace, invisible characters, look-alikes),
and reading the report back gives the original text."""
from __future__ import annotations

import csv

import pytest
from PIL import Image

from imgval.report.reader import load_results
from imgval.report.spreadsheet import is_formula_like, neutralise, unneutralise

from tests.conftest import ROOT, run_script

HIDDEN_FORMULAS = [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1",
    "  =HYPERLINK(\"http://x\")",  # leading spaces
    "\u00a0=1",  # no-break space
    "\u200b=1", "\ufeff=1", "\u2060@x", "\u200e-1",  # zero-width space, BOM, word joiner, LRM
    "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20x",  # full-width = + - @
    "\u3000\uff1dx",  # ideographic space, then a full-width =
    "\ufe62x", "\ufe63x", "\u2212x",  # small + and -, minus sign: NFKC maps them to + and -
]
PLAIN = ["photo.jpg", "Canon", "", "2024-01-01 10:00:00", "a=b", "x-1", "'quoted"]


@pytest.mark.parametrize("cell", HIDDEN_FORMULAS)
def test_hidden_formula_characters_are_neutralised(cell):
    assert is_formula_like(cell)
    assert neutralise(cell) == "'" + cell
    assert unneutralise(neutralise(cell)) == cell


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_text_is_left_alone(cell):
    assert not is_formula_like(cell)
    assert neutralise(cell) == cell
    assert unneutralise(cell) == cell


def jpeg_with_exif(path, **tags):
    exif = Image.Exif()
    codes = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "artist": 0x013B, "copyright": 0x8298}
    for name, value in tags.items():
        exif[codes[name]] = value.encode()  # UTF-8 bytes: Pillow writes str tags as ASCII
    Image.new("RGB", (64, 48), (120, 80, 40)).save(path, "JPEG", exif=exif.tobytes())


def test_scan_neutralises_file_names_and_every_exif_field(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    tags = {"make": "\u200b=HYPERLINK(\"http://evil\")", "model": "\uff0bcmd", "software": "\ufeff@SUM(1)",
            "artist": "\u2060-2+3", "copyright": "\u200b\u3000\uff1d1"}
    jpeg_with_exif(folder / "\u200b=cmd.jpg", **tags)
    jpeg_with_exif(folder / "\uff20name.jpg")
    out = tmp_path / "r.csv"
    run_script(str(ROOT / "process.py"), "-i", "\u200b=cmd.jpg", "\uff20name.jpg", "-s", str(out), "-j", "1",
               cwd=folder, check=True)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    for row in rows:
        for column, value in row.items():
            assert not is_formula_like(value), (column, value)
    by_model = {row["model"]: row for row in rows}
    tagged = by_model["'\uff0bcmd"]
    assert tagged["filepath"] == "'\u200b=cmd.jpg"
    assert {name: tagged[name] for name in tags} == {name: "'" + value for name, value in tags.items()}
    # read back (imgval report / dupes) the names are the files' own
    assert sorted(r.filepath for r in load_results(str(out)).rows) == ["\u200b=cmd.jpg", "\uff20name.jpg"]
