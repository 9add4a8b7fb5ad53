"""The entry points (process.py, process_blur.py, the `imgval` command): each imports only its
own command, not the whole `imgval` group (cli/main.py) with every other command's modules."""
from __future__ import annotations

import contextlib
import gc

from imgval.batch.workers import one_blas_thread_from_start


@contextlib.contextmanager
def as_program():
    """Around a command run as a program, from before NumPy is imported to its exit: OpenBLAS
    starts with one thread (workers.one_blas_thread_from_start), and at the end every object is
    frozen (gc.freeze), so that the interpreter's exit does not walk them all in its last
    collections only to free memory the process is about to give back (~50 ms of a one-file
    scan's ~0.4 s of CPU, measured). Exit handlers still run; objects are still freed by their
    reference counts; only cycles left at exit go uncollected, which Python never promises."""
    one_blas_thread_from_start()
    try:
        yield
    finally:
        gc.freeze()


def process_main() -> None:
    """`python process.py ...`: the scan, under the original script's name."""
    with as_program():
        from imgval.cli.scan import scan

        scan.main(prog_name="process.py")


def process_blur_main() -> None:
    """`python process_blur.py ...`: the single-process blur run."""
    with as_program():
        from imgval.cli.blur import process_blur

        process_blur.main(prog_name="process_blur.py")
