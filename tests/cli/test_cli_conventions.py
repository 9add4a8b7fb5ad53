"""CLI conventions (issue 12, point 7): paths as arguments or after -i, `python -m imgval`,
whole command descriptions in `imgval --help`, and the README's option tables agree with
`--help`."""
from __future__ import annotations

import re

from tests.conftest import ROOT, run_script
from tests.cli.test_cli import read_csv as read_csv_rows

README = (ROOT / "README.md").read_text(encoding="utf-8")


def words(text: str) -> str:
    return " ".join(text.split())


def test_paths_as_arguments_are_the_same_run_as_after_i(tmp_path, small_batch):
    run_script("-m", "imgval", "scan", str(small_batch / "sub"), "-i", str(small_batch / "sharp.jpg"), "-s", "a.csv",
               "--no-cache", cwd=tmp_path, check=True)
    run_script(str(ROOT / "process.py"), "-i", str(small_batch / "sharp.jpg"), str(small_batch / "sub"), "-s", "b.csv",
               "--no-cache", cwd=tmp_path, check=True)
    a, b = read_csv_rows(tmp_path / "a.csv"), read_csv_rows(tmp_path / "b.csv")
    assert sorted(r["filepath"] for r in a) == sorted(r["filepath"] for r in b) and len(a) == 3
    blur = run_script(str(ROOT / "process_blur.py"), str(small_batch / "sub"), cwd=tmp_path, check=True)
    assert len(blur.stdout.splitlines()) == 3  # header + 2 rows


def test_python_m_imgval_and_whole_descriptions_in_help(tmp_path):
    result = run_script("-m", "imgval", "--help", cwd=tmp_path, check=True)
    assert "..." not in result.stdout.split("Commands:")[1]  # click's 45-character cut
    from imgval.cli.main import main

    listed = words(result.stdout)
    for name, command in main.commands.items():
        first = words(command.help.split("\n\n")[0])
        assert f"{name} {first}" in listed, name
    version = run_script("-m", "imgval", "--version", cwd=tmp_path, check=True)
    assert version.stdout.startswith("imgval, version")


def option_rows(heading: str) -> list[str]:
    """The option names of the README table that follows `heading`."""
    section = README[README.index(heading):]
    table = section[section.index("| option |"):]
    table = table[:table.index("\n\n")]
    return re.findall(r"^\| `([^`|]+)`", table, flags=re.M)


def test_the_readme_option_tables_are_what_help_shows(tmp_path):
    for heading, script in (("## `process.py` / `imgval scan`", "process.py"),
                            ("## `process_blur.py`", "process_blur.py")):
        help_text = run_script(str(ROOT / script), "--help", cwd=tmp_path, check=True).stdout
        names = option_rows(heading)
        assert len(names) >= 8
        for cell in names:
            for flag in re.findall(r"--?[a-z][a-z-]*", cell):
                assert flag in help_text, (script, flag)
    scan_help = words(run_script(str(ROOT / "process.py"), "--help", cwd=tmp_path, check=True).stdout)
    assert "median difference 0.25%" in scan_help and "median difference 0.25%" in README
    sync_help = words(run_script("-m", "imgval", "sync", "--help", cwd=tmp_path, check=True).stdout)
    assert "Print nothing when every file was copied" in sync_help and "130 interrupted" in sync_help
    assert "| 130 | interrupted (Ctrl-C or `SIGTERM`)" in README and "exit with code 1:" not in README
