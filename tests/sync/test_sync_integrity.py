"""What is read is what the source recorded (issue 13, points 3, 4 and 7): flipped bytes and
bodies truncated with a matching Content-Length are caught against the source's own hash
(S3's MD5 ETag or checksum, the hashes imgval records in metadata, Dropbox's content_hash,
Box's SHA-1); a download that fails is never cached as a verdict on the file; buckets whose
ETags are not MD5s (SSE-KMS, SSE-C) still take uploads."""

from __future__ import annotations

import csv
import os

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from imgval.sync.hashpairs import HashPairs
from imgval.storage import open_storage
from imgval.storage.s3 import make_client
from imgval.sync.syncer import COPIED, FAILED, Syncer
from imgval.synthetic import natural_image
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def quick(fast_retries):
    """Retries without the real backoff's pauses."""


def jpeg(seed: int) -> bytes:
    import cv2

    return cv2.imencode(".jpg", natural_image(96, 64, seed=seed))[1].tobytes()


def plain_client():
    """A client that sends no checksum of its own (as older tools and SDKs do)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                        config=Config(request_checksum_calculation="when_required"))


def sync(source, dest, tmp_path, **kwargs):
    return Syncer(open_storage(source), [open_storage(dest, **kwargs)],
                  hash_pairs=HashPairs(str(tmp_path / "pairs.sqlite")), jobs=1).run()


@pytest.mark.parametrize("kind", ["corrupt", "truncate"])
def test_s3_source_read_is_checked_against_the_objects_own_hash(s3_bucket, s3_proxy, tmp_path, kind):
    # put without botocore's default checksum: only the MD5 ETag records the content
    client = plain_client()
    client.put_object(Bucket=s3_bucket, Key="in/a.jpg", Body=b"a" * 5000)
    s3_proxy.inject(kind, "GET", "/in/a.jpg", times=100)
    result = sync(f"s3://{s3_bucket}/in", str(tmp_path / "out"), tmp_path)
    assert [o.action for o in result.outcomes] == [FAILED]
    assert not (tmp_path / "out" / "a.jpg").exists()

    s3_proxy.reset()
    s3_proxy.inject(kind, "GET", "/in/a.jpg", times=1)  # once: the retry reads it whole
    result = sync(f"s3://{s3_bucket}/in", str(tmp_path / "out"), tmp_path)
    assert [o.action for o in result.outcomes] == [COPIED]
    assert (tmp_path / "out" / "a.jpg").read_bytes() == b"a" * 5000


def test_imgvals_own_multipart_upload_is_verified_when_read_back(s3_bucket, tmp_path, s3_proxy):
    src = tmp_path / "src"
    src.mkdir()
    big = os.urandom(6 * MIB)
    (src / "master.tif").write_bytes(big)
    first = sync(str(src), f"s3://{s3_bucket}/m", tmp_path, chunk_size=5 * MIB)
    assert [o.action for o in first.outcomes] == [COPIED]
    s3_proxy.inject("corrupt", "GET", "/m/master.tif", times=100)
    back = sync(f"s3://{s3_bucket}/m", str(tmp_path / "back"), tmp_path)
    assert [o.action for o in back.outcomes] == [FAILED]
    assert "mismatch" in back.outcomes[0].error
    assert not (tmp_path / "back" / "master.tif").exists()


@pytest.mark.parametrize("kind", ["etag", "kms_etag"])
def test_non_md5_etags_on_upload(tmp_path, s3_bucket, s3_proxy, kind):
    """SSE-KMS/SSE-C buckets answer ETags that are not MD5s (and say so); a plain bucket whose
    ETag does not match the bytes sent is a corrupted upload."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "small.jpg").write_bytes(b"s" * 1000)
    (src / "big.tif").write_bytes(os.urandom(6 * MIB))
    s3_proxy.inject(kind, "PUT", "/e/", times=1000)
    s3_proxy.inject(kind, "POST", "/e/", times=1000)
    result = sync(str(src), f"s3://{s3_bucket}/e", tmp_path, chunk_size=5 * MIB)
    expected = COPIED if kind == "kms_etag" else FAILED
    assert {o.path: o.action for o in result.outcomes} == {"big.tif": expected, "small.jpg": expected}


def scan(tmp_path, url, cache):
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["scan", "-j", "1", "--cache", str(cache), "-i", url, "-s", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {r["filepath"].rsplit("/", 1)[-1]: r for r in csv.DictReader(out.open(encoding="utf-8"))}


@pytest.mark.parametrize("kind", ["corrupt", "truncate"])
def test_scan_in_place_s3_damaged_download_is_an_error_and_never_cached(s3_bucket, s3_proxy, tmp_path, kind):
    plain_client().put_object(Bucket=s3_bucket, Key="b/good.jpg", Body=jpeg(1))  # MD5 ETag only
    make_client().put_object(Bucket=s3_bucket, Key="b/small.jpg", Body=jpeg(2), ChecksumAlgorithm="SHA256")
    cache = tmp_path / "cache.sqlite"
    s3_proxy.inject(kind, "GET", "/b/good.jpg", times=100)
    s3_proxy.inject(kind, "GET", "/b/small.jpg", times=100)  # S3 checksum: botocore's own check
    damaged = scan(tmp_path, f"s3://{s3_bucket}/b", cache)
    for name in ("good.jpg", "small.jpg"):
        assert damaged[name]["error"].startswith("cannot read file"), damaged[name]
        assert "corrupt" not in damaged[name]["error"]

    s3_proxy.reset()
    clean = scan(tmp_path, f"s3://{s3_bucket}/b", cache)
    for name in ("good.jpg", "small.jpg"):
        assert clean[name]["error"] == "" and clean[name]["score"], clean[name]


@pytest.mark.parametrize("kind", ["corrupt_download", "truncate_download"])
def test_scan_in_place_dropbox_and_box_damaged_download(dropbox_emulator, box_emulator, tmp_path, kind):
    dropbox_emulator.put_file("/Scan/a.jpg", jpeg(3))
    folder = box_emulator.make_folder("0", "scan")
    box_emulator.put_file(folder, "b.jpg", jpeg(4))
    dropbox_emulator.inject("files/download", kind, times=100)
    box_emulator.inject("download", kind, times=100)
    cache = tmp_path / "cache.sqlite"
    damaged = {**scan(tmp_path, "dropbox:/Scan", cache), **scan(tmp_path, f"box:{folder}", cache)}
    for name in ("a.jpg", "b.jpg"):
        assert damaged[name]["error"].startswith("cannot read file"), damaged[name]
    dropbox_emulator.faults.clear()
    box_emulator.faults.clear()
    clean = {**scan(tmp_path, "dropbox:/Scan", cache), **scan(tmp_path, f"box:{folder}", cache)}
    for name in ("a.jpg", "b.jpg"):
        assert clean[name]["error"] == "" and clean[name]["score"], clean[name]
