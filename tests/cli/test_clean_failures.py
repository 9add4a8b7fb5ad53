"""Clean failures (issue 11.10): impossible thresholds, absurd --jobs, file modes, stale
temporary files, decoder chatter on stderr, and a full disk while the report is written."""
from __future__ import annotations

import multiprocessing
import os
import stat

import cv2
import numpy as np
import pytest

from imgval.analysis.analyze import Settings
from imgval.batch.pool import run
from imgval.cli import exitcodes
from imgval.cli.main import main
from imgval.synthetic import natural_image

from tests.batch.test_rerun import cli_runner, run_scan
from tests.conftest import ROOT, run_script, write_image


@pytest.fixture
def small_batch(tmp_path):
    folder = tmp_path / "batch"
    for seed in range(3):
        write_image(folder / f"img{seed}.jpg", natural_image(96, 64, seed=seed))
    return folder


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-inf", "-1"])
def test_a_threshold_that_is_not_a_finite_number_is_refused(small_batch, tmp_path, value):
    out = tmp_path / "r.csv"
    result = run_scan("-i", str(small_batch), "-s", str(out), f"--threshold={value}", "--html",
                      str(tmp_path / "r.html"), "--fail-on", "blurry")
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "not a blur threshold" in result.stderr and not out.exists()


def test_imgval_report_refuses_a_nan_threshold(small_batch, tmp_path):
    out = tmp_path / "r.csv"
    assert run_scan("-i", str(small_batch), "-s", str(out)).exit_code == 0
    result = cli_runner().invoke(main, ["report", str(out), "--html", str(tmp_path / "r.html"), "-t", "nan"])
    assert result.exit_code == exitcodes.USAGE and "not a blur threshold" in result.stderr


def test_never_more_workers_than_files(small_batch):
    paths = sorted(str(p) for p in small_batch.iterdir())
    workers = []
    others = set(multiprocessing.active_children())  # e.g. the session's Dask cluster
    records = run(paths, Settings(), jobs=50)
    for record in records:
        workers.append(len(set(multiprocessing.active_children()) - others))
        assert record.error == ""
    assert 1 <= max(workers) <= len(paths)


def test_the_csv_follows_the_umask_like_the_html(small_batch, tmp_path):
    previous = os.umask(0o027)
    try:
        result = run_scan("-i", str(small_batch), "-s", str(tmp_path / "r.csv"), "--html", str(tmp_path / "r.html"),
                          "--no-cache")
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(tmp_path / "r.csv").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "r.html").st_mode) == 0o640


