"""Sync between storages: selection, incremental by hash, verification, faults, the manifest,
credentials and exit codes. Dropbox and Box are the emulators driven by the real SDKs, S3 is
moto's server over HTTP."""

from __future__ import annotations

import csv
import os

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from imgval.storage import open_storage
from imgval.storage.hashing import hash_bytes
from imgval.sync.hashpairs import HashPairs
from imgval.sync.selection import Selection
from imgval.sync.syncer import COPIED, FAILED, SKIPPED, WOULD_COPY, Syncer
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

BATCH = {
    "day1/IMG 0001.jpg": b"jpeg one" * 100,
    "day1/IMG#0002.JPG": b"jpeg two" * 100,
    "day2/master 100%.tif": b"tiff master" * 300,
    "day2/ünïcødé.png": b"png" * 50,
    "day2/notes.txt": b"not an image",
    "day2/folder.jpg/inside.jpg": b"a folder named like an image",
}
IMAGES = sorted(p for p in BATCH if not p.endswith(".txt"))


@pytest.fixture(autouse=True)
def private_hash_cache(tmp_path, monkeypatch):
    """No test writes the user's real cache folder."""
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "default-pairs.sqlite"))


@pytest.fixture
def pairs(tmp_path):
    return HashPairs(str(tmp_path / "pairs.sqlite"))


@pytest.fixture
def dropbox_batch(dropbox_emulator):
    for path, data in BATCH.items():
        dropbox_emulator.put_file(f"/Scans/2026/{path}", data)
    dropbox_emulator.put_file("/Scans/other.jpg", b"outside the source folder")
    return dropbox_emulator


@pytest.fixture
def box_folder(box_emulator):
    return box_emulator.make_folder("0", "Archive")


def run_sync(source_url, dest_urls, pairs, **kwargs):
    source = open_storage(source_url)
    dests = [open_storage(u, chunked_threshold=2 * 1024 * 1024) if u.startswith("box:") else open_storage(u)
             for u in dest_urls]
    return Syncer(source, dests, hash_pairs=pairs, **kwargs).run()


def actions(result):
    return {(o.path, o.destination.split(":")[0]): o.action for o in result.outcomes}


def s3_objects(bucket, prefix):
    from imgval.storage.s3 import make_client

    client = make_client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix):]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_selection_uses_image_extensions_and_globs():
    default = Selection()
    assert default("a/b.JPG") and default("x.tiff") and not default("notes.txt")
    only_tifs = Selection(include=("*.tif",), exclude=("drafts/*",))
    assert only_tifs("a/b.tif") and not only_tifs("a/b.jpg") and not only_tifs("drafts/c.tif")


def test_dropbox_to_s3_and_box_twice_then_changed_file(dropbox_batch, s3_bucket, box_folder, box_emulator, pairs):
    dests = [f"s3://{s3_bucket}/scans/2026", f"box:{box_folder}"]
    first = run_sync("dropbox:/Scans/2026", dests, pairs)
    assert not first.failed, [o.error for o in first.outcomes if o.error]
    assert {o.path for o in first.outcomes} == set(IMAGES)
    assert all(o.action == COPIED for o in first.outcomes)
    assert s3_objects(s3_bucket, "scans/2026/") == {p: BATCH[p] for p in IMAGES}
    assert box_emulator.files_under(box_folder) == {p: BATCH[p] for p in IMAGES}

    downloads_before, uploads_before = dropbox_batch.downloads, box_emulator.uploads
    second = run_sync("dropbox:/Scans/2026", dests, pairs)
    assert all(o.action == SKIPPED for o in second.outcomes), actions(second)
    assert dropbox_batch.downloads == downloads_before  # decided from hashes alone
    assert box_emulator.uploads == uploads_before

    dropbox_batch.put_file("/Scans/2026/day1/IMG 0001.jpg", b"re-scanned" * 100)
    third = run_sync("dropbox:/Scans/2026", dests, pairs)
    changed = {k: v for k, v in actions(third).items() if v != SKIPPED}
    assert changed == {("day1/IMG 0001.jpg", "s3"): COPIED, ("day1/IMG 0001.jpg", "box"): COPIED}
    assert s3_objects(s3_bucket, "scans/2026/")["day1/IMG 0001.jpg"] == b"re-scanned" * 100
    assert box_emulator.files_under(box_folder)["day1/IMG 0001.jpg"] == b"re-scanned" * 100


