"""A runtime-only install (`pip install .`) has everything the commands need (issue 12, point
9): the runtime requirements name no test package, and every command works with the test stack
made unimportable."""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys

from tests.conftest import ROOT

TEST_ONLY = ("pytest", "moto", "trustme", "websocket", "pandas", "werkzeug", "flask")

BLOCKER = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {TEST_ONLY!r}:
            raise ImportError(name + ' is a test package: not installed by pip install .')
sys.meta_path.insert(0, Block())
from imgval.cli.main import main
main(sys.argv[1:], prog_name='imgval')
"""


def requirement_names(text: str) -> list[str]:
    return [re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower() for line in text.splitlines()
            if line.strip()]


def test_runtime_requirements_name_no_test_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    runtime = requirement_names(config["options"]["install_requires"])
    test = requirement_names(config["options.extras_require"]["test"])
    assert "pytest" in test and "pandas" in test
    assert not [name for name in runtime if name.split("[")[0].startswith(TEST_ONLY)]


def imgval_without_test_packages(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, "-c", BLOCKER, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_command_runs_without_the_test_stack(tmp_path):
    (tmp_path / "imgval.toml").write_text(f'[scan]\nimages = ["{ROOT / "samples"}"]\nno_cache = true\n')
    for args in (["scan", str(ROOT / "samples"), "--no-cache", "--html", "r.html"],
                 ["dupes", "results.csv"], ["report", "results.csv", "--html", "again.html"],
                 ["run", "--config", "imgval.toml", "--check"], ["sync", "--help"],
                 ["sync", str(ROOT / "samples"), str(tmp_path / "copy")]):
        result = imgval_without_test_packages(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert (tmp_path / "r.html").exists() and (tmp_path / "copy" / "sharp.jpg").exists()
