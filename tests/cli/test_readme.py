"""The README's own recipes work on imgval's own reports (issue 12, point 2): every Python block
is executed against a real scan of the bundled samples, every TOML profile block is loaded, every
local `imgval`/`python` command of a shell block is run, and the sample run prints what the
README shows."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imgval.analysis.profile_toml import load_profile

from tests.conftest import ROOT, run_script

README = (ROOT / "README.md").read_text(encoding="utf-8")
REMOTE = ("s3://", "dropbox:", "box:")


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


@pytest.fixture(scope="module")
def samples_scanned(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`python process.py -i samples` as the README runs it, plus the same scan as JSON."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "samples", folder / "samples")
    first = run_script(str(ROOT / "process.py"), "-i", "samples", "--no-cache", cwd=folder, check=True)
    run_script(str(ROOT / "process.py"), "-i", "samples", "--no-cache", "-o", "json", "-q", cwd=folder, check=True)
    return folder, first


def names(frame) -> list[str]:
    return sorted(Path(p).name for p in frame.filepath)


def test_the_sample_run_prints_what_the_readme_shows(samples_scanned):
    _, result = samples_scanned
    start = README.index("    samples/blurry.jpg")
    shown = README[start:README.index("\n\n", start)].splitlines()
    printed = result.stdout.splitlines()

    def timeless(line: str) -> str:
        return re.sub(r"\d+\.\d+ seconds|\(\d+\.\d+ s\)", "T", line.strip())

    for line in shown:
        if line.strip() != "...":
            assert timeless(line) in map(timeless, printed), (line, result.stdout)


def test_every_python_block_runs_on_the_report_of_the_samples(samples_scanned, monkeypatch):
    folder, _ = samples_scanned
    monkeypatch.chdir(folder)
    blocks = fenced_blocks("python")
    assert len(blocks) >= 3
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
        df = namespace["df"]
        assert str(df.blurry.dtype) == "bool" and str(df.exif_ok.dtype) == "bool"
        for column in ("width", "height", "dup_group"):
            assert str(df[column].dtype) == "int64", column
        if "blurry" in namespace:
            assert names(namespace["blurry"]) == ["blurry.jpg"]
        if "not_passed" in namespace:
            assert names(namespace["not_passed"]) == ["future_date.jpg", "not_an_image.jpg"]
            assert names(namespace["broke_a_rule"]) == ["future_date.jpg"]
            assert names(namespace["errors"]) == ["not_an_image.jpg", "truncated.jpg"]
            assert names(namespace["duplicates"]) == ["duplicate_a.jpg", "duplicate_b.jpg"]
        if "df1" in namespace:  # the original tool's duplicate recipe
            assert names(namespace["df1"]) == ["duplicate_a.jpg", "duplicate_b.jpg"]


def test_json_numbers_are_numbers(samples_scanned):
    import json

    folder, _ = samples_scanned
    rows = {Path(r["filepath"]).name: r for r in json.loads((folder / "results.json").read_text())["results"]}
    assert rows["sharp.jpg"]["x_resolution"] == 300 and rows["sharp.jpg"]["orientation"] is None
    assert rows["sharp.jpg"]["width"] == 1700 and rows["not_an_image.jpg"]["width"] == 0
    assert rows["not_an_image.jpg"]["blurry"] is False and rows["not_an_image.jpg"]["exif_status"] == ""
    assert rows["future_date.jpg"]["exif_ok"] is False and rows["future_date.jpg"]["exif_status"] == "fail"


def test_every_profile_block_loads_and_the_example_is_the_shipped_file(tmp_path):
    profiles = [b for b in fenced_blocks("toml") if "[scan]" not in b]
    assert profiles
    for i, block in enumerate(profiles):
        path = tmp_path / f"block{i}.toml"
        path.write_text(block)
        load_profile(str(path))
    assert (ROOT / "examples" / "profile.toml").read_text() in profiles


def local_commands() -> list[str]:
    """The `imgval ...` and `python ...` lines of the README's shell blocks that name no remote
    storage (those run against the emulators in test_sync_scan.py and test_unlistable_inputs.py)."""
    lines = [line.split("#")[0].strip() for block in fenced_blocks("sh") for line in block.splitlines()]
    return [line for line in lines if line.startswith(("imgval ", "python ")) and not any(r in line for r in REMOTE)]


def test_every_local_shell_command_runs_on_the_samples(samples_scanned):
    import bagit

    folder, _ = samples_scanned
    commands = local_commands()
    assert any("--html" in c for c in commands) and any("--profile" in c for c in commands)
    bag = folder / "accession-17"  # the README's bag: the samples, bagged by bagit-python
    shutil.copytree(ROOT / "samples", bag, ignore=shutil.ignore_patterns("*.py"))
    bagit.make_bag(str(bag), checksums=["sha256", "md5"])
    for command in commands:
        words = command.replace("path/to/batch", "samples").replace("/data/batch-42", "samples")
        words = shlex.split(words.replace("/data/accession-17", str(bag)))
        words = [str(ROOT / w) if w.startswith("examples/") else w for w in words]
        if words[0] == "imgval":
            words = [sys.executable, "-m", "imgval", *words[1:]]
        result = subprocess.run(words, cwd=folder, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr
