"""The Dask engine (batch/engine.py): the per-image step run on the workers of a Dask cluster.

The client (this process) stays the single writer of the cache and the report; workers read the
files themselves (shared paths, s3://, box:, dropbox: with their own credentials) and send back
Records, never image bytes. What a long batch relies on:

  * tasks sized for the engine: consecutive files are batched into one task by their estimated
    work (from their sizes), large tasks first and smaller ones towards the end, so a thumbnail
    is not a task of its own and no worker idles long while the last tasks finish;
  * bounded: at most IN_FLIGHT_PER_WORKER tasks per worker thread are submitted ahead of the
    oldest unfinished one, so 100,000 files never become 100,000 tasks at the scheduler;
  * in order: records are yielded in input order, as soon as the head of the line is done;
  * a lost worker: Dask reruns its tasks elsewhere; a task that kills workers repeatedly
    (KilledWorker) is split into one task per file, and the file that still kills its worker
    becomes one CRASH_ERROR row;
  * a time limit per file (--timeout): a worker still on one file after it ends its own process
    (C code cannot be interrupted), so the file's task is rerun, then isolated, and the file
    that times out again is one row saying so;
  * one rate limit for the cluster: a Retry-After that Box, Dropbox or S3 gives one worker holds
    every worker's next call (ClusterBackoff), rather than N retry loops each finding out.

Dask is an optional extra (pip install 'imgval[dask]').
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import CancelledError
from collections.abc import Iterable, Iterator

from imgval.analysis.analyze import Record, Settings, analyze_mapped
from imgval.batch.cluster import JOBQUEUE_CLUSTERS, ClusterSpec, jobqueue_cluster_kwargs, parse_cluster
from imgval.batch.engine import CRASH_ERROR, DEFAULT_TIMEOUT, TIMEOUT_ERROR, Analyze, Engine, EngineError
from imgval.batch.tasks import batches
from imgval.batch.workers import keep_freed_memory, one_blas_thread

log = logging.getLogger("imgval")

INSTALL_HINT = "the Dask engine needs the dask extra: pip install 'imgval[dask]'"
IN_FLIGHT_PER_WORKER = 32  # tasks ahead of the oldest unfinished one: a slow file does not idle the rest
WORKER_START_TIMEOUT = 600  # seconds to wait for the first worker (a batch queue may be slow)
CONNECT_TIMEOUT = 10  # seconds to reach a running scheduler (Dask's own setting if shorter, see _connect)
# Clusters imgval starts rerun a task once after its worker died, as the local pool retries a
# file once in isolation; a scheduler of the user's keeps its own setting (Dask's default: 3).
ALLOWED_FAILURES = 1
# ...and hand a task only to an idle worker thread, so one slow file (a 1 GB master) never has
# another task queued behind it on its worker while the other workers run dry.
# Their workers also skip diagnostics meant for a dashboard (imgval starts none): the
# statistical profiler, and event-loop checks 50 times a second; that halved the CPU of a busy
# worker's event loop (~3% of the work on thumbnails).
CLUSTER_CONFIG = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                  "distributed.scheduler.worker-saturation": 1.0,
                  "distributed.worker.profile.enabled": False,
                  "distributed.admin.tick.interval": "1s",
                  "distributed.admin.system-monitor.interval": "1s"}


BACKOFF_VARIABLE = "imgval-rate-limit-until"


class ClusterBackoff:
    """storage.retry's SharedBackoff for a Dask cluster: a rate limit (Retry-After) one worker is
    given is kept in a Dask Variable on the scheduler, and every worker holds its next remote
    call until it has passed. Read at most every CHECK_SECONDS per worker (a scheduler round
    trip costs ~1 ms; remote reads cost far more)."""

    CHECK_SECONDS = 0.5

    def __init__(self, variable):
        self.variable = variable
        self.known, self.checked = 0.0, 0.0

    def pause_until(self, deadline: float) -> None:
        if deadline > self._current(force=True):
            self.variable.set(deadline)
            self.known = deadline

    def deadline(self) -> float:
        return self._current()

    def _current(self, force: bool = False) -> float:
        now = time.monotonic()
        if force or now - self.checked >= self.CHECK_SECONDS:
            try:
                self.known = float(self.variable.get(timeout=1))
            except Exception:  # unset yet, or the scheduler slow: no pause known
                pass
            self.checked = now
        return self.known


def reset_rate_limit(client) -> None:
    """No pause at the start of a run (a Variable read before it is set would block)."""
    from distributed import Variable
    Variable(BACKOFF_VARIABLE, client=client).set(0.0)


_sharing = False  # this worker process's retries already obey the cluster-wide pause


def share_rate_limits() -> None:
    """In a Dask worker: make its storage retries obey the cluster-wide pause (once per process)."""
    global _sharing
    if _sharing:
        return
    from distributed import Variable, get_client

    from imgval.storage.retry import share_backoff
    share_backoff(ClusterBackoff(Variable(BACKOFF_VARIABLE, client=get_client())))
    _sharing = True


def _prepare_worker() -> None:
    """Once per worker process: the cluster-wide rate limit, and the allocator setting of the
    local pool's workers. Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which
    also pins glibc's mmap threshold, so every image's buffers were mapped and zeroed afresh:
    ~20% more CPU per file than the local pool (measured, thumbnails and photos alike)."""
    if not _sharing:
        keep_freed_memory()
        one_blas_thread()  # Dask's nanny sets OPENBLAS_NUM_THREADS=1 too; a worker started otherwise may not
    share_rate_limits()


def analyze_batch(paths: list[str], settings: Settings, analyze: Analyze, timeout: float) -> list[Record]:
    """The task a worker runs: one Record per path (analysis never raises), each file within
    `timeout` seconds or the worker process ends (see _stop_worker)."""
    from distributed import get_client
    _prepare_worker()
    client = get_client()  # found from the task's thread only; the watchdog runs in its own
    records = []
    for path in paths:
        watchdog = threading.Timer(timeout, _stop_worker, args=(path, client))
        watchdog.daemon = True
        watchdog.start()
        try:
            records.append(analyze(path, settings))
        finally:
            watchdog.cancel()
    return records


def _timeout_mark(path: str) -> str:
    return "imgval-timed-out-" + hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()


def _stop_worker(path: str, client) -> None:
    """A file past its time limit: a decoder stuck in C code cannot be interrupted from Python,
    so the worker process ends itself, after leaving a mark for the client; its nanny starts a
    fresh worker and the scheduler treats the task like any whose worker died."""
    try:
        from distributed import Variable
        Variable(_timeout_mark(path), client=client).set(True)
    finally:
        os._exit(1)


def _lost_file(client, path: str, timeout: float) -> Record:
    """The row of a file whose task kept losing its worker: timed out (the mark) or crashed."""
    from distributed import Variable
    mark = Variable(_timeout_mark(path), client=client)
    try:
        timed_out = bool(mark.get(timeout=1))
        mark.delete()
    except Exception:  # no mark: the worker died of something else (a crash, the OOM killer)
        timed_out = False
    error = TIMEOUT_ERROR.format(seconds=timeout) if timed_out else CRASH_ERROR
    log.warning("%s: %s", path, error)
    return Record(path, error=error, transient=True)


class DaskEngine(Engine):
    """Analyses on a Dask cluster (see the module docstring)."""

    def __init__(self, jobs: int, analyze: Analyze = analyze_mapped, spec: ClusterSpec | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        super().__init__(jobs, analyze, timeout)
        self.spec = spec or ClusterSpec(cluster=f"local:{self.jobs}")
        _import_distributed()  # a missing extra is a clear error before any work

    def run(self, references: Iterable[str], settings: Settings) -> Iterator[Record]:
        client, cluster = _connect(self.spec, self.jobs)
        try:
            yield from self._stream(client, list(references), settings)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _stream(self, client, paths: list[str], settings: Settings) -> Iterator[Record]:
        from distributed import KilledWorker

        threads = _total_threads(client)
        reset_rate_limit(client)
        # Settings go with every task (a few KB): data scattered once would be lost with the
        # workers holding it, and every task depending on it with them.
        todo = enumerate(batches(paths, threads, self.spec.files_per_task))
        window = IN_FLIGHT_PER_WORKER * threads
        pending: deque[tuple[list[str], object]] = deque()
        try:
            while True:
                while len(pending) < window:
                    index, batch = next(todo, (None, None))
                    if batch is None:
                        break
                    pending.append((batch, self._submit(client, batch, settings, -index)))
                if not pending:
                    return
                batch, future = pending.popleft()
                try:
                    records = future.result()
                except KilledWorker:
                    records = self._isolate(client, batch, settings, KilledWorker)
                except (OSError, TimeoutError, CancelledError) as exc:  # the scheduler went away
                    raise EngineError(f"lost the connection to {self.spec.describe()}: {exc}") from exc
                yield from records
        finally:
            client.cancel([future for _, future in pending], force=True)

    def _submit(self, client, batch: list[str], settings: Settings, priority: int = 0):
        # Earlier files first: tasks submitted together otherwise run in an arbitrary order.
        return client.submit(analyze_batch, batch, settings, self.analyze, self.timeout, pure=False,
                             priority=priority)

    def _isolate(self, client, batch: list[str], settings: Settings, killed) -> list[Record]:
        """A task whose workers kept dying: each file alone, so only the culprit is an error row."""
        if len(batch) == 1:
            return [_lost_file(client, batch[0], self.timeout)]
        futures = [self._submit(client, [path], settings, 1) for path in batch]
        records = []
        for path, future in zip(batch, futures):
            try:
                records.extend(future.result())
            except killed:
                records.append(_lost_file(client, path, self.timeout))
        return records


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    return distributed


def _connect(spec: ClusterSpec, jobs: int):
    """A client for the spec, and the cluster this run started (None for an existing scheduler)."""
    distributed = _import_distributed()
    import dask
    from dask.utils import parse_timedelta

    try:
        if spec.scheduler or spec.scheduler_file:
            # Dask's default (30 s) is long for a command that fails; a shorter one the user set
            # (distributed.comm.timeouts.connect, or its DASK_ variable) is kept
            timeout = min(CONNECT_TIMEOUT, parse_timedelta(
                dask.config.get("distributed.comm.timeouts.connect"), "s"))
            client = distributed.Client(spec.scheduler, scheduler_file=spec.scheduler_file, timeout=timeout)
            client.wait_for_workers(1, timeout=WORKER_START_TIMEOUT)
            return client, None
        kind, workers = parse_cluster(spec.cluster or "local")
        with dask.config.set(CLUSTER_CONFIG):
            if kind == "local":
                cluster = distributed.LocalCluster(n_workers=workers or jobs, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR)
            else:
                cluster = _jobqueue_cluster(kind, spec)
                cluster.adapt(minimum_jobs=spec.cluster_jobs, maximum_jobs=spec.cluster_jobs)
        client = distributed.Client(cluster)
        if kind != "local":
            log.info("waiting for the first Dask worker of %s", spec.describe())
            client.wait_for_workers(1, timeout=WORKER_START_TIMEOUT)
        return client, cluster
    except EngineError:
        raise
    except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
        raise EngineError(f"cannot reach {spec.describe()}: {exc}") from exc


def _jobqueue_cluster(kind: str, spec: ClusterSpec):
    try:
        import dask_jobqueue
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    cluster_class = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[kind])
    try:
        return cluster_class(**jobqueue_cluster_kwargs(spec))
    except TypeError as exc:
        raise EngineError(f"--cluster {kind}: {exc}; see dask-jobqueue's {JOBQUEUE_CLUSTERS[kind]} options") from exc


def _total_threads(client) -> int:
    return max(1, sum(client.nthreads().values()))
