"""The local engine (batch/engine.py): the per-image step fanned out over worker processes of
this machine; results come back in input order.

Guarantees a long batch relies on:
  * order and streaming: records are yielded in the order of `paths`, as soon as the head of
    the line is done; at most WINDOW_PER_WORKER * jobs files are in flight or waiting to be
    yielded, so memory does not grow with the number of images;
  * small tasks: consecutive files go to a worker together, up to ~0.1 s of estimated work
    (batch/tasks.py: a thumbnail's row is not a round trip of its own), and come back as one
    list; a master is a task of its own;
  * no idle worker: tasks are handed out one at a time, and a slow task at the head of the
    line does not stop the others from taking the next ones (up to the window);
  * a worker that dies (a decoder segfault, the OOM killer) costs the file it was reading one
    error row, never the run: the pool is restarted, the tasks that were in flight are
    retried in isolation, file after file, and the file that kills its process again is
    reported (the files after it go on in a fresh one);
  * no file runs for ever: a worker still on one file after `timeout` seconds is killed by its
    own alarm (the kernel's, so even a decoder stuck in C code or a blocked read is stopped),
    which is a dying worker as above; the file that times out again alone gets a row saying so;
  * a run that is abandoned (Ctrl-C, SIGTERM, the caller closing the stream) kills its workers
    at once, whatever they are doing, instead of waiting for the files they are on.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from imgval.analysis import decode, pronom
from imgval.analysis.analyze import Record, Settings, analyze_mapped, hash_beside_when
from imgval.analysis.quiet import silence_stderr_for_good
from imgval.batch.engine import CRASH_ERROR, DEFAULT_TIMEOUT, TIMEOUT_ERROR, Analyze, Engine
from imgval.batch.tasks import grouped
from imgval.batch.workers import keep_freed_memory, one_blas_thread, usable_cores

WINDOW_PER_WORKER = 64  # files submitted ahead of the oldest unfinished one, per worker
KILL_GRACE_SECONDS = 5  # past the timeout, the parent kills a worker whose alarm did not end it

PARENT_CHECK_SECONDS = 0.5  # how soon an orphaned worker notices and exits

_settings: Settings | None = None  # each worker's copy, set once by _init_worker
_analyze_fn: Analyze = analyze_mapped
_timeout: float = DEFAULT_TIMEOUT
_busy = None  # the pool's count of workers on a file (a shared multiprocessing.Value), set by _init_worker
_cores = 1


class LocalPool(Engine):
    """The engine of one machine: worker processes forked from this one (see `run`)."""

    def run(self, references: Iterable[str], settings: Settings) -> Iterator[Record]:
        return run(references, settings, self.jobs, self.analyze, self.timeout)


def _init_worker(settings: Settings, analyze: Analyze, timeout: float, busy=None) -> None:
    global _settings, _analyze_fn, _timeout, _busy, _cores
    _settings, _analyze_fn, _timeout = settings, analyze, timeout
    _busy, _cores = busy, usable_cores()
    hash_beside_when(_core_is_free)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (inherited by fork)
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the time limit: the alarm ends the process
    keep_freed_memory()
    one_blas_thread()
    silence_stderr_for_good()  # the decoders' libraries print what they find wrong (analysis/quiet.py)
    # What the fork copied (every module, the signatures: ~50,000 objects) is never garbage the
    # worker must find; out of the collector's generations, its collections stay small and do
    # not touch, so copy, the parent's pages (in one process, ~0.2 ms less CPU per thumbnail;
    # less in a fresh fork, whose inherited objects are already in the oldest generation).
    gc.freeze()
    _exit_with_parent()


def _exit_with_parent() -> None:
    """A parent killed with SIGKILL cannot stop its workers, so each worker watches for itself
    (its parent pid changes when it is orphaned) and exits, rather than idling forever holding
    memory and the parent's output pipes (a caller waiting for EOF on them would hang)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="imgval-exit-with-parent", daemon=True).start()


def _core_is_free() -> bool:
    """Fewer of the pool's workers are on a file than this machine has cores (the last files of
    a run, or fewer workers than cores): what analyze.checksums_beside asks."""
    return _busy is not None and _busy.value < _cores


def _analyze(path: str) -> Record:
    alarm = hasattr(signal, "setitimer")  # POSIX; elsewhere the parent's kill is the limit
    if alarm:
        signal.setitimer(signal.ITIMER_REAL, _timeout)
    _count_busy(1)
    try:
        return _analyze_fn(path, _settings)
    finally:
        _count_busy(-1)
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _count_busy(change: int) -> None:
    if _busy is not None:
        with _busy.get_lock():
            _busy.value += change


def _analyze_task(paths: list[str]) -> list[Record]:
    """A worker's task: one Record per path, each file within the time limit. One list over
    the pipe: pickle names each Record field once per task, not once per file."""
    return [_analyze(path) for path in paths]


def _context():
    # before forking, so the workers share them instead of each loading its own: the PRONOM
    # signatures, and Pillow's readers of the supported formats (Image.open imports them on first use)
    pronom.preload()
    decode.preload()
    return multiprocessing.get_context("spawn" if os.name == "nt" else "fork")


