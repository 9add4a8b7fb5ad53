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


def core_free_while_busy(path: str, settings) -> "Record":
    """The per-file step of the free-core tests: waits (up to 20 s each) until as many of the
    pool's workers are on a file as the file's name says, notes what analyze.checksums_beside
    would be told (whether a core is free), and stays on the file until every worker has noted
    it (a marker file each beside the files): none leaves before the others have looked."""
    import glob
    import time

    from imgval.analysis.analyze import Record
    from imgval.batch import pool
    wanted = int(os.path.basename(path).split("-")[0])
    deadline = time.monotonic() + 20
    while pool._busy.value < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = f"{pool._busy.value} {pool._core_is_free()}"
    folder = os.path.dirname(path)
    open(os.path.join(folder, f"seen-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 20
    while len(glob.glob(os.path.join(folder, "seen-*"))) < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    return Record(path, error=seen)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_local_worker_knows_when_a_core_is_free_for_its_checksums(tmp_path, jobs):
    """Checksums are hashed beside the decode only while fewer of the pool's workers are on a
    file than there are cores (analyze.hash_beside_when): on a free core that costs no time,
    and beside a worker on every core it can gain nothing."""
    from imgval.analysis.analyze import Settings
    from imgval.batch.engine import make_engine
    from imgval.batch.workers import usable_cores

    # consecutive small files would share one task: a file per worker, each its own task
    paths = [str(tmp_path / f"{jobs}-{i}.jpg") for i in range(jobs)]
    for path in paths:
        with open(path, "wb") as handle:
            handle.truncate(8 << 20)
    records = list(make_engine("local", jobs, analyze=core_free_while_busy).run(paths, Settings()))
    for record in records:
        busy, free = record.error.split()
        assert int(busy) == jobs
        assert free == str(jobs < usable_cores())


def test_checksums_beside_are_the_checksums_and_raise_what_hashing_raises():
    from imgval.analysis import analyze
    from imgval.analysis.analyze import HASH_BESIDE_FROM_BYTES, Settings, checksums, checksums_beside

    settings = Settings(checksums=("sha256", "md5"))
    data = os.urandom(HASH_BESIDE_FROM_BYTES + 1)
    try:
        for free in (True, False):
            analyze.hash_beside_when(lambda: free)
            assert checksums_beside(data, settings)() == checksums(data, settings)
        analyze.hash_beside_when(lambda: True)
        unhashable = "x" * (HASH_BESIDE_FROM_BYTES + 1)  # hashlib takes bytes, not text
        wait = checksums_beside(unhashable, settings)
        with pytest.raises(TypeError):
            wait()
    finally:
        analyze.hash_beside_when(lambda: False)
