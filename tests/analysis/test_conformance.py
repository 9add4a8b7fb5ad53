"""Well-formed and valid, in JHOVE's words: the verdicts and issue lists archives rely on, on
files the real writers make and on each defect made deliberately; every issue listed, not just
the first; no file makes a parser raise or loop."""
from __future__ import annotations

import io
import random
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from imgval.analysis.analyze import Settings, analyze_bytes, analyze_path
from imgval.analysis.conformance import (NOT_WELL_FORMED, WELL_FORMED_AND_VALID, WELL_FORMED_NOT_VALID, _checker,
                                check_conformance)
from imgval.analysis.conformance import gif, jpeg, png, tiff
from imgval.analysis.conformance.corpus import DEFECTS, LAYOUTS, corpus, package_files, photographs
from imgval.analysis.conformance.evaluate import evaluate, judged


@pytest.fixture(scope="module")
def small_corpus():
    """The shipped corpus on two photographs (one colour, one greyscale) at 96 pixels."""
    return list(corpus(photographs(["astronaut", "camera"], max_side=96)))


@pytest.mark.parametrize("fmt", list(LAYOUTS))
def test_every_valid_layout_passes_and_every_defect_is_found_for_its_own_reason(small_corpus, fmt):
    samples = [s for s in small_corpus if s.format == fmt]
    table, wrong = evaluate(samples)
    row = table[fmt]
    assert row["valid"] == 2 * len(LAYOUTS[fmt])
    assert row["kinds"] == set(DEFECTS[fmt]), "a defect kind applies to none of the layouts"
    assert [(s.name, verdict, issues) for s, verdict, issues in wrong] == []
    assert row["flagged"] == 0 and row["found"] == row["defects"] > 0


def test_the_evaluation_counts_a_missed_defect_and_a_flagged_valid_file(small_corpus):
    valid = next(s for s in small_corpus if s.name == "PNG/libpng-rgb/astronaut")
    damaged = next(s for s in small_corpus if s.name == "PNG/libpng-rgb/astronaut+crc-mismatch")
    relabelled = type(damaged)(damaged.name, "PNG", valid.data, damaged.expected, damaged.expected_issue)
    flagged = type(valid)(valid.name, "PNG", damaged.data, valid.expected)
    table, wrong = evaluate([relabelled, flagged])
    assert table["PNG"]["found"] == 0 and table["PNG"]["flagged"] == 1 and len(wrong) == 2
    assert judged(damaged)[0] and judged(valid)[0]


def photo() -> np.ndarray:
    return photographs(["coffee"], max_side=160)[0][1]


def jpeg_bytes(**options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo()).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def test_every_issue_is_listed_not_just_the_first():
    data = jpeg_bytes()
    # no JFIF header (APP0 dropped), a DRI of the wrong length, and junk after EOI: three issues
    app0_end = 4 + (data[4] << 8 | data[5])
    damaged = data[:2] + b"\xff\xdd\x00\x05\x00\x00\x00" + data[app0_end:] + b"trailing junk"
    result = check_conformance(damaged)
    assert result.verdict == WELL_FORMED_NOT_VALID
    assert len(result.issues) == 3, result.issues
    assert any("DRI" in issue for issue in result.issues)
    assert any("13 bytes after the EOI marker" in issue for issue in result.issues)
    assert any("no JFIF (APP0)" in issue for issue in result.issues)
    assert result.summary == "; ".join(result.issues)


def test_tiff_issues_of_several_kinds_are_all_reported():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, photo(), photometric="rgb", rowsperstrip=8)
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    for i in range(count):  # PhotometricInterpretation 2 -> 1: one colour sample for three
        if struct.unpack_from("<H", data, ifd + 2 + 12 * i)[0] == 262:
            struct.pack_into("<H", data, ifd + 2 + 12 * i + 8, 1)
    cut = bytes(data[:len(data) - 500])  # the last strips are cut off
    issues = check_conformance(cut).issues
    assert check_conformance(cut).verdict == NOT_WELL_FORMED
    assert any("strips run past the end of the file" in issue for issue in issues), issues
    assert any("PhotometricInterpretation 1 (BlackIsZero) needs 1 colour samples" in issue for issue in issues)


