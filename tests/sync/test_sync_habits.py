"""rclone's habits (issue 13, point 10): modification times kept at every destination, filters
that ignore case and name folders, sidecar files on request, a manifest kept per run, and
`imgval check` comparing without copying."""

from __future__ import annotations

import csv
import datetime as dt
import os

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from imgval.sync.hashpairs import HashPairs
from imgval.storage import open_storage
from imgval.storage.s3 import make_client
from imgval.sync.selection import Selection
from imgval.sync.syncer import Syncer
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)
from tests.emulators.fixtures import unique_dropbox_root

SCANNED = dt.datetime(2024, 5, 17, 9, 30, 15, tzinfo=dt.timezone.utc)


@pytest.fixture
def dated(tmp_path):
    src = tmp_path / "src"
    (src / "day1").mkdir(parents=True)
    for name in ("day1/a.jpg", "b.tif"):
        (src / name).write_bytes(name.encode() * 100)
        os.utime(src / name, (SCANNED.timestamp(), SCANNED.timestamp()))
    return src


def test_modification_times_are_kept_at_every_destination(dated, tmp_path, s3_bucket, dropbox_emulator, box_emulator):
    root = unique_dropbox_root()
    dropbox_emulator.folders[root.lower()] = root
    box_folder = box_emulator.make_folder("0", "dated")
    dests = [str(tmp_path / "out"), f"s3://{s3_bucket}/d", f"dropbox:{root}", f"box:{box_folder}"]
    result = Syncer(open_storage(str(dated)), [open_storage(d) for d in dests],
                    hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    assert not result.failed, [o.error for o in result.outcomes]
    assert os.stat(tmp_path / "out" / "day1" / "a.jpg").st_mtime == SCANNED.timestamp()
    head = make_client().head_object(Bucket=s3_bucket, Key="d/day1/a.jpg")
    assert float(head["Metadata"]["mtime"]) == SCANNED.timestamp()
    assert head["ContentType"] == "image/jpeg"
    assert make_client().head_object(Bucket=s3_bucket, Key="d/b.tif")["ContentType"] == "image/tiff"
    for url in dests[2:]:  # Dropbox client_modified, Box content_modified_at, read back by imgval
        assert {e.path: e.modified for e in open_storage(url).list()} == {"day1/a.jpg": SCANNED, "b.tif": SCANNED}
    # and back from S3: the time comes from the object's mtime metadata, not its upload time
    back = Syncer(open_storage(dests[1]), [open_storage(str(tmp_path / "back"))],
                  hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    assert not back.failed
    assert os.stat(tmp_path / "back" / "b.tif").st_mtime == SCANNED.timestamp()


def test_filters_ignore_case_and_name_folders():
    by_folder = Selection(exclude=("drafts/",))
    assert by_folder("a/b.jpg") and not by_folder("drafts/b.jpg") and not by_folder("x/drafts/y/b.jpg")
    assert by_folder("mydrafts/b.jpg") and by_folder("drafts.jpg")
    anchored = Selection(exclude=("/drafts/",))
    assert not anchored("drafts/b.jpg") and anchored("x/drafts/b.jpg")
    assert Selection(include=("*.TIF",))("a.TIF") and not Selection(include=("*.TIF",))("a.tif")
    caseless = Selection(include=("*.TIF",), exclude=("Drafts/",), ignore_case=True)
    assert caseless("a.tif") and caseless("b/A.Tif") and not caseless("DRAFTS/a.tif")
    assert not Selection()("notes.xmp") and Selection(all_files=True)("notes.xmp")
    assert not Selection(all_files=True, exclude=("*.txt",))("a.txt")


def test_cli_all_files_copies_sidecars_and_the_manifest_keeps_every_run(dated, tmp_path):
    (dated / "day1" / "a.xmp").write_text("<x:xmpmeta/>")
    (dated / "day1" / "a.txt").write_text("scanner notes")
    (dated / "drafts").mkdir()
    (dated / "drafts" / "c.jpg").write_bytes(b"draft")
    manifest = tmp_path / "m.csv"
    args = [str(dated), str(tmp_path / "out"), "--manifest", str(manifest), "--exclude", "DRAFTS/"]
    first = CliRunner().invoke(main, ["sync", *args, "--all-files", "--ignore-case"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    copied = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert copied == ["b.tif", "day1/a.jpg", "day1/a.txt", "day1/a.xmp"]
    second = CliRunner().invoke(main, ["sync", *args, "--all-files", "--ignore-case"], catch_exceptions=False)
    assert second.exit_code == 0
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    assert [r["action"] for r in rows] == ["copied"] * 4 + ["skipped"] * 4
    assert len({r["run_started"] for r in rows}) in (1, 2) and all(r["run_started"] for r in rows)
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_a_manifest_from_an_older_imgval_is_kept_aside(dated, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,size,source_hash,destination,action,error\r\nx.jpg,1,,/o,copied,\r\n")
    result = CliRunner().invoke(main, ["sync", str(dated), str(tmp_path / "out"), "--manifest", str(manifest)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    kept = list(tmp_path.glob("m.before-*.csv"))
    assert len(kept) == 1 and "x.jpg" in kept[0].read_text()
    assert next(csv.reader(manifest.open()))[0] == "run_started"


def test_check_marks_every_file_and_exits_1_on_differences(dropbox_emulator, box_emulator, tmp_path):
    for name, data in {"same.jpg": b"same", "Day1/changed.jpg": b"new", "only-src.jpg": b"src"}.items():
        dropbox_emulator.put_file(f"/Check/{name}", data)
    folder = box_emulator.make_folder("0", "check")
    day1 = box_emulator.make_folder(folder, "day1")  # another case: the same folder on Box
    box_emulator.put_file(folder, "SAME.jpg", b"same")
    box_emulator.put_file(day1, "changed.jpg", b"old")
    box_emulator.put_file(folder, "only-dest.jpg", b"dest")
    box_emulator.put_file(folder, "notes.txt", b"not an image: not compared")
    uploads = box_emulator.uploads
    result = CliRunner().invoke(main, ["check", "dropbox:/Check", f"box:{folder}", "--hash-cache",
                                       str(tmp_path / "p.sqlite")], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stdout.splitlines() if line[:2] in ("= ", "* ", "- ", "+ ", "! ")]
    assert lines == ["* Day1/changed.jpg", "+ only-dest.jpg", "- only-src.jpg", "= same.jpg"]
    assert "1 differences found" in result.output and "1 matching files" in result.output
    assert box_emulator.uploads == uploads  # nothing copied

    synced = CliRunner().invoke(main, ["sync", "dropbox:/Check", f"box:{folder}", "--manifest",
                                       str(tmp_path / "m.csv")], catch_exceptions=False)
    assert synced.exit_code == 0, synced.output
    again = CliRunner().invoke(main, ["check", "dropbox:/Check", f"box:{folder}", "-q", "--exclude",
                                      "only-dest.jpg"], catch_exceptions=False)
    assert again.exit_code == 0 and again.output == "", again.output


def test_check_missing_destination_folder_is_exit_2(dropbox_emulator, tmp_path):
    dropbox_emulator.put_file("/Check2/a.jpg", b"a")
    result = CliRunner().invoke(main, ["check", "dropbox:/Check2", "box:999999"])
    assert result.exit_code == 2


def test_a_hash_cache_from_before_sha256_is_upgraded_in_place(tmp_path):
    import sqlite3

    from imgval.storage.hashing import hash_bytes

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE pairs (content_hash TEXT PRIMARY KEY, sha1 TEXT NOT NULL)")
    old.execute("INSERT INTO pairs VALUES ('c1', 's1')")
    old.commit()
    old.close()
    pairs = HashPairs(str(path))
    assert pairs.complete({"sha1": "s1"}) == {"sha1": "s1", "content_hash": "c1"}  # old rows still answer
    hashes = hash_bytes(b"new content")
    pairs.remember(hashes)
    assert pairs.complete({"content_hash": hashes["content_hash"]}) == hashes
    pairs.close()
