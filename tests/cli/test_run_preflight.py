"""`imgval run` with the README's own config works the first time in a fresh folder, and
`--check` verifies what the run needs before the first step: output folders (created when
their parent exists), inputs and credentials (issue 12, point 3). Dropbox and Box emulators and
a moto S3 server; the CLI as a subprocess."""
from __future__ import annotations

import csv
import re
import shutil

import pytest

from imgval.cli import exitcodes
from imgval.storage.s3 import make_client
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

from tests.conftest import ROOT, run_script

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_config() -> str:
    blocks = re.findall(r"^```toml\n(.*?)^```", README, flags=re.S | re.M)
    (config,) = [b for b in blocks if "[scan]" in b]
    return config


@pytest.fixture
def project(tmp_path, small_batch, dropbox_emulator, box_emulator, s3_bucket, monkeypatch):
    """A fresh project folder holding only the README's imgval.toml and its profile.toml, with
    the README's storages pointed at the emulators."""
    monkeypatch.setenv("IMGVAL_HASH_CACHE", str(tmp_path / "pairs.sqlite"))
    for path in sorted(p for p in small_batch.rglob("*") if p.is_file()):
        dropbox_emulator.put_file(f"/Scans/Incoming/{path.relative_to(small_batch).as_posix()}", path.read_bytes())
    box_folder = box_emulator.make_folder("0", "Archive")
    folder = tmp_path / "project"
    folder.mkdir()
    text = readme_config().replace("archive-bucket", s3_bucket).replace("box:123456789", f"box:{box_folder}")
    (folder / "imgval.toml").write_text(text)
    shutil.copy(ROOT / "examples" / "profile.toml", folder / "profile.toml")
    return folder


def run(project, *args):
    return run_script("-m", "imgval", "run", "--config", str(project / "imgval.toml"), *args, cwd=project.parent)


def test_the_readme_config_checks_and_runs_the_first_time(project, s3_bucket):
    checked = run(project, "--check")
    assert checked.returncode == exitcodes.OK, checked.stderr
    for folder in ("logs", "reports", "cache"):
        assert f"would create the folder {project / folder}" in checked.stdout
        assert not (project / folder).exists()  # --check runs nothing

    result = run(project)
    assert result.returncode in (exitcodes.OK, exitcodes.FLAGGED), result.stderr
    assert "Traceback" not in result.stderr
    rows = list(csv.DictReader((project / "reports" / "results.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and all(r["filepath"].startswith(f"s3://{s3_bucket}/scans/") for r in rows)
    assert (project / "reports" / "results.html").exists()
    assert (project / "logs" / "sync-manifest.csv").exists() and (project / "logs" / "imgval.log").exists()


def test_a_missing_output_folder_stops_the_run_before_the_sync(project, s3_bucket):
    config = project / "imgval.toml"
    config.write_text(config.read_text().replace('"reports/results.csv"', '"out/reports/results.csv"'))
    for args in (["--check"], []):
        result = run(project, *args)
        assert result.returncode == exitcodes.USAGE, result.stderr
        assert result.stderr.startswith("imgval run: ") and "out" in result.stderr
        assert "Usage: imgval scan" not in result.stderr
    assert "Contents" not in make_client().list_objects_v2(Bucket=s3_bucket)  # the sync never started
    assert not (project / "logs").exists()


def test_check_finds_missing_credentials_and_unlistable_inputs(project, monkeypatch):
    monkeypatch.delenv("DROPBOX_ACCESS_TOKEN")
    result = run(project, "--check")
    assert result.returncode == exitcodes.USAGE and "DROPBOX" in result.stderr, result.stderr

    config = project / "imgval.toml"
    config.write_text("[scan]\nimages = [\"dropbox:/Scans/Nowhere\", \"missing-folder\"]\n")
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "test-access-token")
    result = run(project, "--check")
    assert result.returncode == exitcodes.USAGE
    assert "dropbox:/Scans/Nowhere" in result.stderr and "missing-folder" in result.stderr


def test_a_step_error_names_the_command_the_user_typed(project, s3_bucket):
    (project / "imgval.toml").write_text(f'[scan]\nimages = ["s3://{s3_bucket}/typo"]\nno_cache = true\n')
    result = run(project)
    assert result.returncode == exitcodes.USAGE
    assert result.stderr.startswith("imgval run: step scan: ") and "typo" in result.stderr, result.stderr
    assert "Usage:" not in result.stderr
