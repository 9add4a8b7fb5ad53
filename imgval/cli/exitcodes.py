"""Exit codes, one table (documented in the README)."""

OK = 0  # the run finished and the report is complete
FAILED = 1  # the run could not finish (or, for sync, some files failed)
USAGE = 2  # bad options or inputs: nothing was done
FLAGGED = 3  # --fail-on found images of the named kinds
LOCKED = 4  # another run is writing the same report
BAG_INVALID = 5  # the scan of a BagIt bag finished and the bag is not valid
INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)
