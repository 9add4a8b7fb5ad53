"""The local engine (batch/engine.py): the per-image step fanned out over worker processes of
this machine; results come back in input order.

Guarantees a long batch relies on:
  * order and streaming: records are yielded in the order of `paths`, as soon as the head of
    the line is done; at most WINDOW_PER_WORKER * jobs files are in flight or waiting to be
    yielded, so memory does not grow with the number of images;
  * no idle worker: files are handed out one at a time, and a slow file at the head of the
    line does not stop the others from taking the next files (up to the window);
  * a worker that dies (a decoder segfault, the OOM killer) costs the file it was reading one
    error row, never the run: the pool is restarted, the files that were in flight are
    retried one by one in isolation, and the one that kills its worker again is reported.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from imgval.analysis.analyze import Record, Settings, analyze_mapped
from imgval.batch.engine import CRASH_ERROR, Analyze, Engine

WINDOW_PER_WORKER = 64  # files submitted ahead of the oldest unfinished one, per worker

PARENT_CHECK_SECONDS = 0.5  # how soon an orphaned worker notices and exits

_settings: Settings | None = None  # each worker's copy, set once by _init_worker
_analyze_fn: Analyze = analyze_mapped


class LocalPool(Engine):
    """The engine of one machine: worker processes forked from this one (see `run`)."""

    def run(self, references: Iterable[str], settings: Settings) -> Iterator[Record]:
        return run(references, settings, self.jobs, self.analyze)


def _init_worker(settings: Settings, analyze: Analyze) -> None:
    global _settings, _analyze_fn
    _settings, _analyze_fn = settings, analyze
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    _keep_freed_memory()
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


def _keep_freed_memory() -> None:
    """Let glibc keep freed large blocks for reuse instead of returning them to the kernel.

    Every image allocates the same few large buffers (the file's bytes, the decoded pixels);
    by default each is a fresh mmap whose pages the kernel must fault in and zero again, which
    cost ~15 ms per 60 MB file here. Reused, a worker's resident size stays at its largest image's
    buffers (a bound, not growth) and the faults are gone."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: blocks up to 1 GiB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB free at the heap's top
    except (OSError, AttributeError):
        pass  # not glibc (macOS, musl, Windows): the default allocator it is


def _analyze(path: str) -> Record:
    return _analyze_fn(path, _settings)


def _new_pool(workers: int, settings: Settings, analyze: Analyze) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(settings, analyze))


def run(paths: Iterable[str], settings: Settings, jobs: int, analyze: Analyze = analyze_mapped) -> Iterator[Record]:
    """Analyse every path in `jobs` worker processes, yielding one Record each, in the order given.

    `analyze` is the per-file step (a module-level function, so workers can find it); tests
    substitute one that crashes. Closing the generator early stops the workers.
    """
    jobs = max(1, jobs)
    window = WINDOW_PER_WORKER * jobs
    todo = iter(paths)
    pending: deque[tuple[str, Future]] = deque()
    # OpenCV's thread count is deliberately left alone: cv2.setNumThreads hangs in any process
    # forked from one whose OpenCV thread pool was running (the pool is copied without its
    # threads and the call waits for them forever), and neither a worker nor run()'s caller
    # can know it was not forked so. Using the pool after a fork is safe; resizing it is not.
    pool = _new_pool(jobs, settings, analyze)
    finished = False
    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                path = next(todo, None)
                if path is None:
                    exhausted = True
                    break
                pending.append((path, pool.submit(_analyze, path)))
            if not pending:
                finished = True
                return
            try:
                record = pending[0][1].result()
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                settled = _recover(pending, jobs, settings, analyze)
                pool = _new_pool(jobs, settings, analyze)
                # files that never ran (or were cleared in isolation) go to the new pool / the output
                pending = deque((path, done if done is not None else pool.submit(_analyze, path))
                                for path, done in settled)
                continue
            pending.popleft()
            yield record
    finally:
        # idle workers exit at once after a complete run; an abandoned one is not waited for
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _recover(pending: deque, jobs: int, settings: Settings, analyze: Analyze) -> list[tuple[str, Future | None]]:
    """After a worker died: keep finished results; retry, one at a time in a fresh process, the
    files that may have been running (the first jobs + 1 unfinished: the pool hands files out in
    order and queues at most one extra); the rest are returned with None to be resubmitted.

    Each round settles at least the oldest unfinished file, so repeated crashes still progress.
    """
    settled: list[tuple[str, Future | None]] = []
    suspects = 0
    isolated: ProcessPoolExecutor | None = None
    try:
        for path, future in pending:
            if future.done() and not isinstance(future.exception(), BrokenProcessPool):
                settled.append((path, future))
                continue
            if suspects > jobs:
                settled.append((path, None))
                continue
            suspects += 1
            isolated = isolated or _new_pool(1, settings, analyze)
            retry = isolated.submit(_analyze, path)
            try:
                retry.result()
            except BrokenProcessPool:
                isolated.shutdown(wait=True)
                isolated = None
                retry = Future()
                retry.set_result(Record(path, error=CRASH_ERROR))
            settled.append((path, retry))
    finally:
        if isolated is not None:
            isolated.shutdown(wait=True)
    return settled
