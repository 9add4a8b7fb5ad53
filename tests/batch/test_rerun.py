"""Unattended runs (issue 5): results reused from the cache, invalidation, the lock against
overlapping runs, resuming after SIGKILL, exit codes, --quiet and --log-file.

Reuse is observed through what the run says about itself (the summary line's "N analysed, M
reused"), cross-checked against the report's contents."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from imgval.batch.cache import TABLE
from imgval.cli import exitcodes
from imgval.cli.scan import scan
from imgval.synthetic import blurred, natural_image

from tests.conftest import ROOT, write_image


def cli_runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr into output by default
    except TypeError:
        return CliRunner()


def run_scan(*args: str):
    return cli_runner().invoke(scan, [*args, "-j", "1"], catch_exceptions=False)


def counts(output: str) -> tuple[int, int]:
    """(analysed, reused) from the one-line summary."""
    match = re.search(r"(\d+) analysed, (\d+) reused", output)
    assert match, output
    return int(match[1]), int(match[2])


def small_image(seed: int):
    return natural_image(96, 64, seed=seed)


@pytest.fixture
def batch(tmp_path) -> Path:
    folder = tmp_path / "batch"
    for seed in range(3):
        write_image(folder / f"img{seed}.jpg", small_image(seed))
    return folder


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "results.csv"


def rows(report: Path) -> dict[str, str]:
    """filepath -> the whole CSV line."""
    lines = report.read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",", 1)[0]: line for line in lines}


def test_rerun_reuses_every_unchanged_file_and_writes_the_same_report(batch, out, private_cache_dir):
    first = run_scan("-i", str(batch), "-s", str(out))
    assert first.exit_code == exitcodes.OK
    assert counts(first.stdout) == (3, 0)
    report = out.read_bytes()
    assert (private_cache_dir / "imgval" / "results.sqlite").exists()  # the user cache folder by default

    again = run_scan("-i", str(batch), "-s", str(out))
    assert counts(again.stdout) == (0, 3)
    assert out.read_bytes() == report


def test_touched_and_rewritten_files_are_analysed_again(batch, out):
    run_scan("-i", str(batch), "-s", str(out))
    before = rows(out)
    st = os.stat(batch / "img0.jpg")
    os.utime(batch / "img0.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touch
    write_image(batch / "img1.jpg", small_image(99))  # new content
    os.utime(batch / "img1.jpg", ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime

    result = run_scan("-i", str(batch), "-s", str(out))
    assert counts(result.stdout) == (2, 1)
    after = rows(out)
    assert after[str(batch / "img0.jpg")] == before[str(batch / "img0.jpg")]  # same pixels, same row
    assert after[str(batch / "img1.jpg")] != before[str(batch / "img1.jpg")]  # the new image's hash


def test_deleted_files_drop_out_and_new_files_are_added(batch, out):
    run_scan("-i", str(batch), "-s", str(out))
    (batch / "img2.jpg").unlink()
    write_image(batch / "new.jpg", small_image(7))
    result = run_scan("-i", str(batch), "-s", str(out))
    assert counts(result.stdout) == (1, 2)
    assert sorted(Path(p).name for p in rows(out)) == ["img0.jpg", "img1.jpg", "new.jpg"]


def test_changed_settings_invalidate_and_each_settings_keeps_its_results(batch, out, tmp_path):
    run_scan("-i", str(batch), "-s", str(out))
    assert counts(run_scan("-i", str(batch), "-s", str(out), "-t", "5").stdout) == (3, 0)
    profile = tmp_path / "strict.toml"
    profile.write_text('required_tags = ["Make"]\n')
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--profile", str(profile)).stdout) == (3, 0)
    # going back to the first settings finds their results still there
    assert counts(run_scan("-i", str(batch), "-s", str(out)).stdout) == (0, 3)


def test_a_file_reached_by_another_path_reuses_its_result_under_the_new_path(batch, out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_scan("-i", "batch", "-s", str(out))
    assert "batch/img0.jpg" in rows(out)
    result = run_scan("-i", str(batch), "-s", str(out))
    assert counts(result.stdout) == (0, 3)
    assert str(batch / "img0.jpg") in rows(out)


def test_no_cache_analyses_everything_and_records_nothing(batch, out, tmp_path):
    cache = tmp_path / "c.sqlite"
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--no-cache").stdout) == (3, 0)
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache)).stdout) == (3, 0)
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--no-cache").stdout) == (3, 0)
    assert counts(run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache)).stdout) == (0, 3)


def test_a_broken_cache_file_costs_speed_not_the_run(batch, out, tmp_path):
    cache = tmp_path / "c.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    result = run_scan("-i", str(batch), "-s", str(out), "--cache", str(cache))
    assert result.exit_code == exitcodes.OK
    assert counts(result.stdout) == (3, 0) and len(rows(out)) == 3
    assert "Analysing every file this time" in result.stderr


def test_cache_and_no_cache_together_is_a_usage_error(batch, out, tmp_path):
    result = run_scan("-i", str(batch), "-s", str(out), "--cache", str(tmp_path / "c"), "--no-cache")
    assert result.exit_code == exitcodes.USAGE
    assert "contradict" in result.stderr and not out.exists()


# --- exit codes, --fail-on, --quiet, --log-file ------------------------------------------------

@pytest.fixture
def flawed_batch(tmp_path) -> Path:
    """One image of each kind --fail-on names, and one that is fine (scores: sharp ~24, blurry ~1.5;
    the tests use -t 10)."""
    folder = tmp_path / "flawed"
    sharp = natural_image(600, 400, seed=5)
    write_image(folder / "sharp.jpg", sharp)
    write_image(folder / "blurry.jpg", blurred(natural_image(600, 400, seed=6), 6))
    write_image(folder / "copy_a.png", natural_image(600, 400, seed=8))
    write_image(folder / "copy_b.png", natural_image(600, 400, seed=8))
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


@pytest.mark.parametrize("kinds, expected", [
    ("", exitcodes.OK),
    ("blurry", exitcodes.FLAGGED),
    ("duplicate", exitcodes.FLAGGED),
    ("error", exitcodes.FLAGGED),
    ("exif", exitcodes.OK),  # the built-in profile passes images without EXIF
])
def test_fail_on_exit_codes(flawed_batch, out, kinds, expected):
    result = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "--fail-on", kinds)
    assert result.exit_code == expected, result.stderr
    assert len(rows(out)) == 5  # the report is complete either way
    if expected == exitcodes.FLAGGED:
        assert f"--fail-on {kinds}: found" in result.stderr


def test_fail_on_exif_with_a_profile_and_the_findings_message(flawed_batch, out, tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text('required_tags = ["Make"]\n')
    (flawed_batch / "broken.jpg").unlink()
    write_image(flawed_batch / "copy_b.png", natural_image(600, 400, seed=9))
    result = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "--profile", str(profile),
                      "--fail-on", "exif,duplicate,error")
    assert result.exit_code == exitcodes.FLAGGED
    assert "found 4 failing the EXIF rules;" in result.stderr  # no duplicates, no errors left


def test_fail_on_rejects_an_unknown_kind(flawed_batch, out):
    result = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "--fail-on", "blurry,blury")
    assert result.exit_code == exitcodes.USAGE
    assert "unknown kind 'blury'" in result.stderr and not out.exists()


def test_quiet_prints_nothing_on_success_and_only_the_findings_when_flagged(flawed_batch, out):
    (flawed_batch / "broken.jpg").unlink()
    quiet = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "-q")
    assert quiet.exit_code == exitcodes.OK
    assert quiet.stdout == "" and quiet.stderr == ""
    flagged = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "-q", "--fail-on", "blurry")
    assert flagged.exit_code == exitcodes.FLAGGED
    assert flagged.stdout == "" and "found 1 blurry" in flagged.stderr


def test_log_file_has_every_image_and_the_summary(flawed_batch, out, tmp_path):
    log = tmp_path / "run.log"
    result = run_scan("-i", str(flawed_batch), "-t", "10", "-s", str(out), "-q", "--log-file", str(log))
    assert result.exit_code == exitcodes.OK
    text = log.read_text()
    for name in ("sharp.jpg", "blurry.jpg", "copy_a.png", "copy_b.png", "broken.jpg"):
        assert name in text
    assert "imgval: 5 images, 1 blurry, 0 failing EXIF, 2 duplicates, 1 errors; 5 analysed, 0 reused" in text
    assert "broken.jpg" in result.stderr  # errors still reach the terminal (and cron mail)


# --- real processes: the lock, SIGKILL, SIGTERM -------------------------------------------------

SLOW_BATCH = 200


@pytest.fixture(scope="module")
def slow_batch(tmp_path_factory) -> Path:
    """Enough images that a run lasts about a second, long enough to be caught mid-way."""
    folder = tmp_path_factory.mktemp("slow") / "images"
    for seed in range(SLOW_BATCH):
        write_image(folder / f"img{seed:03d}.jpg", small_image(seed), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return folder


# process.py, with checkpoints every 10 ms instead of every second, so that a run of a second
# has committed results to be caught with mid-way; everything else is the real program.
CHECKPOINT_OFTEN = ("import sys, imgval.batch.cache; imgval.batch.cache.COMMIT_EVERY_SECONDS = 0.01; "
                    "sys.argv[0] = 'process.py'; from imgval.cli.main import process_main; process_main()")


def start_scan(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHECKPOINT_OFTEN, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_mid_run(run: subprocess.Popen, cache: Path, report: Path) -> None:
    """Wait for the run's first checkpoint, then freeze it (SIGSTOP) where it is."""
    wait_for(lambda: cached_results(cache) > 0 or run.poll() is not None, "a checkpoint")
    run.send_signal(signal.SIGSTOP)
    assert run.poll() is None and not report.exists(), "the run finished before it could be caught mid-way"


