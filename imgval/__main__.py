"""`python -m imgval ...`: the same as the `imgval` command."""
from imgval.batch.workers import one_blas_thread_from_start

one_blas_thread_from_start()  # before NumPy is imported
from imgval.cli.main import main  # noqa: E402

main(prog_name="imgval")
