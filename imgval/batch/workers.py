"""What every engine's worker process sets up for itself before its first file."""
from __future__ import annotations

import os
import sys

RETAINED_BLOCK_BYTES = 256 << 20  # freed blocks up to this size a worker keeps for the next file

_blas_started_single = False  # set by one_blas_thread_from_start: OpenBLAS was loaded with one thread


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def keep_freed_memory() -> None:
    """Let glibc keep freed large blocks for reuse instead of returning them to the kernel.
    Every image allocates the same few large buffers (the file's bytes, the decoded pixels);
    by default each is a fresh mmap whose pages the kernel must fault in and zero again, which
    cost ~15 ms per 60 MB file here. Reused, a worker's resident size stays at its largest image's
    buffers (a bound, not growth) and the faults are gone."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        # Up to 256 MiB (a 40 MP 16-bit RGB master's samples): larger blocks are the rare giant
        # image, whose page faults cost little beside its decode; kept, such blocks would add
        # to a worker's size beyond --max-memory (measured 1.7 GB with 1 GiB here)
        libc.mallopt(-3, RETAINED_BLOCK_BYTES)  # M_MMAP_THRESHOLD: blocks up to this come from the heap
        libc.mallopt(-1, RETAINED_BLOCK_BYTES)  # M_TRIM_THRESHOLD: keep up to this free at the heap's top
    except (OSError, AttributeError):
        pass  # not glibc (macOS, musl, Windows): the default allocator it is


def one_blas_thread_from_start() -> None:
    """The command line's entry points call this before NumPy is imported: its OpenBLAS then
    starts with one thread (unless OPENBLAS_NUM_THREADS says otherwise), which every process of
    a run wants anyway (one_blas_thread). Started with one thread per core, OpenBLAS cost ~70 ms
    more CPU at import (measured on 2 cores), in every run; and the workers, forked with it
    already single, need no threadpoolctl (~20 ms each)."""
    global _blas_started_single
    if "numpy" not in sys.modules:
        _blas_started_single = os.environ.setdefault("OPENBLAS_NUM_THREADS", "1") == "1"


def one_blas_thread() -> None:
    """One BLAS thread in this worker: an engine already runs a worker per core, and OpenBLAS's
    own threads for the analysis' small matrix products (64x64: a thumbnail's score, the pHash)
    cost far more than they save, busy-waiting beside the other workers (measured: 4.2 against
    2.9 ms of CPU per thumbnail, and ~165 ms more on a worker's first file). OpenCV's threads
    are left alone (see pool.run)."""
    if _blas_started_single and _numpy_uses_openblas():
        return  # one thread already (one_blas_thread_from_start, before the fork)
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")


def _numpy_uses_openblas() -> bool:
    import numpy
    try:
        return "openblas" in numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (TypeError, KeyError):  # NumPy < 1.26 (no mode="dicts"), or a build that does not say
        return False