def test_without_remembered_pairs_box_is_compared_by_reading_not_by_copying(
        dropbox_batch, box_folder, box_emulator, tmp_path):
    run_sync("dropbox:/Scans/2026", [f"box:{box_folder}"], HashPairs(str(tmp_path / "a.sqlite")))
    uploads = box_emulator.uploads
    # another machine (no hash-pair cache) must still skip: it hashes the source instead
    again = run_sync("dropbox:/Scans/2026", [f"box:{box_folder}"], HashPairs(str(tmp_path / "b.sqlite")))
    assert all(o.action == SKIPPED for o in again.outcomes)
    assert box_emulator.uploads == uploads


def test_same_size_different_content_is_copied(tmp_path, pairs):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    (dst / "a").mkdir(parents=True)
    (src / "a" / "x.jpg").write_bytes(b"AAAA")
    (dst / "a" / "x.jpg").write_bytes(b"BBBB")
    result = run_sync(str(src), [str(dst)], pairs)
    assert actions(result) == {("a/x.jpg", str(dst).split(":")[0]): COPIED}
    assert (dst / "a" / "x.jpg").read_bytes() == b"AAAA"


def test_dry_run_copies_nothing(dropbox_batch, s3_bucket, pairs):
    result = run_sync("dropbox:/Scans/2026", [f"s3://{s3_bucket}/p"], pairs, dry_run=True)
    assert {o.action for o in result.outcomes} == {WOULD_COPY}
    assert s3_objects(s3_bucket, "p/") == {}


def test_rate_limits_and_server_errors_are_retried(dropbox_batch, box_folder, box_emulator, pairs):
    dropbox_batch.inject("files/download", "429", times=2, retry_after=1)
    dropbox_batch.inject("files/list_folder", "500")
    box_emulator.inject("upload", "500", times=2)
    box_emulator.inject("folder_items", "429", retry_after=1)
    result = run_sync("dropbox:/Scans/2026", [f"box:{box_folder}"], pairs)
    assert not result.failed, [o.error for o in result.outcomes]
    assert box_emulator.files_under(box_folder) == {p: BATCH[p] for p in IMAGES}
    assert dropbox_batch.calls.count("files/list_folder") == 2


def test_connection_dropped_halfway_through_download_and_upload(dropbox_batch, box_folder, box_emulator, pairs):
    dropbox_batch.inject("files/download", "drop_download", times=2)
    box_emulator.inject("upload", "drop_upload", times=2)
    result = run_sync("dropbox:/Scans/2026", [f"box:{box_folder}"], pairs, jobs=1)
    assert not result.failed, [o.error for o in result.outcomes]
    assert box_emulator.files_under(box_folder) == {p: BATCH[p] for p in IMAGES}


def test_dropped_chunked_upload_part_is_retried(dropbox_emulator, box_folder, box_emulator, pairs):
    big = os.urandom(3 * box_emulator.part_size + 100)
    dropbox_emulator.put_file("/Big/master.tif", big)
    box_emulator.inject("upload_part", "drop_upload")
    box_emulator.inject("upload_part", "500")
    result = run_sync("dropbox:/Big", [f"box:{box_folder}"], pairs)
    assert not result.failed, [o.error for o in result.outcomes]
    assert box_emulator.files_under(box_folder) == {"master.tif": big}
    assert box_emulator.sessions == {}


def test_corrupted_download_is_never_committed_and_fails_after_retries(dropbox_batch, s3_bucket, pairs):
    dropbox_batch.inject("files/download", "corrupt_download", times=100)
    result = run_sync("dropbox:/Scans/2026", [f"s3://{s3_bucket}/p"], pairs, jobs=2)
    assert {o.action for o in result.outcomes} == {FAILED}
    assert all("mismatch" in o.error for o in result.outcomes)
    assert s3_objects(s3_bucket, "p/") == {}  # nothing unverified under a final name


