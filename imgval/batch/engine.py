"""The engine interface: how a batch of references is analysed, whatever does the work.

The CLI and the incremental runner depend only on this module; `make_engine` picks the
implementation. An engine's contract (tests/batch/test_runner.py runs the same tests on every
engine in ENGINE_NAMES, and a new engine must give identical reports):

  * one Record per reference, yielded in the order given, and streamed: a record is yielded as
    soon as it and every one before it are done, with a bounded number of files in flight, so
    memory does not grow with the batch;
  * progress is the stream: each yielded record is one file finished (callers count them);
  * a lost worker (a decoder segfault, the OOM killer) costs the file it was reading one error
    row (CRASH_ERROR), never the run and never another file's row;
  * no file takes longer than `timeout` seconds: one that does gets a TIMEOUT_ERROR row;
    both rows are transient (Record.transient: not cached, tried again next run);
  * closing the iterator early stops the work at once, whatever the workers are doing.

A new engine (a Dask cluster, say) is a module beside pool.py with a subclass of Engine, and one
name more in ENGINE_NAMES and make_engine; analysis, reports and the CLI do not change.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

from imgval.analysis.analyze import Record, Settings, analyze_mapped

Analyze = Callable[[str, Settings], Record]  # the per-file step: a module-level function, so workers can find it

CRASH_ERROR = ("the analysing process died while reading this file (a decoder crash or out of memory), twice; "
               "the file is probably corrupt: open it in an image viewer to check (it will be tried again on "
               "the next run)")
DEFAULT_TIMEOUT = 300.0  # seconds per file: minutes for the largest real masters, not hours
TIMEOUT_ERROR = ("analysing this file took longer than {seconds:g} s (--timeout), twice, and was stopped; "
                 "it will be tried again on the next run (raise --timeout for very large images)")

ENGINE_NAMES = ("local", "dask")
DEFAULT_ENGINE = "local"


class EngineError(Exception):
    """An engine that cannot start (an extra not installed, a scheduler not reachable); the
    message says what to do. The CLI exits with a usage error before any row is written."""


def default_jobs() -> int:
    return os.cpu_count() or 1


class Engine(ABC):
    """Analyses references with one Settings in `jobs` parallel workers (see the module's contract)."""

    def __init__(self, jobs: int, analyze: Analyze = analyze_mapped, timeout: float = DEFAULT_TIMEOUT):
        self.jobs = max(1, jobs)
        self.analyze = analyze  # tests substitute one that crashes or hangs
        self.timeout = timeout  # seconds one file may take

    @abstractmethod
    def run(self, references: Iterable[str], settings: Settings) -> Iterator[Record]:
        """One Record per reference, in the order given, as described in the module docstring."""


def make_engine(name: str = DEFAULT_ENGINE, jobs: int | None = None, analyze: Analyze = analyze_mapped,
                spec=None, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """The engine called `name`, with `jobs` workers (default: all cores) and a per-file time
    limit of `timeout` seconds; `spec` says where a distributed engine's workers are
    (dask_engine.ClusterSpec; default a LocalCluster of `jobs`)."""
    jobs = default_jobs() if jobs is None else jobs
    if name == "local":
        from imgval.batch.pool import LocalPool  # beside this module; imported when chosen

        return LocalPool(jobs, analyze, timeout)
    if name == "dask":
        from imgval.batch.dask_engine import DaskEngine  # needs the dask extra

        return DaskEngine(jobs, analyze, spec, timeout)
    raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_NAMES)}")
