"""Clean failures (issue 11.10): impossible thresholds, absurd --jobs, file modes, stale
temporary files, decoder chatter on stderr, and a full disk while the report is written."""
from __future__ import annotations

import multiprocessing
import os
import stat

import cv2
import numpy as np
import pytest

from imgval import exitcodes
from imgval.analyze import Settings
from imgval.cli import main
from imgval.runner import run
from imgval.synthetic import natural_image

from .conftest import ROOT, run_script, write_image
from .test_rerun import cli_runner, run_scan


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
    records = run(paths, Settings(), jobs=50)
    for record in records:
        workers.append(len(multiprocessing.active_children()))
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
