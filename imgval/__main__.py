"""`python -m imgval ...`: the same as the `imgval` command."""
from imgval.cli import main

main(prog_name="imgval")
