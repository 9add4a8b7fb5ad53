"""`imgval check SOURCE DEST`: compare by content, copy nothing; rclone-check-style output."""

from __future__ import annotations

import sys

import click

from imgval.cli import exitcodes
from imgval.cli.options import HELP, terminate_as_interrupt
from imgval.cli.sync import environment_policy, list_source, open_checked, selection_options
from imgval.storage import StorageError, unexpected
from imgval.sync.check import DIFFERENT, ERROR, MISSING_AT_DEST, MISSING_AT_SOURCE, SAME, check
from imgval.sync.hashpairs import HashPairs
from imgval.sync.selection import Selection
from imgval.sync.syncer import Syncer

SUMMARY = (("*", "differences found"), ("-", "files missing at the destination"),
           ("+", "files missing at the source"), ("=", "matching files"), ("!", "errors"))


@click.command("check", context_settings=HELP)
@click.argument("source")
@click.argument("destination", metavar="DEST")
@selection_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Files compared in parallel.")
@click.option("--hash-cache", type=click.Path(dir_okay=False), default=None,
              help="SQLite file of remembered hash pairs (as for sync).  [default: $IMGVAL_HASH_CACHE or the user "
                   "cache folder]")
@click.option("-q", "--quiet", is_flag=True, help="Print only the files that differ, and the summary if any do.")
def check_command(source, destination, include, exclude, ignore_case, all_files, jobs, hash_cache, quiet):
    """Compare the files under SOURCE with those under DEST by content; copy nothing.

    \b
    One line per file:  = same   * differs   - only at SOURCE   + only at DEST   ! error
    then the counts. Exit codes: 0 identical, 1 differences or errors, 2 usage or credentials,
    130 interrupted.
    """
    try:
        with terminate_as_interrupt():
            code = _check(source, destination, Selection(tuple(include), tuple(exclude), ignore_case, all_files),
                          jobs, hash_cache, quiet)
    except KeyboardInterrupt:
        click.echo("imgval check: interrupted", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    except (click.ClickException, click.exceptions.Exit, SystemExit):
        raise
    except Exception as exc:
        click.echo(f"imgval check: {unexpected(exc)}", err=True)
        sys.exit(exitcodes.FAILED)
    sys.exit(code)


def _check(source, destination, selection, jobs, hash_cache, quiet) -> int:
    retry = environment_policy()
    src = open_checked(source, "source", None)
    dest = open_checked(destination, "destination", None)
    files = list_source(src, selection, "check")
    syncer = Syncer(src, [dest], selection, jobs=jobs, hash_pairs=HashPairs(hash_cache), retry=retry)
    try:
        results = check(syncer, files, dest, selection)
    except StorageError as exc:
        click.echo(f"imgval check: cannot list {dest.url}: {exc}", err=True)
        return exitcodes.FAILED
    finally:
        syncer.hash_pairs.close()
    counts = {mark: 0 for mark in (SAME, DIFFERENT, MISSING_AT_DEST, MISSING_AT_SOURCE, ERROR)}
    for result in results:
        counts[result.mark] += 1
        if not (quiet and result.mark == SAME):
            click.echo(f"{result.mark} {result.path}" + (f"  ({result.error})" if result.error else ""))
    differs = counts[SAME] != len(results)
    if differs or not quiet:
        for mark, label in SUMMARY:
            click.echo(f"{counts[mark]} {label}", err=True)
    return exitcodes.FAILED if differs else exitcodes.OK
