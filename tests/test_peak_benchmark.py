"""benchmarks/peak.py reports a command's own peak memory, not the high-water mark that Linux
carries into a child's ru_maxrss from the process that started it (issue 15: a re-run "peaked"
at 306 MB because benchmarks/parent_memory.py had just held the previous scan's stderr)."""
from __future__ import annotations

import importlib
import os
import resource
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")

MB = 2**20
# A command using ~100 MB itself, and a pool worker (forked) using ~100 MB more.
BUSY = """import multiprocessing, sys
def work(size):
    return len(b"\\x01" * size)
if __name__ == "__main__":
    held = b"\\x01" * (100 * 2**20)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pool.map(work, [200 * 2**20])
    sys.exit(3)
"""


@pytest.fixture
def benchmarks(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when a benchmark runs as a script
    return importlib.import_module


@pytest.fixture
def held():
    """The launching process's high-water mark above 400 MB (written, so resident), then freed."""
    block = b"\x01" * (400 * MB)
    del block
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 400 * 1024


def test_a_small_command_started_by_a_big_process_reports_its_own_peak(benchmarks, held):
    completed, peaks = benchmarks("peak").run_python(["-c", "import sys; sys.exit(0)"])
    assert completed.returncode == 0
    assert 1 < peaks.own_mb < 100 and peaks.workers_mb == 0  # ru_maxrss would say 400+


def test_the_command_and_its_workers_peaks_are_theirs(benchmarks, held):
    completed, peaks = benchmarks("peak").run_python(["-c", BUSY])
    assert completed.returncode == 3  # the command's exit code, after it reported
    assert 100 < peaks.own_mb < 200
    assert 200 < peaks.workers_mb < 350  # the 200 MB it built, with the pages it shares with its parent


def test_a_command_that_never_reports_has_no_peaks(benchmarks):
    completed, peaks = benchmarks("peak").run_python(["-c", "import os; os._exit(4)"])
    assert completed.returncode == 4 and peaks is None


def test_parent_memory_reports_the_scans_own_peak(benchmarks, held, tmp_path):
    bench = benchmarks("parent_memory")
    folder = tmp_path / "n"
    folder.mkdir()
    bench.make_corpus(str(folder), 20, "empty")
    peak_mb, _, _ = bench.scan(str(folder), str(tmp_path), ["--no-cache"], jobs=1)
    # a 20-file scan needs ~80-120 MB (interpreter, OpenCV, NumPy); ru_maxrss would say 400+
    assert 20 < peak_mb < 300


@pytest.mark.parametrize("how", [["show.py"], ["-m", "show"]])
def test_the_command_runs_as_python_would_run_it(benchmarks, tmp_path, how):
    (tmp_path / "show.py").write_text("import os, sys\nprint(os.path.isabs(__file__), sys.argv[1:], sys.path[0])\n")
    completed, peaks = benchmarks("peak").run_python([*how, "a", "b"], cwd=tmp_path, capture_output=True, text=True)
    plain = subprocess.run([sys.executable, *how, "a", "b"], cwd=tmp_path, capture_output=True, text=True)
    assert completed.stdout == plain.stdout == f"True ['a', 'b'] {tmp_path}\n" and peaks


def test_bench_whole_process_runs_survive_a_command_that_writes_much_to_stderr(benchmarks, tmp_path):
    bench = benchmarks("bench")
    loud = "import sys; sys.stderr.write('x' * 200_000)"  # over a pipe's 64 KB, read only after the wait
    timings = []
    run = threading.Thread(target=lambda: timings.append(bench.run_process([sys.executable, "-c", loud], {},
                                                                           str(tmp_path))), daemon=True)
    run.start()
    run.join(60)
    assert not run.is_alive(), "the run hung: the command blocked writing its stderr"
    assert timings and timings[0][0] > 0
    with pytest.raises(SystemExit, match="failed:\nboom"):
        bench.run_process([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(1)"], {},
                          str(tmp_path))


def test_bench_whole_process_commands_read_every_module_from_bytecode(benchmarks, tmp_path):
    """A timed command compiles nothing from source, as an installed imgval's run does not: with
    a PYTHONPYCACHEPREFIX the libraries' own bytecode was ignored, ~0.5 s of CPU in every run."""
    bench = benchmarks("bench")
    benchmarks("precompile").byte_compiled([ROOT])
    check = ("import os, sys, numpy, cv2, imgval.cli.main as m\n"
             "missing = [x.__name__ for x in (numpy, cv2, m) if not os.path.exists(x.__cached__)]\n"
             "sys.exit(f'compiled from source: {missing}' if missing else 0)")
    wall, cpu = bench.run_process([sys.executable, "-c", check], {}, str(tmp_path))
    assert cpu > 0
