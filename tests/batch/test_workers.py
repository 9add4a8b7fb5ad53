"""workers.one_blas_thread_from_start: the command line loads NumPy's OpenBLAS with one thread,
so its forked workers need no threadpoolctl; a BLAS started otherwise is still limited to one."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
from imgval.batch import workers
workers.one_blas_thread_from_start()
import numpy
workers.one_blas_thread()
from threadpoolctl import threadpool_info
blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"blas_threads": blas, "skipped": workers._blas_started_single}))
"""


def probe(**env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", PROBE], env={**environment, "PYTHONPATH": str(ROOT), **env},
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def numpy_uses_openblas() -> bool:
    from imgval.batch.workers import _numpy_uses_openblas
    return _numpy_uses_openblas()


@pytest.mark.skipif(not numpy_uses_openblas(), reason="NumPy is not built with OpenBLAS here")
def test_blas_starts_with_one_thread_before_numpy():
    found = probe()
    assert found["skipped"]
    assert found["blas_threads"] and set(found["blas_threads"]) == {1}


def test_a_blas_started_with_more_threads_is_still_limited_to_one():
    found = probe(OPENBLAS_NUM_THREADS="2")
    assert not found["skipped"]
    assert set(found["blas_threads"]) <= {1}


def test_after_numpy_it_changes_nothing():
    from imgval.batch import workers
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    import numpy  # noqa: F401  (already loaded by the test process)
    workers.one_blas_thread_from_start()
    assert os.environ.get("OPENBLAS_NUM_THREADS") == before


def worker_state(path: str, settings) -> "Record":
    """The per-file step of test_local_workers_start_with_what_the_fork_copied_frozen: what the worker is."""
    import gc

    from imgval.analysis.analyze import Record
    return Record(path, error=f"{gc.get_freeze_count()}")


def test_local_workers_start_with_what_the_fork_copied_frozen(tmp_path):
    """The local pool's workers move the objects they inherit out of the collector's reach
    (gc.freeze), so their collections do not walk the parent's modules on every file."""
    from imgval.analysis.analyze import Settings
    from imgval.batch.engine import make_engine

    paths = [str(tmp_path / f"{i}.jpg") for i in range(3)]
    records = list(make_engine("local", 2, analyze=worker_state).run(paths, Settings()))
    assert [r.filepath for r in records] == paths
    assert all(int(r.error) > 10_000 for r in records)


def test_a_command_run_as_a_program_ends_with_its_objects_frozen():
    """The entry points freeze what is left before the interpreter's exit (scripts.as_program):
    its last collections then skip them. Exit handlers still run, after it."""
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
             "from imgval.cli.scripts import process_main\n"
             "sys.argv = ['process.py', '--help']\n"
             "process_main()\n")
    result = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: process.py" in result.stdout
    frozen = int(result.stdout.strip().splitlines()[-1].split()[-1])
    assert frozen > 1000
