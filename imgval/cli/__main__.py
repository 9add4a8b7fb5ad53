"""`python -m imgval.cli ...`: the same as the `imgval` command."""
from imgval.cli import main

main()
