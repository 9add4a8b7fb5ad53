"""Fixity (issue 11.8): a file whose bytes change must never keep its old row and old sha256, and
`--verify` finds bytes that changed below the file system's notice (bit rot)."""
from __future__ import annotations

import csv
import os
import sqlite3

import pytest

from imgval.cli import exitcodes
from imgval.batch.cache import TABLE, file_state

from tests.batch.test_rerun import counts, run_scan, small_image
from tests.conftest import write_image


@pytest.fixture
def batch(tmp_path):
    folder = tmp_path / "batch"
    for seed in range(3):
        write_image(folder / f"img{seed}.png", small_image(seed))
    return folder


def report_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {os.path.basename(row["filepath"]): row for row in csv.DictReader(handle)}


def rewrite_same_size_same_mtime(path):
    """Change the bytes but keep the size and the modification time (as a tool that restores
    times would): only the ctime (and for a rename, the inode) tells."""
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_size == st.st_size


def test_same_size_and_mtime_but_new_bytes_is_analysed_again(batch, tmp_path):
    out, cache = tmp_path / "r.csv", tmp_path / "cache.sqlite"
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache)).stdout) == (3, 0)
    before = report_rows(out)["img1.png"]["sha256"]
    rewrite_same_size_same_mtime(batch / "img1.png")
    again = run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache))
    assert counts(again.stdout) == (1, 2)
    assert report_rows(out)["img1.png"]["sha256"] not in ("", before)


def test_a_file_replaced_by_rename_is_analysed_again(batch, tmp_path):
    out, cache = tmp_path / "r.csv", tmp_path / "cache.sqlite"
    run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache))
    target = batch / "img2.png"
    st = os.stat(target)
    copy = tmp_path / "copy.png"
    data = bytearray(target.read_bytes())
    data[-20] ^= 0x01
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(copy, target)
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache)).stdout) == (1, 2)


def rot(path, cache):
    """Bit rot: the bytes change, the file's size, times and inode do not. Userland cannot
    change bytes without touching the ctime, so the cache is told the file's new times, as if
    the bytes had changed on the disk underneath."""
    rewrite_same_size_same_mtime(path)
    state = file_state(str(path))
    with sqlite3.connect(cache) as db:
        changed = db.execute(f"UPDATE {TABLE} SET version = ? WHERE path = ?", (state.version, state.key)).rowcount
    assert changed == 1


def test_verify_reports_bit_rot_as_a_fixity_failure_until_the_file_is_restored(batch, tmp_path):
    out, cache = tmp_path / "r.csv", tmp_path / "cache.sqlite"
    args = ["-i", str(batch), "-s", str(out), "--cache", str(cache)]
    run_scan(*args)
    good = (batch / "img0.png").read_bytes()
    sha_before = report_rows(out)["img0.png"]["sha256"]
    rot(batch / "img0.png", cache)

    stale = run_scan(*args)  # without --verify the rot goes unnoticed: the documented limit
    assert counts(stale.stdout) == (0, 3) and report_rows(out)["img0.png"]["sha256"] == sha_before

    verified = run_scan(*args, "--verify", "--fail-on", "error")
    assert verified.exit_code == exitcodes.FLAGGED
    assert counts(verified.stdout) == (3, 0)  # every file re-hashed
    rows = report_rows(out)
    assert rows["img0.png"]["error"].startswith("fixity failure: the file's bytes changed")
    assert sha_before in rows["img0.png"]["error"] and rows["img0.png"]["sha256"] != sha_before
    assert rows["img1.png"]["error"] == rows["img2.png"]["error"] == ""

    for extra in ([], ["--verify"]):  # reported by later runs too, verifying or not
        later = run_scan(*args, *extra)
        assert report_rows(out)["img0.png"]["error"].startswith("fixity failure"), later.stdout
        assert sha_before in report_rows(out)["img0.png"]["error"]

    (batch / "img0.png").write_bytes(good)  # restored from a good copy
    restored = run_scan(*args, "--verify")
    assert restored.exit_code == exitcodes.OK
    assert report_rows(out)["img0.png"]["error"] == "" and report_rows(out)["img0.png"]["sha256"] == sha_before


def test_verify_needs_the_cache(batch, tmp_path):
    result = run_scan("-i", str(batch), "-s", str(tmp_path / "r.csv"), "--verify", "--no-cache")
    assert result.exit_code == exitcodes.USAGE and "--verify" in result.output + (result.stderr or "")
