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
    (KilledWorker) is split into one watched task per file, and only the file its worker was
    reading when it died becomes a CRASH_ERROR row. Dask counts a death against every task on
    the worker, even one finished a moment earlier, so a good file queued beside a crashing one
    can be KilledWorker too: blaming a file by that alone gave it a wrong row (a worker of
    several threads reads its watched files one at a time, for the same reason);
  * a time limit per file (--timeout): a worker still on one file after it ends its own process
    (C code cannot be interrupted), leaving a mark, so the file's task is rerun, and the file
    that times out again is one row saying so (not given its limit a third time alone);
  * no endless wait: a cluster imgval starts fails its tasks once it has had no worker for
    LOCAL_NO_WORKER_SECONDS (a nanny that did not restart its worker), and the run ends with a clear
    error rather than hanging; a scheduler of the user's keeps its own no-workers-timeout;
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
import uuid
from collections import deque
from contextlib import ExitStack, contextmanager, nullcontext
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
CONNECT_TIMEOUT = 10  # seconds to reach a running scheduler (Dask's own setting if shorter, see _scheduler_client)
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
# A LocalCluster's nanny restarts a worker in a second or two; a batch queue may take as long
# as the first worker did (WORKER_START_TIMEOUT).
LOCAL_NO_WORKER_SECONDS = 60
NO_WORKER_ERROR = ("the Dask cluster has had no worker for {seconds:g} s: its workers died and were not "
                   "started again (their logs say why); run the scan again")
# A LocalCluster closes a worker's nanny for good if, 15 s (Dask's default) after the worker was
# lost, no worker of its name happens to be up: with files that crash decoders, a nanny caught
# restarting its worker again was closed, and the cluster ran out of workers (seen in the tests).
# Its nannies restart their own workers, so that check is put off past any scan.
LOCAL_LOST_WORKER_TIMEOUT = "30 days"
# A result fetched from a worker that has just died was retried for Dask's whole connect timeout
# (30 s) before the run went on; on one machine a refused connection is final, so 5 s.
LOCAL_CONNECT_SECONDS = 5


def cluster_config(kind: str = "local") -> dict:
    """CLUSTER_CONFIG for a cluster of `kind` that imgval starts (parse_cluster's kinds), to be
    set for as long as it runs; a no-workers-timeout the user set (Dask's config, or its DASK_
    variable) is kept."""
    import dask
    key = "distributed.scheduler.no-workers-timeout"
    no_worker_seconds = LOCAL_NO_WORKER_SECONDS if kind == "local" else WORKER_START_TIMEOUT
    config = {**CLUSTER_CONFIG, key: dask.config.get(key, None) or f"{no_worker_seconds}s"}
    if kind == "local":
        config["distributed.deploy.lost-worker-timeout"] = LOCAL_LOST_WORKER_TIMEOUT
        config["distributed.comm.timeouts.connect"] = f"{min(LOCAL_CONNECT_SECONDS, _connect_seconds())}s"
    return config


def _connect_seconds() -> float:
    import dask
    from dask.utils import parse_timedelta
    return parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")


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


def analyze_batch(paths: list[str], settings: Settings, analyze: Analyze, timeout: float, run: str) -> list[Record]:
    """The task a worker runs: one Record per path (analysis never raises), each file within
    `timeout` seconds or the worker process ends (see _stop_worker). `run` names the engine's run
    in the marks its tasks leave, so a mark left by an earlier run is never taken as this one's."""
    from distributed import get_client
    _prepare_worker()
    client = get_client()  # found from the task's thread only; the watchdog runs in its own
    records = []
    for path in paths:
        watchdog = threading.Timer(timeout, _stop_worker, args=(path, client, run))
        watchdog.daemon = True
        watchdog.start()
        try:
            records.append(analyze(path, settings))
        finally:
            watchdog.cancel()
    return records


def analyze_watched(path: str, settings: Settings, analyze: Analyze, timeout: float, run: str) -> list[Record]:
    """The task of a file whose batch kept losing its worker: it leaves a mark on the scheduler
    while it reads the file, so when Dask reruns it after its worker died, the rerun knows that
    this file was being read then, and gives its row without reading it a third time. On a
    worker of several threads, watched files are read one at a time, or a crash would leave the
    mark of every file being read beside it."""
    from distributed import get_client
    client = get_client()
    if _marked(client, "reading", path, run):
        _mark(client, "reading", path, None)
        return [_lost_file(client, path, timeout, run)]
    with _alone_on_this_worker():
        _mark(client, "reading", path, run)
        records = analyze_batch([path], settings, analyze, timeout, run)
        _mark(client, "reading", path, None)
    return records


def _alone_on_this_worker():
    """A lock for this worker process's watched files (none needed on a worker of one thread);
    a worker started afresh has a new address, so the lock of one that died is not waited for."""
    from distributed import Lock, get_worker
    worker = get_worker()
    return Lock(f"imgval-watched-{worker.address}") if worker.state.nthreads > 1 else nullcontext()


def _mark_key(kind: str, path: str) -> list[str]:
    return ["imgval", kind, hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()]


def _mark(client, kind: str, path: str, value) -> None:
    client.set_metadata(_mark_key(kind, path), value)


def _marked(client, kind: str, path: str, run: str) -> bool:
    return client.get_metadata(_mark_key(kind, path), default=None) == run


def _stop_worker(path: str, client, run: str) -> None:
    """A file past its time limit: a decoder stuck in C code cannot be interrupted from Python,
    so the worker process ends itself, after leaving a mark for the client; its nanny starts a
    fresh worker and the scheduler treats the task like any whose worker died."""
    try:
        _mark(client, "timed-out", path, run)
    finally:
        os._exit(1)


