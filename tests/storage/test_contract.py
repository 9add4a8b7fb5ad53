"""One contract every storage must pass (rclone's fstests idea): list, read, write, hash,
missing files, odd names. Parametrised over local, S3 (moto server), Box and Dropbox
(emulators driven by the real SDKs)."""

from __future__ import annotations

import io

import pytest

from imgval.storage import NotFound, StorageError
from imgval.storage.hashing import hash_bytes

ODD_NAMES = [
    "plain.jpg",
    "with space.jpg",
    "ünïcødé-ÿ.tif",
    "hash#tag.png",
    "per%cent%20.jpg",
    "deep/er/nest ed/file.jpg",
]


def put(storage, path, data: bytes):
    return storage.write(path, io.BytesIO(data), len(data), {})


def read_all(storage, path) -> bytes:
    with storage.open_read(path) as stream:
        return stream.read()


def test_write_then_list_read_and_stat_every_odd_name(storage):
    contents = {name: f"content of {name}".encode() * 10 for name in ODD_NAMES}
    for name, data in contents.items():
        put(storage, name, data)

    listed = {entry.path: entry for entry in storage.list()}
    assert set(listed) == set(contents)
    for name, data in contents.items():
        assert listed[name].size == len(data)
        assert read_all(storage, name) == data
        entry = storage.stat(name)
        assert entry.path == name and entry.size == len(data)
        # whatever hash the backend records must be the true hash of the content
        expected = hash_bytes(data)
        for kind, value in {**listed[name].hashes, **entry.hashes}.items():
            assert value == expected[kind], (name, kind)


def test_write_returns_computed_hashes(storage):
    data = b"x" * 1000
    entry = put(storage, "a.jpg", data)
    assert entry.size == 1000
    assert entry.hashes == hash_bytes(data)


def test_overwrite_replaces_content_and_hash(storage):
    put(storage, "f.jpg", b"old content")
    put(storage, "f.jpg", b"new content, longer")
    assert read_all(storage, "f.jpg") == b"new content, longer"
    assert [e.path for e in storage.list()] == ["f.jpg"]
    stat = storage.stat("f.jpg")
    for kind, value in stat.hashes.items():
        assert value == hash_bytes(b"new content, longer")[kind]


def test_missing_file(storage):
    assert storage.stat("nope.jpg") is None
    assert storage.stat("no/such/dir.jpg") is None
    with pytest.raises(NotFound):
        read_all(storage, "nope.jpg")


def test_empty_root_lists_nothing(storage):
    assert list(storage.list()) == []
    storage.check()


def test_empty_file(storage):
    put(storage, "empty.jpg", b"")
    assert read_all(storage, "empty.jpg") == b""
    assert storage.stat("empty.jpg").size == 0


def test_write_with_wrong_expected_hash_leaves_nothing(storage):
    data = b"the real bytes"
    wrong = {"content_hash": "0" * 64}
    with pytest.raises(StorageError, match="mismatch"):
        storage.write("bad.jpg", io.BytesIO(data), len(data), wrong)
    assert storage.stat("bad.jpg") is None
    assert [e.path for e in storage.list()] == []


def test_short_source_leaves_nothing(storage):
    with pytest.raises(StorageError):
        storage.write("short.jpg", io.BytesIO(b"12345"), 10, {})
    assert storage.stat("short.jpg") is None


def test_multipart_write_roundtrip(storage, large_payload):
    # larger than the storage's chunk size, so S3 multipart / Box chunked upload /
    # Dropbox upload sessions are exercised
    entry = put(storage, "big/large.tif", large_payload)
    assert entry.hashes == hash_bytes(large_payload)
    assert read_all(storage, "big/large.tif") == large_payload
    stat = storage.stat("big/large.tif")
    assert stat.size == len(large_payload)
    for kind, value in stat.hashes.items():
        assert value == entry.hashes[kind]


def test_unsafe_paths_are_refused(storage):
    for bad in ("../escape.jpg", "/abs.jpg", "a/../../b.jpg"):
        with pytest.raises(StorageError):
            put(storage, bad, b"x")


def test_url_for_names_the_file(storage):
    url = storage.url_for("sub/a b.jpg")
    assert url.startswith(storage.url) and url.endswith("a b.jpg")


def test_write_keeps_the_modification_time(storage, large_payload):
    import datetime as dt

    when = dt.datetime(2023, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    storage.write("dated.jpg", io.BytesIO(b"dated"), 5, {}, when)
    assert storage.stat("dated.jpg").modified == when
    # in parts too (S3 multipart, Dropbox and Box upload sessions)
    storage.write("dated.tif", io.BytesIO(large_payload), len(large_payload), {}, when)
    assert storage.stat("dated.tif").modified == when
    with storage.open_read("dated.jpg") as stream:  # a reader that tells the time tells it right
        assert stream.read() == b"dated" and getattr(stream, "modified", None) in (None, when)
