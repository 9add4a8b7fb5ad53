"""The listing is spooled to a temporary file (batch/pathspool.py) so a million paths cost no
parent memory: the paths must come back exactly, in order, whatever their names, and a scan of
such names must still list them sorted, each once, and reuse their cached results."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from imgval.batch.discover import discover
from imgval.batch.pathspool import MEMORY_BYTES, PathSpool, PathSpoolError
from imgval.cli import exitcodes

from tests.batch.test_rerun import counts, run_scan, small_image
from tests.conftest import write_image

ODD = ["plain.jpg", "two\nlines.jpg", "tab\there.jpg", "", "ünïcödé 画像.jpg", "😀.png",
       os.fsdecode(b"caf\xe9 \xff\xfe.jpg"),  # not UTF-8: lone surrogates, as os.listdir gives them
       "\ud800 lone high surrogate", "x" * 5000, "back\\slash \x00 nul"]


def test_paths_come_back_exactly_and_in_order():
    paths = [f"/batch/{i:06d}/{ODD[i % len(ODD)]}" for i in range(30_000)]  # many blocks; names span them
    spool = PathSpool(paths)
    assert len(spool) == len(paths)
    assert list(spool) == paths
    assert list(spool) == paths  # again: iterating does not consume it


def test_iterations_interleave_and_appends_after_one_began_are_not_in_it():
    spool = PathSpool(ODD)
    first, second = iter(spool), iter(spool)
    assert [next(first), next(first)] == ODD[:2]
    assert list(zip(second, first)) == list(zip(ODD, ODD[2:]))  # each reader keeps its own place
    reading = iter(spool)
    spool.append("later.jpg")
    assert list(reading) == ODD
    assert list(spool) == ODD + ["later.jpg"] and len(spool) == len(ODD) + 1


def test_an_empty_spool_is_empty():
    spool = PathSpool()
    assert len(spool) == 0 and not spool and list(spool) == []


def test_a_temporary_folder_that_cannot_be_written_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    spool = PathSpool(["small batch.jpg"] * 100)  # kept in memory: no temporary file needed
    assert list(spool) == ["small batch.jpg"] * 100
    with pytest.raises(PathSpoolError, match="temporary folder .*missing"):
        spool.extend(["x" * 1000] * (MEMORY_BYTES // 1000 + 1))


@pytest.fixture
def odd_batch(tmp_path):
    """Images named as archives name them, in nested folders whose names sort across the
    separator: `a/...` must come after `a.jpg` and `a-b.jpg`, before `a0.jpg`."""
    folder = os.fsencode(tmp_path / "batch")
    names = [b"a.jpg", b"a-b.jpg", b"a/inner.jpg", b"a/z/deep.jpg", b"a0.jpg", b"a.b/x.jpg",
             b"two\nlines.jpg", b"caf\xe9.jpg", b"\xff\xfe/in.jpg", b"Z.jpg", b"sp ace.jpg"]
    for seed, name in enumerate(names):
        write_image(Path(os.fsdecode(folder + b"/" + name)), small_image(seed))
    return tmp_path / "batch", [os.fsdecode(folder + b"/" + name) for name in names]


def test_a_walk_lists_every_path_sorted_whatever_the_names(odd_batch):
    folder, paths = odd_batch
    found = discover([str(folder)])
    assert list(found.paths) == sorted(paths)


def test_a_named_file_is_listed_once_before_or_after_the_folder_holding_it(odd_batch):
    folder, paths = odd_batch
    named = os.path.join(str(folder), "a0.jpg")
    before = list(discover([named, str(folder)]).paths)
    assert before == [named] + [p for p in sorted(paths) if p != named]
    after = list(discover([str(folder), named, str(folder / "a")]).paths)
    assert after == sorted(paths)


def test_odd_names_are_reused_from_the_cache_and_the_report_is_unchanged(odd_batch, tmp_path):
    folder, paths = odd_batch
    out, cache = tmp_path / "results.csv", tmp_path / "cache.sqlite"
    first = run_scan(str(folder), "-s", str(out), "--cache", str(cache))
    assert first.exit_code == exitcodes.OK and counts(first.stdout) == (len(paths), 0)
    report = out.read_bytes()
    (folder / "new.jpg").write_bytes((folder / "Z.jpg").read_bytes())
    again = run_scan(str(folder), "-s", str(out), "--cache", str(cache))
    assert counts(again.stdout) == (1, len(paths))  # only the new file is analysed
    (folder / "new.jpg").unlink()
    third = run_scan(str(folder), "-s", str(out), "--cache", str(cache))
    assert counts(third.stdout) == (0, len(paths)) and out.read_bytes() == report