def _new_pool(workers: int, settings: Settings, analyze: Analyze, timeout: float) -> ProcessPoolExecutor:
    context = _context()
    # a fresh count with each pool: a worker killed on a file never counted itself out
    busy = context.Value("i", 0)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(settings, analyze, timeout, busy))


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Shut an abandoned pool down without waiting: its workers are killed, whatever they are
    doing (shutdown alone waits for the files they are on, and a worker stuck in a decoder or
    stopped would keep the run, and its lock, alive for ever). Python < 3.14 has no public way
    to reach the workers, hence the executor's _processes."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.kill()
    for process in workers:
        process.join(KILL_GRACE_SECONDS)


def run(paths: Iterable[str], settings: Settings, jobs: int, analyze: Analyze = analyze_mapped,
        timeout: float = DEFAULT_TIMEOUT) -> Iterator[Record]:
    """Analyse every path in `jobs` worker processes, yielding one Record each, in the order given.

    `analyze` is the per-file step (a module-level function, so workers can find it); tests
    substitute one that crashes or hangs. `timeout`: seconds one file may take. Closing the
    generator early stops the workers at once.
    """
    if isinstance(paths, Sized):  # never more workers than files (--jobs 1000 for 8 files)
        jobs = min(jobs, len(paths))
    jobs = max(1, jobs)
    window = WINDOW_PER_WORKER * jobs
    todo = grouped(paths)
    pending: deque[tuple[list[str], Future]] = deque()
    in_flight = 0  # files in pending
    # OpenCV's thread count is deliberately left alone: cv2.setNumThreads hangs in any process
    # forked from one whose OpenCV thread pool was running (the pool is copied without its
    # threads and the call waits for them forever), and neither a worker nor run()'s caller
    # can know it was not forked so. Using the pool after a fork is safe; resizing it is not.
    pool = _new_pool(jobs, settings, analyze, timeout)
    finished = False
    try:
        exhausted = False
        while True:
            while not exhausted and in_flight < window:
                task = next(todo, None)
                if task is None:
                    exhausted = True
                    break
                pending.append((task, pool.submit(_analyze_task, task)))
                in_flight += len(task)
            if not pending:
                finished = True
                return
            try:
                records = pending[0][1].result()
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                settled = _recover(pending, jobs, settings, analyze, timeout)
                pool = _new_pool(jobs, settings, analyze, timeout)
                # tasks that never ran (or were cleared in isolation) go to the new pool / the output
                pending = deque((task, done if done is not None else pool.submit(_analyze_task, task))
                                for task, done in settled)
                continue
            pending.popleft()
            in_flight -= len(records)
            yield from records
    finally:
        if finished:
            pool.shutdown(wait=True)  # idle workers exit at once after a complete run
        else:
            _stop_now(pool)


def _recover(pending: deque, jobs: int, settings: Settings, analyze: Analyze,
             timeout: float) -> list[tuple[list[str], Future | None]]:
    """After a worker died: keep finished results; retry in a process of their own the tasks
    that may have been running (the first jobs + 1 unfinished: the pool hands tasks out in
    order and queues at most one extra); the rest are returned with None to be resubmitted.

    Each round settles at least the oldest unfinished task, so repeated crashes still progress.
    """
    settled: list[tuple[list[str], Future | None]] = []
    suspects = 0
    for task, future in pending:
        if future.done() and not isinstance(future.exception(), BrokenProcessPool):
            settled.append((task, future))
            continue
        if suspects > jobs:
            settled.append((task, None))
            continue
        suspects += 1
        retry: Future = Future()
        retry.set_result(_run_alone(task, settings, analyze, timeout))
        settled.append((task, retry))
    return settled


def _run_alone(paths: list[str], settings: Settings, analyze: Analyze, timeout: float) -> list[Record]:
    """Analyse the files, in order, in processes of their own: the file a process dies on
    (a crash, or its time limit) gets the row saying so, and the files after it go on in a
    new process."""
    records: list[Record] = []
    while len(records) < len(paths):
        records += _run_isolated(paths[len(records):], settings, analyze, timeout)
    return records


def _run_isolated(paths: list[str], settings: Settings, analyze: Analyze, timeout: float) -> list[Record]:
    """The files' records from one process, up to and including the row of the file it died on."""
    receiver, sender = _context().Pipe(duplex=False)
    process = _context().Process(target=_analyze_alone, args=(sender, paths, settings, analyze, timeout),
                                 name="imgval-isolated", daemon=True)
    process.start()
    sender.close()
    records: list[Record] = []
    try:
        while len(records) < len(paths):
            if receiver.poll(timeout + KILL_GRACE_SECONDS):  # a result, or the end of a dead process's pipe
                try:
                    records.append(receiver.recv())
                    continue
                except EOFError:  # it died: by its own alarm, or a crash
                    process.join()
                    timed_out = process.exitcode == -getattr(signal, "SIGALRM", 0)
            else:  # still running past its own alarm (or the alarm is not available here)
                process.kill()
                timed_out = True
            error = TIMEOUT_ERROR.format(seconds=timeout) if timed_out else CRASH_ERROR
            records.append(Record(paths[len(records)], error=error, transient=True))
            break
        return records
    finally:
        receiver.close()
        if process.is_alive():  # interrupted while waiting, or done: it must not outlive the run
            process.kill()
        process.join()


def _analyze_alone(sender, paths: list[str], settings: Settings, analyze: Analyze, timeout: float) -> None:
    _init_worker(settings, analyze, timeout)
    for path in paths:
        sender.send(_analyze(path))
    sender.close()
