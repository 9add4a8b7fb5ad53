"""`python -m imgval ...`: the same as the `imgval` command."""
from imgval.cli.scripts import as_program

with as_program():
    from imgval.cli.main import main

    main(prog_name="imgval")