def test_persistent_failure_marks_only_that_file(dropbox_batch, s3_bucket, pairs):
    dropbox_batch.inject("files/download", "500", times=1000)
    # a source where only one file is affected: fault everything, then compare counts
    result = run_sync("dropbox:/Scans/2026", [f"s3://{s3_bucket}/p"], pairs, jobs=1,
                      selection=Selection(include=("IMG 0001.jpg",)))
    assert [o.action for o in result.outcomes] == [FAILED]
    assert "server error" in result.outcomes[0].error


def test_interrupted_multipart_upload_leaves_nothing_then_next_run_finishes(dropbox_emulator, s3_bucket, pairs):
    big = os.urandom(11 * 1024 * 1024)
    dropbox_emulator.put_file("/Big/master.tif", big)
    source = open_storage("dropbox:/Big")
    dest = open_storage(f"s3://{s3_bucket}/p", chunk_size=5 * 1024 * 1024)
    syncer = Syncer(source, [dest], hash_pairs=pairs)
    seen = []

    def interrupt_midway(n):
        seen.append(n)
        if sum(seen) > 6 * 1024 * 1024:  # after the first part went up
            raise KeyboardInterrupt

    syncer.on_bytes = interrupt_midway
    with pytest.raises(KeyboardInterrupt):
        syncer.run()
    assert s3_objects(s3_bucket, "p/") == {}
    client = dest.client
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []  # aborted

    result = Syncer(source, [dest], hash_pairs=pairs).run()
    assert [o.action for o in result.outcomes] == [COPIED]
    assert s3_objects(s3_bucket, "p/") == {"master.tif": big}


# -- the command -------------------------------------------------------------------------

def invoke(args, env=None):
    return CliRunner().invoke(main, ["sync", *args], env=env, catch_exceptions=False)


def test_cli_twice_second_run_copies_nothing(dropbox_batch, s3_bucket, box_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "pairs.sqlite"))
    manifest = tmp_path / "manifest.csv"
    args = ["dropbox:/Scans/2026", f"s3://{s3_bucket}/scans", f"box:{box_folder}", "--manifest", str(manifest),
            "-j", "3"]
    first = invoke(args)
    assert first.exit_code == 0, first.output
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    assert len(rows) == 2 * len(IMAGES)
    assert {r["action"] for r in rows} == {"copied"}
    assert set(rows[0]) == {"run_started", "path", "size", "source_hash", "sha256", "destination", "action", "error"}
    row = next(r for r in rows if r["path"] == "day2/ünïcødé.png" and r["destination"].startswith("s3"))
    assert row["size"] == str(len(BATCH["day2/ünïcødé.png"]))
    assert row["source_hash"] == "content_hash:" + hash_bytes(BATCH["day2/ünïcødé.png"])["content_hash"]

    second = invoke(args)
    assert second.exit_code == 0
    assert "nothing to copy" in second.output
    runs = list(csv.DictReader(manifest.open(encoding="utf-8")))  # each run adds its rows
    assert len(runs) == 4 * len(IMAGES) and runs[:len(rows)] == rows
    assert {r["action"] for r in runs[len(rows):]} == {"skipped"}
    # the SHA-256 of every file, copied or skipped (S3 and Box copies alike)
    import hashlib

    assert all(r["sha256"] == hashlib.sha256(BATCH[r["path"]]).hexdigest() for r in runs)

    quiet = invoke([*args, "-q"])  # for cron: a clean run prints nothing, so no mail
    assert quiet.exit_code == 0 and quiet.output == ""


