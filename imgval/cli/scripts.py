"""The two scripts' entry points (process.py, process_blur.py): each imports only its own
command, not the whole `imgval` group (cli/main.py) with every other command's modules."""
from __future__ import annotations

from imgval.batch.workers import one_blas_thread_from_start


def process_main() -> None:
    """`python process.py ...`: the scan, under the original script's name."""
    one_blas_thread_from_start()
    from imgval.cli.scan import scan

    scan.main(prog_name="process.py")


def process_blur_main() -> None:
    """`python process_blur.py ...`: the single-process blur run."""
    one_blas_thread_from_start()
    from imgval.cli.blur import process_blur

    process_blur.main(prog_name="process_blur.py")
