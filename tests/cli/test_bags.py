"""BagIt bags: checked from the scan's own checksums (every problem reported, exit 5), and
written from a report; bagit-python (the Library of Congress' bagit) is the referee."""
import csv
import os
import shutil

import bagit
import pytest

from imgval.cli import exitcodes
from imgval.synthetic import natural_image

from tests.conftest import ROOT, run_script, write_image


def imgval(*args, cwd):
    return run_script("-m", "imgval.cli", *args, cwd=cwd)


def scan(*args, cwd):
    return run_script(str(ROOT / "process.py"), *args, "--no-cache", "-j", "1", cwd=cwd)


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["filepath"].rsplit("/", 1)[-1]: row for row in csv.DictReader(handle)}


@pytest.fixture
def folder(tmp_path):
    """A batch with images in subfolders and a non-image file, not yet a bag."""
    batch = tmp_path / "batch"
    for i in range(4):
        write_image(batch / f"box{i % 2}" / f"scan_{i}.png", natural_image(64, 48, seed=20 + i))
    write_image(batch / "access.jpg", natural_image(64, 48, seed=30))
    (batch / "notes.txt").write_text("box list\n")
    return batch


@pytest.fixture
def bag(folder):
    bagit.make_bag(str(folder), checksums=["sha256", "md5"])
    return folder


def test_a_valid_bag_checks_from_the_scan_and_says_so(tmp_path, bag):
    result = scan("-i", str(bag), "-s", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    assert "--- Bag" in result.stdout and "valid" in result.stdout and "6 files" in result.stdout
    rows = rows_of(tmp_path / "r.csv")
    assert set(rows) == {"scan_0.png", "scan_1.png", "scan_2.png", "scan_3.png", "access.jpg"}
    assert {row["bag"] for row in rows.values()} == {"ok"}
    assert all(row["md5"] for row in rows.values())  # manifest-md5.txt asked for md5 in the same read


def test_every_problem_is_reported_in_the_report_and_the_exit_code(tmp_path, bag):
    data = bag / "data"
    write_image(data / "box0" / "scan_0.png", natural_image(64, 48, seed=99))  # changed content
    os.unlink(data / "box1" / "scan_1.png")  # missing
    write_image(data / "box1" / "stray.png", natural_image(64, 48, seed=98))  # not in the manifests
    (data / "notes.txt").write_text("edited\n")  # a non-image changed
    with pytest.raises(bagit.BagValidationError) as reference:
        bagit.Bag(str(bag)).validate()
    result = scan("-i", str(bag), "-s", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert result.returncode == exitcodes.BAG_INVALID, result.stderr
    rows = rows_of(tmp_path / "r.csv")
    assert rows["scan_0.png"]["bag"].startswith("checksum mismatch") and "manifest-sha256.txt" in rows["scan_0.png"]["bag"]
    assert rows["scan_2.png"]["bag"] == "ok"
    assert rows["stray.png"]["bag"] == "unexpected: not listed in manifest-md5.txt, manifest-sha256.txt"
    assert rows["scan_1.png"]["bag"].startswith("missing") and rows["scan_1.png"]["error"]
    assert rows["notes.txt"]["bag"].startswith("checksum mismatch")
    assert rows["bag-info.txt"]["bag"].startswith("Payload-Oxum")
    for name in ("scan_0.png", "scan_1.png", "stray.png", "notes.txt", "Payload-Oxum"):
        assert name in result.stderr
    assert "NOT valid" in result.stderr
    # bagit-python stops at its first check (the Payload-Oxum); imgval lists all five problems.
    assert "Payload-Oxum" in str(reference.value)


def test_bag_flag_on_a_folder_that_is_not_a_bag_is_a_usage_error(tmp_path, folder):
    result = scan("-i", str(folder), "--bag", cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE and "bagit.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_bag_writes_a_valid_bag_from_the_report_without_reading_the_files(tmp_path, folder):
    report = tmp_path / "r.csv"
    assert scan("-i", str(folder), "-s", str(report), "--hash", "sha256,md5", cwd=tmp_path).returncode == 0
    # Change one image's bytes but not its time: a bag made from the report keeps the scan's
    # checksum, which shows the file was not read again; bagit-python then finds the mismatch.
    tampered = folder / "box0" / "scan_0.png"
    stamp = os.stat(tampered)
    original = tampered.read_bytes()
    tampered.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    os.utime(tampered, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    spare = shutil.copytree(folder, tmp_path / "spare")
    result = imgval("bag", str(folder), "-r", str(report), "--hash", "sha256,md5",
                    "--info", "Source-Organization: City Archives", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "5 checksums from" in result.stdout and "1 files read" in result.stdout  # notes.txt only
    made = bagit.Bag(str(folder))
    assert made.info["Source-Organization"] == "City Archives"
    with pytest.raises(bagit.BagValidationError, match="scan_0.png"):
        made.validate()
    # Untampered, the same bag is valid for bagit-python and for imgval's own check.
    tampered = folder / "data" / "box0" / "scan_0.png"
    tampered.write_bytes(original)
    os.utime(tampered, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert made.validate()
    check = scan("-i", str(folder), "-s", str(tmp_path / "check.csv"), cwd=tmp_path)
    assert check.returncode == exitcodes.OK, check.stderr
    assert set(bagit.Bag(str(folder)).entries) >= {"data/notes.txt", "data/box0/scan_0.png", "manifest-md5.txt"}
    # A file changed after the scan (newer than the report) is read again: the bag is valid.
    newer = spare / "access.jpg"
    write_image(newer, natural_image(64, 48, seed=77))
    os.utime(newer, (os.stat(report).st_mtime + 10,) * 2)
    result = imgval("bag", str(spare), "-r", str(report), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert bagit.Bag(str(spare)).validate()


def test_bag_refuses_a_bag_and_bad_options(tmp_path, bag):
    report = tmp_path / "r.csv"
    report.write_text("filepath\n")
    for args, message in ([str(bag), "-r", str(report)], "already a bag"), \
                         ([str(tmp_path), "-r", str(report), "--hash", "sha1"], "--hash"), \
                         ([str(tmp_path), "-r", str(report), "--info", "novalue"], "--info"):
        result = imgval("bag", *args, cwd=tmp_path)
        assert result.returncode == exitcodes.USAGE, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_tag_file_problems_are_found_too(tmp_path, bag):
    from imgval.batch.bags import BagCheck, decode_path, encode_path

    with open(bag / "bag-info.txt", "a", encoding="utf-8") as handle:
        handle.write("Contact-Name: someone\n")  # the tag manifest's checksum no longer matches
    with open(bag / "manifest-sha256.txt", "a", encoding="utf-8") as handle:
        handle.write("no-path-here\n" + "0" * 64 + "  ../outside.txt\n")
    problems = [str(p) for p in BagCheck(str(bag)).problems]
    assert any(p.startswith("bag-info.txt: checksum mismatch") for p in problems), problems
    assert any("line" in p and "manifest-sha256.txt" in p for p in problems), problems
    assert any("unsafe path" in p for p in problems), problems
    assert decode_path(encode_path("a%b\nc\rd")) == "a%b\nc\rd"


def test_a_bag_with_no_manifest_imgval_computes_is_refused(tmp_path, folder):
    bagit.make_bag(str(folder), checksums=["sha512"])
    result = scan("-i", str(folder), cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE
    assert "manifest-sha512.txt" in result.stderr and "Traceback" not in result.stderr
