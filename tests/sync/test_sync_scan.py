"""End to end, as the archives team runs it: a batch lands in Dropbox, `imgval sync` copies
it to S3 and Box (a second run copies nothing), then the scan reads the copies in place
(no local copy) and reports exactly what a scan of the same files on disk reports."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

COMPARED = ("score", "blurry", "hash", "width", "height", "format", "error")


def scan_rows(tmp_path, name, *inputs):
    out = tmp_path / f"{name}.csv"
    args = ["scan", "--no-cache", "-j", "2", "-s", str(out)]
    for i in inputs:
        args += ["-i", i]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(out.open(encoding="utf-8")))


def by_relative_path(rows, prefix):
    out = {}
    for row in rows:
        assert row["filepath"].startswith(prefix), row["filepath"]
        out[row["filepath"][len(prefix):].lstrip("/")] = {k: row[k] for k in COMPARED}
    return out


@pytest.fixture
def synced(image_dir, dropbox_emulator, box_emulator, s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "pairs.sqlite"))
    files = sorted(p for p in image_dir.rglob("*") if p.is_file())
    for p in files:
        dropbox_emulator.put_file(f"/Scans/2026/{p.relative_to(image_dir).as_posix()}", p.read_bytes())
    box_folder = box_emulator.make_folder("0", "Archive 2026")
    args = ["sync", "dropbox:/Scans/2026", f"s3://{s3_bucket}/scans/2026", f"box:{box_folder}",
            "--manifest", str(tmp_path / "manifest.csv")]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, args, catch_exceptions=False)
    assert second.exit_code == 0 and "nothing to copy" in second.output, second.output
    return {"local": image_dir, "s3": f"s3://{s3_bucket}/scans/2026", "box": f"box:{box_folder}",
            "dropbox": "dropbox:/Scans/2026", "count": len(files)}


def test_scan_in_place_equals_scan_on_disk(synced, tmp_path):
    on_disk = by_relative_path(scan_rows(tmp_path, "local", str(synced["local"])), str(synced["local"]))
    assert len(on_disk) == synced["count"]
    for kind in ("s3", "box", "dropbox"):
        remote = by_relative_path(scan_rows(tmp_path, kind, synced[kind]), synced[kind])
        assert remote == on_disk, kind

    # a remote file named directly is scanned; a missing one gets a row saying why
    one = scan_rows(tmp_path, "one", synced["s3"] + "/sharp.jpg", synced["s3"] + "/no-such.jpg")
    assert [r["filepath"] for r in one] == [synced["s3"] + "/sharp.jpg", synced["s3"] + "/no-such.jpg"]
    assert one[0]["error"] == "" and one[0]["score"]
    assert one[1]["error"]  # a row that says why, not a crash
