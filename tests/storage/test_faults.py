"""Faults injected by the emulators, seen through one storage operation at a time."""

from __future__ import annotations

import io
import os
import time

import pytest

from imgval.storage import NotFound, TransientError, open_storage, read_url
from tests.emulators.fixtures import unique_dropbox_root

MIB = 1024 * 1024


def test_dropbox_upload_session_survives_dropped_append(dropbox_emulator):
    store = open_storage(f"dropbox:{unique_dropbox_root()}", chunk_size=MIB)
    data = os.urandom(4 * MIB + 7)
    dropbox_emulator.inject("files/upload_session/append_v2", "drop_upload")
    # carried out, answer lost: the retry meets incorrect_offset and must accept it
    dropbox_emulator.inject("files/upload_session/append_v2", "drop_response")
    store.write("big.tif", io.BytesIO(data), len(data), {})
    with store.open_read("big.tif") as stream:
        assert stream.read() == data


def test_dropbox_download_dropped_halfway_is_an_error_not_short_content(dropbox_emulator):
    dropbox_emulator.put_file("/d/a.jpg", b"x" * 100_000)
    store = open_storage("dropbox:/d")
    dropbox_emulator.inject("files/download", "drop_download")
    with pytest.raises(TransientError):
        with store.open_read("a.jpg") as stream:
            stream.read()


def test_box_download_dropped_halfway_is_an_error_not_short_content(box_emulator):
    folder = box_emulator.make_folder("0", "f")
    box_emulator.put_file(folder, "a.jpg", b"y" * 100_000)
    store = open_storage(f"box:{folder}")
    box_emulator.inject("download", "drop_download")
    with pytest.raises(TransientError):
        with store.open_read("a.jpg") as stream:
            stream.read()


def test_read_url_waits_for_retry_after_then_reads(dropbox_emulator, box_emulator):
    dropbox_emulator.put_file("/scan/a b#1.jpg", b"dropbox bytes")
    dropbox_emulator.inject("files/download", "429", retry_after=1)
    started = time.monotonic()
    assert read_url("dropbox:/scan/a b#1.jpg") == b"dropbox bytes"
    assert time.monotonic() - started >= 1.0  # the server asked for a second's pause
    assert dropbox_emulator.calls.count("files/download") == 2

    folder = box_emulator.make_folder("0", "scan")
    sub = box_emulator.make_folder(folder, "sub dir")
    box_emulator.put_file(sub, "ü%.jpg", b"box bytes")
    box_emulator.inject("download", "500")
    box_emulator.inject("download", "drop_download")
    assert read_url(f"box:{folder}/sub dir/ü%.jpg") == b"box bytes"


def test_read_url_missing_file_is_file_not_found(dropbox_emulator, s3_bucket):
    with pytest.raises(FileNotFoundError):
        read_url("dropbox:/nope/a.jpg")
    with pytest.raises(FileNotFoundError):
        read_url(f"s3://{s3_bucket}/nope.jpg")


def test_persistent_server_errors_give_up(dropbox_emulator):
    dropbox_emulator.put_file("/d/a.jpg", b"x")
    dropbox_emulator.inject("files/download", "500", times=100)
    store = open_storage("dropbox:/d")
    with pytest.raises(TransientError, match="server error"):
        store.open_read("a.jpg")
    assert dropbox_emulator.calls.count("files/download") == store.retry.attempts


def test_missing_source_folder(dropbox_emulator, box_emulator):
    with pytest.raises(NotFound):
        open_storage("dropbox:/No Such Folder").check()
    with pytest.raises(NotFound):
        open_storage("box:999999").check()
