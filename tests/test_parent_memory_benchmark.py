"""benchmarks/parent_memory.py reports the scan's own peak memory, not the high-water mark that
Linux carries into a child's ru_maxrss from the process that started it (issue 15: a re-run
"peaked" at 306 MB because the benchmark had just held the previous scan's stderr)."""
from __future__ import annotations

import importlib.util
import os

import pytest

from tests.conftest import ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location("parent_memory", ROOT / "benchmarks" / "parent_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_a_scan_started_by_a_big_process_reports_its_own_peak(tmp_path):
    bench = _benchmark()
    folder = tmp_path / "n"
    folder.mkdir()
    bench.make_corpus(str(folder), 20, "empty")
    held = b"\x01" * (400 * 2**20)  # written, so resident: the launching process's high-water mark is above 400 MB
    try:
        peak_mb, _, _ = bench.scan(str(folder), str(tmp_path), ["--no-cache"], jobs=1)
    finally:
        del held
    # a 20-file scan needs ~80-120 MB (interpreter, OpenCV, NumPy); ru_maxrss would say 400+
    assert 20 < peak_mb < 300
