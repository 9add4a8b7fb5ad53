"""The `imgval` group and the two scripts' entry points; each command lives in its own module."""
from __future__ import annotations

import click

from imgval import __version__
from imgval.cli.bag import bag_command
from imgval.cli.check import check_command
from imgval.cli.dupes import dupes_command
from imgval.cli.merge import merge_command
from imgval.cli.options import HELP
from imgval.cli.report import report_command
from imgval.cli.run import run_command
from imgval.cli.scan import scan
from imgval.cli.scripts import process_blur_main, process_main  # noqa: F401  (also reached from here)
from imgval.cli.sync import sync_command


class Group(click.Group):
    """`imgval --help` lists each command with its whole first sentence, not click's 45 characters."""

    def add_command(self, cmd, name=None):
        if cmd.help and not cmd.short_help:
            cmd.short_help = " ".join(cmd.help.split("\n\n")[0].split())
        super().add_command(cmd, name)


@click.group(cls=Group, context_settings=HELP)
@click.version_option(__version__, prog_name="imgval")
def main():
    """imgval: validate batches of image files (integrity, blur, duplicates, EXIF)."""


main.add_command(scan)
main.add_command(sync_command)
main.add_command(check_command)
main.add_command(run_command)
main.add_command(dupes_command)
main.add_command(report_command)
main.add_command(bag_command)
main.add_command(merge_command)
