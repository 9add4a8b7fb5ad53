"""No hangs: files are opened without blocking, each file has a time limit after which its
worker is replaced, and SIGTERM ends the run within seconds whatever the workers are doing."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from imgval.batch.engine import make_engine
from imgval.cli import exitcodes
from imgval.analysis.analyze import Record, Settings
from imgval.analysis.filedata import read_input

from tests.conftest import ROOT, run_script
from tests.batch.test_rerun import cached_results, slow_batch, start_scan, wait_for  # noqa: F401 (fixture)
from tests.batch.test_runner import engine  # noqa: F401 (fixture: every engine)


def hanging_analyze(path: str, settings: Settings) -> Record:
    """Stands in for a decoder that never returns on the files named hang*."""
    if os.path.basename(path).startswith("hang"):
        while True:
            time.sleep(60)
    return Record(path, score=1.0)


def test_a_file_swapped_for_a_fifo_after_its_stat_does_not_block(tmp_path, monkeypatch):
    regular, fifo = tmp_path / "a.jpg", tmp_path / "swapped.jpg"
    regular.write_bytes(b"\xff\xd8")
    os.mkfifo(fifo)
    real_stat = os.stat
    # the race: stat (and any check on the name) still sees the regular file that was there
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(regular if str(p) == str(fifo) else p, *a, **k))
    outcome = []

    def read():
        try:
            outcome.append(read_input(str(fifo)))
        except OSError as exc:
            outcome.append(exc)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(20)
    if reader.is_alive():  # release the blocked open so the test process can end
        open(fifo, "wb").close()
    assert not reader.is_alive(), "opening a FIFO blocked"
    [error] = outcome
    assert isinstance(error, OSError) and "not a regular file" in str(error)


def test_a_file_over_the_time_limit_gets_a_row_and_the_rest_go_on(tmp_path, engine):  # noqa: F811
    paths = [str(tmp_path / name) for name in ("a", "hang.jpg", "b", "c", "d")]
    records = list(engine(2, hanging_analyze, timeout=1).run(paths, Settings()))
    assert [r.filepath for r in records] == paths
    hung = records[1]
    assert "took longer than 1 s" in hung.error and "--timeout" in hung.error and hung.transient
    assert all(r.score == 1.0 and not r.error for i, r in enumerate(records) if i != 1)


def test_timeout_option_is_checked_and_documented(tmp_path):
    bad = run_script(str(ROOT / "process.py"), "-i", str(tmp_path), "--timeout", "0", cwd=tmp_path)
    assert bad.returncode == exitcodes.USAGE and "--timeout" in bad.stderr
    shown = run_script(str(ROOT / "process.py"), "--help", cwd=tmp_path)
    assert "--timeout" in shown.stdout and "300" in shown.stdout


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigterm_ends_the_run_even_when_every_worker_is_stuck(slow_batch, tmp_path):  # noqa: F811
    args = ("-i", str(slow_batch), "-s", "results.csv", "-j", "2", "--cache", "c.sqlite")
    run = start_scan(*args, cwd=tmp_path)
    wait_for(lambda: cached_results(tmp_path / "c.sqlite") > 0 or run.poll() is not None, "a checkpoint")
    workers = children(run.pid)
    assert run.poll() is None and workers, "the run finished before it could be caught mid-way"
    for worker in workers:  # stuck for good: a stopped process ignores everything but SIGKILL
        os.kill(worker, signal.SIGSTOP)
    try:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
        left_running = [worker for worker in workers if alive(worker)]
    finally:
        for worker in workers:
            try:
                os.kill(worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if run.poll() is None:
            run.kill()
    assert run.returncode == exitcodes.INTERRUPTED, stderr
    assert "Interrupted: no report written" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "results.csv.lock").exists()
    assert not list(tmp_path.glob(".imgval-*.part"))
    assert not left_running  # the run stopped its workers; none is left holding memory


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited, only its exit status is left
