"""Where reports, pages and logs may be written (issue 11.2): never onto a device, a FIFO, a
folder or an input image; through a symlink to its target. Refusals are exit 2 before any work."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest


from imgval.cli import exitcodes
from imgval.cli.main import main

from tests.batch.test_rerun import cli_runner
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.name != "posix", reason="devices, FIFOs and symlinks as POSIX has them")


def imgval(*args, cwd):
    """The CLI in this process (fast), run from folder cwd."""
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        result = cli_runner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)
    result.returncode = result.exit_code
    return result


def imgval_process(*args, cwd):
    """The CLI as a user runs it, with a short timeout: a FIFO opened by mistake would block."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "imgval.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_refused(result, *words):
    assert result.returncode == exitcodes.USAGE, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def device(tmp_path):
    """A private character device (the null device's numbers), never the real /dev/null: a
    regression would replace the machine's /dev/null with a regular file."""
    path = tmp_path / "dev" / "null"
    path.parent.mkdir()
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    return path


@pytest.mark.parametrize("option", ["-s", "--html", "--log-file"])
def test_a_device_is_refused_and_left_alone(tmp_path, image_dir, device, option):
    link = tmp_path / "link.out"
    link.symlink_to(device)
    for path in (str(device), str(link)):
        result = imgval("scan", "-i", str(image_dir), option, path, "--no-cache", cwd=tmp_path)
        assert_refused(result, "a device", "not a regular file")
        assert stat.S_ISCHR(os.stat(device).st_mode)
    assert link.is_symlink()
    assert not (tmp_path / "results.csv").exists()


@pytest.mark.parametrize("option", ["-s", "--html", "--log-file"])
def test_a_fifo_is_refused_without_blocking(tmp_path, image_dir, option):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    result = imgval_process("scan", "-i", str(image_dir), option, str(fifo), "--no-cache", cwd=tmp_path)
    assert_refused(result, "FIFO")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("option", ["-s", "--html", "--log-file"])
def test_a_folder_is_refused(tmp_path, image_dir, option):
    (tmp_path / "out").mkdir()
    result = imgval("scan", "-i", str(image_dir), option, str(tmp_path / "out"), "--no-cache", cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE and "Traceback" not in result.stderr
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize("option", ["-s", "--html", "--log-file", "--cache"])
def test_an_input_image_is_never_overwritten(tmp_path, image_dir, option):
    image = image_dir / "sharp.jpg"
    before = image.read_bytes()
    for inputs in ([str(image_dir)], [str(image)], [str(image_dir / "blurry.jpg"), str(image)]):
        extra = [] if option == "--cache" else ["--no-cache"]
        result = imgval("scan", "-i", *inputs, option, str(image), *extra, cwd=tmp_path)
        assert_refused(result, "one of this run's inputs")
    link = tmp_path / "innocent.csv"
    link.symlink_to(image)
    result = imgval("scan", "-i", str(image_dir), option, str(link), cwd=tmp_path)
    assert_refused(result, "one of this run's inputs")
    assert image.read_bytes() == before


def test_two_outputs_on_one_file_are_refused(tmp_path, image_dir):
    result = imgval("scan", "-i", str(image_dir), "-s", "r.csv", "--log-file", "r.csv", "--no-cache", cwd=tmp_path)
    assert_refused(result, "name the same file")


def test_report_and_page_are_written_through_symlinks(tmp_path, image_dir):
    (tmp_path / "real").mkdir()
    (tmp_path / "results.csv").symlink_to(tmp_path / "real" / "r.csv")  # dangling until the run
    (tmp_path / "page.html").symlink_to(tmp_path / "real" / "p.html")
    (tmp_path / "real" / "p.html").write_text("old page")
    (tmp_path / "run.log").symlink_to(tmp_path / "real" / "log.txt")
    result = imgval("scan", "-i", str(image_dir), "--html", "page.html", "--log-file", "run.log", "--no-cache",
                    "-j", "1", cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    for name in ("results.csv", "page.html", "run.log"):
        assert (tmp_path / name).is_symlink(), name
    assert (tmp_path / "real" / "r.csv").read_text().startswith("filepath,")
    assert "<!DOCTYPE html>" in (tmp_path / "real" / "p.html").read_text()
    assert "sharp.jpg" in (tmp_path / "real" / "log.txt").read_text()
    assert not list((tmp_path / "real").glob(".*.part")) and not list(tmp_path.glob("*.lock"))


def test_imgval_report_refuses_to_write_the_page_over_its_input(tmp_path, image_dir, device):
    assert imgval("scan", "-i", str(image_dir), "--no-cache", "-j", "1", cwd=tmp_path).returncode == 0
    before = (tmp_path / "results.csv").read_bytes()
    result = imgval("report", "results.csv", "--html", "results.csv", cwd=tmp_path)
    assert_refused(result, "one of this run's inputs")
    assert_refused(imgval("report", "results.csv", "--html", str(device), cwd=tmp_path), "a device")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert (tmp_path / "results.csv").read_bytes() == before


def test_process_blur_checks_its_outputs_too(tmp_path, image_dir):
    image = image_dir / "sharp.jpg"
    before = image.read_bytes()
    script = str(ROOT / "process_blur.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for option in ("-s", "-l"):
        result = subprocess.run([sys.executable, script, "-i", str(image_dir), option, str(image)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=120)
        assert_refused(result, "one of this run's inputs")
    assert image.read_bytes() == before


def test_imgval_run_refuses_a_fifo_as_its_log_file(tmp_path, image_dir):
    os.mkfifo(tmp_path / "log.fifo")
    (tmp_path / "imgval.toml").write_text(f'[run]\nlog_file = "log.fifo"\n[scan]\nimages = ["{image_dir}"]\n')
    result = imgval_process("run", "--config", str(tmp_path / "imgval.toml"), cwd=tmp_path)
    assert_refused(result, "log_file", "FIFO")


def test_imgval_sync_refuses_a_device_or_an_image_it_copies_as_its_manifest(tmp_path, image_dir, device):
    destination = tmp_path / "copy"
    destination.mkdir()
    assert_refused(imgval("sync", str(image_dir), str(destination), "--manifest", str(device), cwd=tmp_path),
                   "--manifest", "a device")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    image = image_dir / "sharp.jpg"
    before = image.read_bytes()
    assert_refused(imgval("sync", str(image_dir), str(destination), "--manifest", str(image), cwd=tmp_path),
                   "one of this run's inputs")
    assert image.read_bytes() == before and not list(destination.iterdir())