def test_opencv_messages_about_damaged_files_stay_off_stderr(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    picture = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    for ext in (".bmp", ".jp2", ".tif"):
        encoded = cv2.imencode(ext, picture)[1].tobytes()
        (folder / f"half{ext}").write_bytes(encoded[: len(encoded) // 2])
    for mode in ("default", "exact"):
        result = run_script(str(ROOT / "process.py"), "-i", str(folder), "-q", "--no-cache", "--mode", mode,
                            "--html", "r.html", cwd=tmp_path)
        assert result.returncode == exitcodes.OK, result.stderr
        for line in result.stderr.splitlines():
            assert line == "" or " WARNING " in line, line  # only imgval's own lines, one per broken file
        assert "[ERROR:" not in result.stderr and "[ WARN:" not in result.stderr


def leave_a_part_behind(target, cwd):
    """A process that starts writing `target` and is killed with SIGKILL, as the OOM killer would."""
    code = ("import os, signal; from imgval.report.atomicfile import AtomicFile; "
            f"AtomicFile({str(target)!r}).handle.write('half'); os.kill(os.getpid(), signal.SIGKILL)")
    result = run_script("-c", code, cwd=cwd)
    assert result.returncode == -9


def test_stale_part_files_of_killed_runs_are_removed(small_batch, tmp_path):
    from imgval.report.atomicfile import AtomicFile

    out = tmp_path / "r.csv"
    leave_a_part_behind(out, tmp_path)
    leave_a_part_behind(tmp_path / "page.html", tmp_path)
    stale = sorted(p.name for p in tmp_path.glob(".imgval-*.part"))
    assert len(stale) == 2
    living = AtomicFile(str(out))  # another run, still writing the same report: left alone
    other_host = tmp_path / ".imgval-r.csv.elsewhere.example-1-abc.part"
    other_host.write_text("another machine's run on a shared folder")
    try:
        result = run_scan("-i", str(small_batch), "-s", str(out), "--html", str(tmp_path / "page.html"))
        assert result.exit_code == 0, result.output
        left = {p.name for p in tmp_path.glob(".imgval-*.part")}
        assert left == {os.path.basename(living.tmp_path), other_host.name}
    finally:
        living.discard()


def full_disk_run(tmp_path, batch, how):
    """Scan `batch` with the report on a nearly full file system: a 64 KiB tmpfs when this test
    may mount one (root), else a 4 KiB file-size limit (RLIMIT_FSIZE, EFBIG) on the process."""
    import resource
    import subprocess
    import sys

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    args = [sys.executable, str(ROOT / "process.py"), "-i", str(batch), "-s", str(out_dir / "r.csv"), "-j", "1"]
    if how == "tmpfs":
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out_dir)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        try:
            with open(out_dir / "filler", "wb", buffering=0) as filler:  # fill it, then free one page
                try:
                    while filler.write(b"\0" * 4096):
                        pass
                except OSError:
                    pass
            os.truncate(out_dir / "filler", max(0, os.path.getsize(out_dir / "filler") - 4096))
            cache = tmp_path / "cache.sqlite"
            result = subprocess.run(args + ["--cache", str(cache), "--log-file", str(out_dir / "run.log")],
                                    env=env, capture_output=True, text=True, timeout=300)
            left = sorted(p.name for p in out_dir.iterdir())
        finally:
            subprocess.run(["umount", str(out_dir)], check=True)
        return result, left, cache
    limit = 4096
    result = subprocess.run(args + ["--no-cache"], env=env, capture_output=True, text=True, timeout=300,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    return result, sorted(p.name for p in out_dir.iterdir()), None


@pytest.mark.parametrize("how", ["tmpfs", "fsize"])
def test_a_full_disk_gives_one_message_exit_1_and_leaves_nothing(tmp_path, how):
    batch = tmp_path / "batch"
    for i in range(40):  # ~40 rows: more than the 4 KiB the report may take
        write_image(batch / f"image-with-a-longish-name-{i:03d}.png", natural_image(16, 16, seed=i))
    result, left, cache = full_disk_run(tmp_path, batch, how)
    assert result.returncode == exitcodes.FAILED, result.stderr
    assert "Traceback" not in result.stderr
    message = [line for line in result.stderr.splitlines() if "cannot write the report" in line]
    assert len(message) == 1, result.stderr
    assert "No report written" in message[0]
    assert ("No space left on device" if how == "tmpfs" else "File too large") in message[0]
    assert [name for name in left if name not in ("filler", "run.log")] == []  # no report, no .part, no lock
    assert len([line for line in result.stderr.splitlines() if "cannot write the log file" in line]) <= 1
    if cache is not None:  # closed cleanly (no WAL left) with every result kept for the next run
        import sqlite3

        from imgval.batch.cache import TABLE
        assert not os.path.exists(str(cache) + "-wal")
        with sqlite3.connect(cache) as db:
            kept = db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
        assert kept > 0 and f"; {kept} result(s) are kept in the cache" in message[0]


@pytest.mark.parametrize("threshold", [float("inf"), float("nan")])
def test_an_older_report_with_an_infinite_threshold_still_gets_its_histogram(threshold):
    from imgval.report.html import histogram_svg

    svg = histogram_svg([5.0, 50.0, 500.0], threshold)
    assert svg.startswith("<svg") and 'id="threshold"' not in svg