def cached_results(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=5) as db:
            return db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_second_run_on_the_same_report_exits_at_once_and_leaves_the_first_alone(slow_batch, tmp_path):
    args = ("-i", str(slow_batch), "-s", "results.csv", "-j", "2")
    first = start_scan(*args, "--cache", "one.sqlite", cwd=tmp_path)
    try:
        stop_mid_run(first, tmp_path / "one.sqlite", tmp_path / "results.csv")  # surely still running
        second = subprocess.run([sys.executable, str(ROOT / "process.py"), *args, "--cache", "two.sqlite"],
                                cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == exitcodes.LOCKED
        assert f"another imgval run (process {first.pid}) is writing" in second.stderr
        assert first.poll() is None, "the second run should not have waited for the first"
        assert cached_results(tmp_path / "two.sqlite") == 0  # it did nothing
    finally:
        first.send_signal(signal.SIGCONT)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == exitcodes.OK, stderr
    assert counts(stdout) == (SLOW_BATCH, 0) and len(rows(tmp_path / "results.csv")) == SLOW_BATCH
    assert not (tmp_path / "results.csv.lock").exists()
    assert not list(tmp_path.glob(".imgval-*.part"))  # the refused run left no temporary report


def test_killed_run_resumes_and_writes_the_same_report_as_an_uninterrupted_one(slow_batch, tmp_path):
    args = ("-i", str(slow_batch), "-s", "results.csv", "-j", "2", "--cache", "c.sqlite")
    killed = start_scan(*args, cwd=tmp_path)
    stop_mid_run(killed, tmp_path / "c.sqlite", tmp_path / "results.csv")
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)  # returns only when the orphaned workers have exited too
    done_before_kill = cached_results(tmp_path / "c.sqlite")
    assert 0 < done_before_kill < SLOW_BATCH
    assert not (tmp_path / "results.csv").exists()  # never a half-written report
    assert (tmp_path / "results.csv.lock").exists()  # left behind by the kill, but no longer locked

    resumed = start_scan(*args, cwd=tmp_path)
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == exitcodes.OK, stderr
    analysed, reused = counts(stdout)
    assert reused == done_before_kill and analysed == SLOW_BATCH - done_before_kill

    whole = subprocess.run([sys.executable, str(ROOT / "process.py"), "-i", str(slow_batch), "-s", "whole.csv",
                            "-j", "2", "--no-cache"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, timeout=120)
    assert whole.returncode == exitcodes.OK, whole.stderr
    assert (tmp_path / "results.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_sigterm_stops_the_run_keeps_finished_results_and_writes_no_report(slow_batch, tmp_path):
    args = ("-i", str(slow_batch), "-s", "results.csv", "-j", "2", "--cache", "c.sqlite")
    run = start_scan(*args, cwd=tmp_path)
    stop_mid_run(run, tmp_path / "c.sqlite", tmp_path / "results.csv")
    run.send_signal(signal.SIGTERM)
    run.send_signal(signal.SIGCONT)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == exitcodes.INTERRUPTED, stderr
    assert "Interrupted: no report written" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "results.csv.lock").exists()
    assert not list(tmp_path.glob(".imgval-*.part"))
    kept = cached_results(tmp_path / "c.sqlite")
    assert f"{kept} result(s) are kept in the cache" in stderr  # everything analysed was committed