def test_cli_missing_credentials_exit_2_before_any_transfer(dropbox_batch, s3_bucket, monkeypatch, tmp_path):
    monkeypatch.delenv("DROPBOX_ACCESS_TOKEN")
    result = invoke(["dropbox:/Scans/2026", f"s3://{s3_bucket}/p", "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 2
    assert "DROPBOX_ACCESS_TOKEN" in result.output and "DROPBOX_REFRESH_TOKEN" in result.output
    assert dropbox_batch.downloads == 0


def test_cli_rejected_credentials_never_print_the_secret(dropbox_batch, box_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "sl.zq8TokenValue-do-not-print")
    result = invoke(["dropbox:/Scans/2026", str(tmp_path / "out"), "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 2
    assert "rejected" in result.output and "zq8TokenValue" not in result.output

    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "test-access-token")
    monkeypatch.setenv("BOX_DEVELOPER_TOKEN", "bx9TokenValue-expired")
    result = invoke(["dropbox:/Scans/2026", f"box:{box_emulator.make_folder('0', 'x')}",
                     "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 2
    assert "Box" in result.output and "bx9TokenValue" not in result.output
    assert dropbox_batch.downloads == 0


def test_cli_refresh_token_and_client_credentials(dropbox_batch, box_emulator, monkeypatch, tmp_path):
    monkeypatch.delenv("DROPBOX_ACCESS_TOKEN")
    monkeypatch.setenv("DROPBOX_REFRESH_TOKEN", "test-refresh-token")
    monkeypatch.setenv("DROPBOX_APP_KEY", "test-app-key")
    monkeypatch.setenv("DROPBOX_APP_SECRET", "test-app-secret")
    monkeypatch.delenv("BOX_DEVELOPER_TOKEN")
    monkeypatch.setenv("BOX_CLIENT_ID", "test-client-id")
    monkeypatch.setenv("BOX_CLIENT_SECRET", "test-client-secret")
    monkeypatch.setenv("BOX_ENTERPRISE_ID", "12345")
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "pairs.sqlite"))
    folder = box_emulator.make_folder("0", "ccg")
    result = invoke(["dropbox:/Scans/2026", f"box:{folder}", "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 0, result.output
    assert box_emulator.files_under(folder) == {p: BATCH[p] for p in IMAGES}


def test_cli_partial_box_credentials_name_what_is_missing(dropbox_batch, box_emulator, monkeypatch, tmp_path):
    monkeypatch.delenv("BOX_DEVELOPER_TOKEN")
    monkeypatch.setenv("BOX_CLIENT_ID", "test-client-id")
    result = invoke(["dropbox:/Scans/2026", "box:0", "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 2
    assert "BOX_CLIENT_SECRET" in result.output and "BOX_ENTERPRISE_ID or BOX_USER_ID" in result.output


def test_cli_failed_file_exit_1_and_manifest_says_why(dropbox_batch, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "pairs.sqlite"))
    dropbox_batch.inject("files/download", "corrupt_download", times=3)  # one file, every attempt
    manifest = tmp_path / "m.csv"
    result = invoke(["dropbox:/Scans/2026", str(tmp_path / "out"), "--manifest", str(manifest), "-j", "1"])
    assert result.exit_code == 1
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    failed = [r for r in rows if r["action"] == "failed"]
    assert len(failed) == 1 and "mismatch" in failed[0]["error"]
    assert sum(r["action"] == "copied" for r in rows) == len(IMAGES) - 1
    assert "1 failed" in result.output


def test_cli_dry_run_and_unknown_source(dropbox_batch, tmp_path):
    result = invoke(["dropbox:/Scans/2026", str(tmp_path / "out"), "--dry-run", "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 0
    assert result.output.count("would copy") == len(IMAGES)
    assert not (tmp_path / "out").exists()
    missing = invoke(["dropbox:/No/Such", str(tmp_path / "out"), "--manifest", str(tmp_path / "m.csv")])
    assert missing.exit_code == 2 and "no such folder" in missing.output


def test_local_to_s3_multipart_records_hashes_so_the_next_run_skips(tmp_path, s3_bucket, pairs):
    src = tmp_path / "src"
    src.mkdir()
    big = os.urandom(11 * 1024 * 1024)
    (src / "master.tif").write_bytes(big)
    dest = open_storage(f"s3://{s3_bucket}/m", chunk_size=5 * 1024 * 1024)
    first = Syncer(open_storage(str(src)), [dest], hash_pairs=pairs).run()
    assert [o.action for o in first.outcomes] == [COPIED]
    recorded = dest.stat("master.tif").hashes
    assert recorded == hash_bytes(big)  # both kinds, in the object's metadata
    second = Syncer(open_storage(str(src)), [dest], hash_pairs=pairs).run()
    assert [o.action for o in second.outcomes] == [SKIPPED]
