"""A scan that could not read its input checked nothing: it exits 2 before anything is
written, and the previous report stays as it was (issue 12, point 1). Real S3 (moto server),
Dropbox and Box emulators, the CLI run as a subprocess."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from imgval.cli import exitcodes
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

from tests.conftest import ROOT, run_script, write_image

PREVIOUS = "filepath,score\nlast-night.jpg,120.0\n"


@pytest.fixture
def previous_report(tmp_path):
    report = tmp_path / "results.csv"
    report.write_text(PREVIOUS)
    return report


def scan(tmp_path, *inputs):
    args = [str(ROOT / "process.py"), "--no-cache", "-j", "1"]
    for item in inputs:
        args += ["-i", item]
    return run_script(*args, cwd=tmp_path)


def assert_refused(result, report, *words):
    assert result.returncode == exitcodes.USAGE, (result.returncode, result.stdout, result.stderr)
    assert "Nothing was checked" in result.stderr or "nothing was checked" in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "Image count" not in result.stdout
    assert report.read_text() == PREVIOUS
    assert not [p for p in os.listdir(report.parent) if p.startswith(".imgval-")]


def test_missing_bucket_misspelt_prefix_and_no_credentials_exit_2(tmp_path, s3_bucket, previous_report,
                                                                  monkeypatch):
    from imgval.storage.s3 import make_client

    ok, data = cv2.imencode(".jpg", np.full((64, 64), 128, np.uint8))
    make_client().put_object(Bucket=s3_bucket, Key="scans/a.jpg", Body=data.tobytes())
    assert_refused(scan(tmp_path, "s3://no-such-bucket-imgval/scans"), previous_report, "no-such-bucket-imgval")
    assert_refused(scan(tmp_path, f"s3://{s3_bucket}/scnas"), previous_report, "scnas")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert_refused(scan(tmp_path, f"s3://{s3_bucket}/scans"), previous_report, "AWS_ACCESS_KEY_ID")


def test_dropbox_and_box_folders_that_do_not_exist_exit_2(tmp_path, dropbox_emulator, box_emulator,
                                                          previous_report):
    assert_refused(scan(tmp_path, "dropbox:/Scans/Nowhere"), previous_report, "dropbox:/Scans/Nowhere")
    assert_refused(scan(tmp_path, "box:987654321"), previous_report, "box:987654321")


def test_one_unlistable_input_among_several_refuses_the_run(tmp_path, sharp_image, s3_endpoint,
                                                            previous_report):
    write_image(tmp_path / "batch" / "a.jpg", sharp_image)
    result = scan(tmp_path, str(tmp_path / "batch"), "s3://no-such-bucket-imgval/x")
    assert_refused(result, previous_report, "no-such-bucket-imgval")


def test_empty_folder_checks_nothing_and_exits_2(tmp_path, previous_report):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("sidecar")
    assert_refused(scan(tmp_path, "empty"), previous_report, "no image files found in empty")
    blur = run_script(str(ROOT / "process_blur.py"), "-i", "empty", cwd=tmp_path)
    assert blur.returncode == exitcodes.USAGE and "no image files found" in blur.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_unlistable_local_folder_exits_2(tmp_path, previous_report):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        assert_refused(scan(tmp_path, "locked"), previous_report, "could not list folder")
    finally:
        locked.chmod(0o755)


def test_run_config_with_an_unlistable_input_exits_2(tmp_path, s3_endpoint, previous_report):
    config = tmp_path / "imgval.toml"
    config.write_text('[scan]\nimages = ["s3://no-such-bucket-imgval/scans"]\nno_cache = true\n'
                      '[report]\nsave_path = "results.csv"\nfail_on = ["blurry"]\n')
    result = run_script("-m", "imgval.cli", "run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE, result.stderr
    assert "no-such-bucket-imgval" in result.stderr
    assert previous_report.read_text() == PREVIOUS
