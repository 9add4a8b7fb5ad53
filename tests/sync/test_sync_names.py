"""Names at the destination: case-only and Unicode-form twins never overwrite each other
(issue 13, point 1), a source inside its destination or the reverse is refused (point 9)."""

from __future__ import annotations

import csv
import unicodedata

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from imgval.sync.hashpairs import HashPairs
from imgval.storage import open_storage
from imgval.sync.syncer import COPIED, FAILED, Syncer
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)
from tests.emulators.fixtures import unique_dropbox_root

CAFE_NFC = unicodedata.normalize("NFC", "café.jpg")
CAFE_NFD = unicodedata.normalize("NFD", "café.jpg")


@pytest.fixture
def twins(tmp_path):
    src = tmp_path / "src"
    (src / "day1").mkdir(parents=True)
    (src / "day1" / "A.jpg").write_bytes(b"upper case twin")
    (src / "day1" / "a.jpg").write_bytes(b"lower case twin, other content")
    (src / "day1" / CAFE_NFC).write_bytes(b"composed e acute")
    (src / "day1" / CAFE_NFD).write_bytes(b"decomposed e acute")
    (src / "day1" / "alone.jpg").write_bytes(b"no twin")
    return src


def _by_path(result):
    return {o.path: o for o in result.outcomes}


def test_case_and_unicode_twins_into_dropbox_and_box_copy_neither(twins, dropbox_emulator, box_emulator, tmp_path):
    if len(list((twins / "day1").iterdir())) < 5:
        pytest.skip("this filesystem folds names itself")
    root = unique_dropbox_root()
    dropbox_emulator.folders[root.lower()] = root
    box_folder = box_emulator.make_folder("0", "twins")
    dests = [open_storage(f"dropbox:{root}"), open_storage(f"box:{box_folder}")]
    result = Syncer(open_storage(str(twins)), dests, hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    twins_paths = {"day1/A.jpg", "day1/a.jpg", f"day1/{CAFE_NFC}", f"day1/{CAFE_NFD}"}
    for outcome in result.outcomes:
        if outcome.path in twins_paths:
            assert outcome.action == FAILED, outcome
            assert "same name" in outcome.error
        else:
            assert outcome.action == COPIED, outcome
    assert result.failed
    assert {p.lower() for p in dropbox_emulator.files} == {f"{root}/day1/alone.jpg".lower()}
    assert box_emulator.files_under(box_folder) == {"day1/alone.jpg": b"no twin"}


def test_twins_are_fine_where_names_are_exact(twins, s3_bucket, tmp_path):
    result = Syncer(open_storage(str(twins)), [open_storage(f"s3://{s3_bucket}/t")],
                    hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    assert {o.action for o in result.outcomes} == {COPIED}


def test_cli_twins_exit_1_and_manifest_names_the_other(twins, box_emulator, tmp_path):
    manifest = tmp_path / "m.csv"
    box_folder = box_emulator.make_folder("0", "twins cli")
    result = CliRunner().invoke(main, ["sync", str(twins), f"box:{box_folder}", "--manifest", str(manifest)],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    rows = {r["path"]: r for r in csv.DictReader(manifest.open(encoding="utf-8"))}
    assert rows["day1/A.jpg"]["action"] == "failed" and "day1/a.jpg" in rows["day1/A.jpg"]["error"]
    assert rows["day1/alone.jpg"]["action"] == "copied"
    # the next run does not copy one of them either
    again = CliRunner().invoke(main, ["sync", str(twins), f"box:{box_folder}", "--manifest", str(manifest)],
                               catch_exceptions=False)
    assert again.exit_code == 1
    assert box_emulator.files_under(box_folder) == {"day1/alone.jpg": b"no twin"}


def test_destination_inside_source_or_the_reverse_is_refused(tmp_path, s3_bucket, box_emulator, dropbox_emulator):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "a.jpg").write_bytes(b"a")
    outer = box_emulator.make_folder("0", "outer")
    inner = box_emulator.make_folder(outer, "inner")
    dropbox_emulator.put_file("/Scans/a.jpg", b"a")
    cases = [(str(inc), str(inc / "backup")), (str(inc), str(inc)), (str(inc / "sub"), str(inc)),
             (f"s3://{s3_bucket}/inc", f"s3://{s3_bucket}/inc/backup"),
             (f"s3://{s3_bucket}/inc/x", f"s3://{s3_bucket}"),
             (f"box:{outer}", f"box:{inner}"), (f"box:{inner}", f"box:{outer}"),
             ("dropbox:/Scans", "dropbox:/scans/Backup")]
    (inc / "sub").mkdir()
    (inc / "sub" / "b.jpg").write_bytes(b"b")
    from imgval.storage.s3 import make_client

    make_client().put_object(Bucket=s3_bucket, Key="inc/x/a.jpg", Body=b"a")
    make_client().put_object(Bucket=s3_bucket, Key="inc/a.jpg", Body=b"a")
    box_emulator.put_file(inner, "a.jpg", b"a")
    box_emulator.put_file(outer, "a.jpg", b"a")
    for source, dest in cases:
        result = CliRunner().invoke(main, ["sync", source, dest, "--manifest", str(tmp_path / "m.csv")])
        assert result.exit_code == 2, (source, dest, result.output)
        assert "overlaps" in result.output
    assert not (inc / "backup").exists()
    # siblings with a common name prefix are not nested
    ok = CliRunner().invoke(main, ["sync", str(inc), str(tmp_path / "inc-backup"),
                                   "--manifest", str(tmp_path / "m.csv")])
    assert ok.exit_code == 0, ok.output
