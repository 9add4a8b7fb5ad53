"""The command line: the click group, one module per command, shared options.

`main` is the `imgval` console script (setup.cfg: imgval.cli:main). It imports the commands
only when called, so importing any one cli module does not load them all.
"""


def main() -> None:
    from imgval.cli.scripts import as_program

    with as_program():
        from imgval.cli.main import main as group

        group()
