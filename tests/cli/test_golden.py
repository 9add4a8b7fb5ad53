"""The report of a scan of samples/ is byte-identical to a golden copy (CSV, JSON and HTML).

Guards refactors that must not change what a user gets. The only normalisation: the report's
own path, which the HTML page names, is replaced by RESULTS (it is a fresh tmp folder per run).

When the output changes on purpose (a new column, a new section), regenerate the copy and
review the diff before committing it:

    IMGVAL_REGENERATE_GOLDEN=1 python -m pytest -q tests/cli/test_golden.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_script

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("IMGVAL_REGENERATE_GOLDEN") == "1"


def scan_samples(out: Path, *options: str) -> None:
    """`process.py -i samples` from the repository root (so rows name samples/...), no cache."""
    run_script(str(ROOT / "process.py"), "-i", "samples", "--no-cache", "-j", "2", "-q", *options,
               cwd=ROOT, check=True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("golden")
    scan_samples(out, "-s", str(out / "results.csv"), "--html", str(out / "report.html"))
    scan_samples(out, "-s", str(out / "results.json"), "-o", "json")
    texts = {name: (out / name).read_bytes() for name in ("results.csv", "results.json", "report.html")}
    texts["report.html"] = texts["report.html"].replace(str(out / "results.csv").encode(), b"RESULTS")
    return texts


@pytest.mark.parametrize("name", ["results.csv", "results.json", "report.html"])
def test_scan_of_samples_matches_the_golden_copy(reports, name):
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / name).write_bytes(reports[name])
    assert reports[name] == (GOLDEN / name).read_bytes(), (
        f"{name} differs from tests/golden/{name}; if the change is intended, regenerate: "
        "IMGVAL_REGENERATE_GOLDEN=1 python -m pytest -q tests/cli/test_golden.py")