def test_a_loop_in_the_ifd_chain_is_reported_and_not_followed():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.stack([photo()] * 3), photometric="rgb")
    data = bytearray(buffer.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    # walk to the last page and point it back at the first
    offset = first
    for _ in range(3):
        count = struct.unpack_from("<H", data, offset)[0]
        next_at = offset + 2 + 12 * count
        following = struct.unpack_from("<I", data, next_at)[0]
        if not following:
            break
        offset = following
    struct.pack_into("<I", data, next_at, first)
    issues = tiff.check(bytes(data))
    assert [str(i) for i in issues] == [f"IFD 3: the IFD chain loops back to byte {first}"]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def crafted_jpeg() -> bytes:
    data = jpeg_bytes()
    return data[:2] + b"\xff\xfe\x00\x02" * (jpeg.MAX_SEGMENTS + 10) + data[2:]


def crafted_png() -> bytes:
    data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    return data[:33] + _png_chunk(b"tEXt", b"a\x00b") * (png.MAX_CHUNKS + 10) + data[33:]


def crafted_gif() -> bytes:
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + b"\x21\xfe\x01a\x00" * (gif.MAX_BLOCKS + 10) + image + b"\x3b"


@pytest.mark.parametrize("make, words", [
    (crafted_jpeg, f"more than {jpeg.MAX_SEGMENTS} marker segments: the rest was not checked"),
    (crafted_png, f"more than {png.MAX_CHUNKS} chunks: the rest was not checked"),
    (crafted_gif, f"more than {gif.MAX_BLOCKS} blocks: the rest was not checked"),
])
def test_a_file_of_endless_tiny_segments_stops_at_the_cap_with_that_one_issue(make, words):
    result = check_conformance(make())
    assert result.issues == (words,)  # nothing guessed about the part not read
    assert result.verdict == WELL_FORMED_NOT_VALID


@pytest.mark.parametrize("fmt", list(LAYOUTS))
def test_no_truncation_or_byte_damage_makes_a_parser_raise(fmt):
    """Seeded damage (cuts anywhere, bytes changed mostly in the headers) on every layout: the
    format's own check (not the guard around it) returns issues, never an exception (JPEG 2000:
    jpylyzer's errors are reported by the guard)."""
    rng = random.Random(17)
    for _, rgb in photographs(["astronaut"], max_side=64):
        for make in LAYOUTS[fmt].values():
            data = make(rgb)
            check = _checker(data)[1]
            variants = [data[:rng.randrange(len(data))] for _ in range(25)]
            for _ in range(40):
                damaged = bytearray(data)
                for _ in range(rng.randint(1, 3)):
                    damaged[rng.randrange(min(len(damaged), 600))] = rng.randrange(256)
                variants.append(bytes(damaged))
            for variant in variants:
                name, variant_check = _checker(variant)
                if name == "JPEG2000":  # jpylyzer's own errors become "not checked" (see the jpylyzer test)
                    assert isinstance(check_conformance(variant).issues, tuple)
                elif variant_check is not None:
                    assert isinstance(variant_check(variant), list)
            assert check is not None


def test_the_record_carries_the_verdict_and_issues_even_when_the_decoder_refuses_the_file():
    data = jpeg_bytes()
    record = analyze_bytes("cut.jpg", data[:len(data) // 2], Settings())
    assert record.error  # the decoder's verdict
    assert record.conformance == NOT_WELL_FORMED
    assert "no EOI marker" in record.conformance_issues
    good = analyze_bytes("good.jpg", data, Settings())
    assert (good.conformance, good.conformance_issues, good.error) == (WELL_FORMED_AND_VALID, "", "")


def test_a_file_in_an_unchecked_format_gets_no_verdict_and_says_why():
    record = analyze_bytes("notes.jpg", b"just some text, not an image", Settings())
    assert record.conformance == ""
    assert record.conformance_issues.startswith("not checked: imgval checks the conformance of JPEG, TIFF")


def test_a_mapped_file_is_checked_like_its_bytes(tmp_path):
    data = jpeg_bytes() + b"junk"
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    mapped = analyze_path(str(path), Settings(), mapped=True)
    read = analyze_bytes(str(path), data, Settings())
    assert (mapped.conformance, mapped.conformance_issues) == (read.conformance, read.conformance_issues)
    assert mapped.conformance == WELL_FORMED_NOT_VALID


def many_idat_png() -> bytes:
    """A PNG as libpng writes a large image: dozens of 8 KB IDAT chunks (noise barely compresses)."""
    noise = np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    data = cv2.imencode(".png", noise)[1].tobytes()
    assert data.count(b"IDAT") > 20
    return data


def test_every_corrupt_chunk_in_a_long_run_of_idat_chunks_is_named():
    data = many_idat_png()
    assert check_conformance(data).verdict == WELL_FORMED_AND_VALID
    starts = [i - 4 for i in range(len(data)) if data[i:i + 4] == b"IDAT"]
    damaged = bytearray(data)
    for chunk in (3, 17):
        damaged[starts[chunk] + 100] ^= 0x40
    issues = check_conformance(bytes(damaged)).issues
    assert issues == tuple(f"IDAT chunk at byte {starts[chunk]}: CRC mismatch (the chunk is corrupt)"
                           for chunk in (3, 17))


def test_a_gif_of_long_sub_block_chains_is_walked_to_its_trailer():
    noise = np.random.default_rng(6).integers(0, 256, (400, 500), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "GIF")
    data = buffer.getvalue()
    assert check_conformance(data).verdict == WELL_FORMED_AND_VALID
    cut = data[:-3]  # inside the last sub-block chain
    assert check_conformance(cut).verdict == NOT_WELL_FORMED
    assert check_conformance(data[:-1] + b"\x00" + data[-1:]).verdict != WELL_FORMED_AND_VALID


def nested_subifd_tiff(depth: int) -> bytes:
    """A 1x1 grey TIFF whose IFD holds a SubIFD, which holds a SubIFD, ... `depth` levels."""
    entry_count, pixel = 9, 8
    ifd_size = 2 + 12 * entry_count + 4
    data = bytearray(b"II*\x00" + struct.pack("<I", 10) + b"\x80\x00")
    for level in range(depth + 1):
        child = 10 + (level + 1) * ifd_size if level < depth else 0
        entries = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
                   (273, 4, 1, pixel), (277, 3, 1, 1), (279, 4, 1, 1), (330, 4, 1, child)]
        data += struct.pack("<H", entry_count)
        data += b"".join(struct.pack("<HHII", *entry) for entry in entries) + struct.pack("<I", 0)
    return bytes(data)


def test_subifds_nested_without_end_are_cut_off_not_recursed_into():
    assert check_conformance(nested_subifd_tiff(3)).verdict == WELL_FORMED_AND_VALID
    result = check_conformance(nested_subifd_tiff(2000))
    assert result.verdict == WELL_FORMED_NOT_VALID
    assert any(f"nested more than {tiff.MAX_DEPTH} deep" in issue for issue in result.issues), result.issues


def test_a_file_with_thousands_of_issues_says_how_many_past_the_first_hundred():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((300, 4, 4), np.uint8), photometric="minisblack")
    data = bytearray(buffer.getvalue())
    # every page's PhotometricInterpretation 1 -> 2 (RGB for one sample): 300 issues
    for at in range(len(data) - 12):
        if data[at:at + 8] == b"\x06\x01\x03\x00\x01\x00\x00\x00":
            data[at + 8] = 2
    result = check_conformance(bytes(data))
    assert len(result.issues) == 300
    cell = result.summary
    assert cell.count("; ") == 100 and cell.endswith("... and 200 more issues (300 in all)")


def test_a_jp2_that_makes_jpylyzer_raise_gets_no_verdict_and_says_why():
    """jpylyzer 2.2 raises on some damaged SIZ segments: the row says the file was not checked
    and why, instead of guessing a verdict jpylyzer did not give."""
    data = bytearray(LAYOUTS["JPEG2000"]["openjpeg-tiled"](photographs(["astronaut"], max_side=64)[0][1]))
    siz = data.find(b"\xff\x51")
    data[siz + 5] = 0xFF  # the Rsiz (capabilities) field: a value jpylyzer has no name for
    result = check_conformance(bytes(data))
    assert result.verdict == ""
    assert result.issues[0].startswith("not checked: the JPEG2000 check stopped with an error (")


def test_the_image_files_installed_packages_ship_are_all_well_formed_and_valid():
    """Real files from real writers (scikit-image's sample data includes a multi-page TIFF with
    one SampleFormat value for its three samples, which libtiff and JHOVE accept)."""
    shipped = package_files()
    assert any(s.name == "skimage/multipage_rgb.tif" for s in shipped)
    table, wrong = evaluate(shipped)
    assert [(s.name, verdict, issues) for s, verdict, issues in wrong] == []
