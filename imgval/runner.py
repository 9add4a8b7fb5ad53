"""Fan the per-image step out over worker processes; results come back in input order."""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator

from .analyze import Record, Settings, analyze_path

_settings: Settings | None = None  # each worker's copy, set once by _init_worker


def default_jobs() -> int:
    return os.cpu_count() or 1


def _init_worker(settings: Settings) -> None:
    global _settings
    _settings = settings


def _analyze(path: str) -> Record:
    return analyze_path(path, _settings)


def run(paths: Iterable[str], settings: Settings, jobs: int) -> Iterator[Record]:
    """Analyse every path, yielding one Record each, in the order given.

    chunksize=1 hands out one file at a time, so a worker that finishes a small file takes
    the next one at once instead of waiting behind a batch with a large one.
    """
    if jobs <= 1:
        for path in paths:
            yield analyze_path(path, settings)
        return
    with multiprocessing.get_context("spawn" if os.name == "nt" else "fork").Pool(
        jobs, initializer=_init_worker, initargs=(settings,)
    ) as pool:
        yield from pool.imap(_analyze, paths, chunksize=1)