def _lost_file(client, path: str, timeout: float, run: str) -> Record:
    """The row of a file whose worker died while reading it: timed out (the mark) or crashed
    (no mark: a decoder crash, the OOM killer)."""
    timed_out = _marked(client, "timed-out", path, run)
    if timed_out:
        _mark(client, "timed-out", path, None)
    error = TIMEOUT_ERROR.format(seconds=timeout) if timed_out else CRASH_ERROR
    return Record(path, error=error, transient=True)


class DaskEngine(Engine):
    """Analyses on a Dask cluster (see the module docstring)."""

    def __init__(self, jobs: int, analyze: Analyze = analyze_mapped, spec: ClusterSpec | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        super().__init__(jobs, analyze, timeout)
        self.spec = spec or ClusterSpec(cluster=f"local:{self.jobs}")
        _import_distributed()  # a missing extra is a clear error before any work

    def run(self, references: Iterable[str], settings: Settings) -> Iterator[Record]:
        with _connected(self.spec, self.jobs) as client:
            yield from self._stream(client, list(references), settings, uuid.uuid4().hex)

    def _stream(self, client, paths: list[str], settings: Settings, run: str) -> Iterator[Record]:
        from distributed import KilledWorker
        from distributed.scheduler import NoWorkerError

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
                    pending.append((batch, self._submit(client, -index, analyze_batch, batch, settings, run)))
                if not pending:
                    return
                batch, future = pending.popleft()
                try:
                    records = future.result()
                except KilledWorker:
                    records = self._isolate(client, batch, settings, run, KilledWorker)
                except NoWorkerError as exc:
                    raise EngineError(NO_WORKER_ERROR.format(seconds=exc.timeout)) from exc
                except (OSError, TimeoutError, CancelledError) as exc:  # the scheduler went away
                    raise EngineError(f"lost the connection to {self.spec.describe()}: {exc}") from exc
                yield from records
        finally:
            client.cancel([future for _, future in pending], force=True)

    def _submit(self, client, priority: int, task, what, settings: Settings, run: str):
        # Earlier files first: tasks submitted together otherwise run in an arbitrary order.
        return client.submit(task, what, settings, self.analyze, self.timeout, run, pure=False,
                             priority=priority)

    def _isolate(self, client, batch: list[str], settings: Settings, run: str, killed) -> list[Record]:
        """A task whose workers kept dying: each file in a watched task of its own, so only the
        file being read when a worker died is an error row; a file that timed out in the task
        is not given its time limit a third time."""
        timed_out = {path for path in batch if _marked(client, "timed-out", path, run)}
        futures = {path: self._submit(client, 1, analyze_watched, path, settings, run)
                   for path in batch if path not in timed_out}
        records = []
        for path in batch:
            if path in timed_out:
                records.append(_lost_file(client, path, self.timeout, run))
                continue
            try:
                records.extend(futures[path].result())
            except killed:  # its worker died twice before it began reading (beside other crashes)
                records.append(_lost_file(client, path, self.timeout, run))
        lost = (CRASH_ERROR, TIMEOUT_ERROR.format(seconds=self.timeout))
        for record in records:
            if record.error in lost:
                log.warning("%s: %s", record.filepath, record.error)
        return records


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    return distributed


@contextmanager
def _connected(spec: ClusterSpec, jobs: int) -> Iterator:
    """A client for the spec, closed after the run with the cluster it started (if any). A
    cluster imgval starts runs under cluster_config: some of it is read while it runs."""
    import dask

    with ExitStack() as started:  # closed in reverse: the client, the cluster, the config
        if spec.scheduler or spec.scheduler_file:
            client = _starting(spec, _scheduler_client, spec)
        else:
            kind, workers = _starting(spec, parse_cluster, spec.cluster or "local")
            started.enter_context(dask.config.set(cluster_config(kind)))
            cluster = started.enter_context(_starting(spec, _start_cluster, kind, workers or jobs, spec))
            client = _starting(spec, _cluster_client, kind, cluster, spec)
        yield started.enter_context(client)


def _starting(spec: ClusterSpec, step, *args):
    """One step of reaching the cluster; what fails is a clear EngineError."""
    try:
        return step(*args)
    except EngineError:
        raise
    except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
        raise EngineError(f"cannot reach {spec.describe()}: {exc}") from exc


def _scheduler_client(spec: ClusterSpec):
    distributed = _import_distributed()
    # Dask's default (30 s) is long for a command that fails; a shorter one the user set
    # (distributed.comm.timeouts.connect, or its DASK_ variable) is kept
    timeout = min(CONNECT_TIMEOUT, _connect_seconds())
    client = distributed.Client(spec.scheduler, scheduler_file=spec.scheduler_file, timeout=timeout)
    client.wait_for_workers(1, timeout=WORKER_START_TIMEOUT)
    return client


def _start_cluster(kind: str, workers: int, spec: ClusterSpec):
    if kind == "local":
        distributed = _import_distributed()
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
    cluster = _jobqueue_cluster(kind, spec)
    cluster.adapt(minimum_jobs=spec.cluster_jobs, maximum_jobs=spec.cluster_jobs)
    return cluster


def _cluster_client(kind: str, cluster, spec: ClusterSpec):
    client = _import_distributed().Client(cluster)
    if kind != "local":
        log.info("waiting for the first Dask worker of %s", spec.describe())
        client.wait_for_workers(1, timeout=WORKER_START_TIMEOUT)
    return client


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
