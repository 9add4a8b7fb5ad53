"""What every engine's worker process sets up for itself before its first file."""
from __future__ import annotations

RETAINED_BLOCK_BYTES = 256 << 20  # freed blocks up to this size a worker keeps for the next file


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


def one_blas_thread() -> None:
    """One BLAS thread in this worker: an engine already runs a worker per core, and OpenBLAS's
    own threads for the analysis' small matrix products (64x64: a thumbnail's score, the pHash)
    cost far more than they save, busy-waiting beside the other workers (measured: 4.2 against
    2.9 ms of CPU per thumbnail, and ~165 ms more on a worker's first file). OpenCV's threads
    are left alone (see pool.run)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
