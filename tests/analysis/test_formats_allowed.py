"""Only the formats imgval lists are ever decoded: anything else Pillow could open (PostScript,
which Pillow hands to Ghostscript; ICNS and ICO, which wrap other codecs; PSD, TGA, ...) is a
"not a supported image" row in every pass, never decoded."""
import io

import pytest
from PIL import EpsImagePlugin, Image

from imgval.analysis import decode
from imgval.report import thumbnails
from imgval.analysis.analyze import Settings, analyze_path
from imgval.report.reader import load_results

from tests.conftest import ROOT, run_script

POSTSCRIPT_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\n"


def pillow_file(fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def never_run_ghostscript(monkeypatch):
    """Fail the test if the EPS plugin is ever asked to open or load a file (whether or not
    Ghostscript is installed here)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the EPS plugin was used")
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)


@pytest.mark.parametrize("name, data, looks_like", [
    ("photo.jpg", POSTSCRIPT_LOOP, "EPS"),
    ("icon.png", pillow_file("ICNS"), "ICNS"),
    ("icon.bmp", pillow_file("ICO"), "ICO"),
    ("layers.tif", pillow_file("SGI"), "SGI"),
    ("notes.jpg", b"just some text\n" * 10, None),
    ("scan.jpg", pillow_file("PCX"), "PCX"),
    ("doc.jpg", b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n", "PDF"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_other_formats_are_refused_by_name(tmp_path, never_run_ghostscript, name, data, looks_like):
    path = tmp_path / name
    path.write_bytes(data)
    record = analyze_path(str(path), Settings())
    assert record.score is None and record.hash == ""
    if looks_like:
        assert record.error.startswith(f"not a supported image: looks like {looks_like}"), record.error
    else:
        assert record.error.startswith("not an image"), record.error
    with pytest.raises(decode.DecodeError):
        thumbnails.thumbnail(data)
    assert thumbnails.file_preview(str(path)) is None


def test_listed_formats_still_open(tmp_path):
    for fmt, params in [("JPEG", {}), ("PNG", {}), ("TIFF", {}), ("WEBP", {}), ("BMP", {}), ("GIF", {}),
                        ("JPEG2000", {}), ("MPO", {})]:
        header, _ = decode.probe(pillow_file(fmt, **params))
        assert header.width == 64, fmt


def test_scan_and_report_give_the_eps_row_and_no_preview(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(POSTSCRIPT_LOOP)
    out, html = tmp_path / "r.csv", tmp_path / "r.html"
    result = run_script(str(ROOT / "process.py"), "-i", str(folder), "-s", str(out), "--html", str(html),
                        "--no-cache", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [row] = load_results(str(out)).rows
    assert row.error.startswith("not a supported image: looks like EPS")
    report = run_script("-m", "imgval.cli", "report", str(out), "--html", str(tmp_path / "again.html"),
                        cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    for page in (html, tmp_path / "again.html"):
        text = page.read_text()
        assert "looks like EPS" in text and "data:image/jpeg" not in text
