"""`imgval sync SOURCE DEST [DEST ...]`: copy a batch of images between storages."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
import time

import click

from imgval.cli import exitcodes
from imgval.cli.options import HELP, logs_above_the_bar, outputs_or_fail, setup_logging, terminate_as_interrupt
from imgval.storage import NotFound, StorageError, open_storage, unexpected
from imgval.storage.credentials import check_environment
from imgval.storage.retry import RetryPolicy

# tqdm and the sync modules are imported when a sync runs: `imgval --help` must not load them.

log = logging.getLogger("imgval.sync")
MIB = 1024 * 1024
CREATABLE = ("local", "dropbox")  # destinations whose folder a copy creates


def selection_options(command):
    """--include, --exclude, --ignore-case, --all-files (shared by sync and check)."""
    options = [
        click.option("--include", multiple=True, metavar="GLOB",
                     help="Take files matching this glob instead of the image extensions (repeatable; a glob "
                          "with '/' matches the relative path, otherwise the file name; 'drafts/' names a "
                          "folder at any depth, '/drafts/' only at the top)."),
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Leave out files matching this glob, or everything under a folder 'NAME/' (repeatable)."),
        click.option("--ignore-case", is_flag=True, help="Match --include/--exclude globs ignoring case."),
        click.option("--all-files", is_flag=True,
                     help="Take every file, not only images (sidecars such as .xmp and .txt too)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_checked(url: str, role: str, chunk_size: int | None = None):
    """Open a storage and check its credentials; any problem is a usage error (exit 2)."""
    options = {"chunk_size": chunk_size * MIB} if chunk_size else {}
    try:
        storage = open_storage(url, **options)
    except StorageError as exc:
        raise click.UsageError(f"{role} {url}: {exc}")
    try:
        storage.check()
    except NotFound:
        if role == "source" or storage.scheme not in CREATABLE:
            raise click.UsageError(f"{role} {url}: no such folder or bucket")
    except StorageError as exc:  # CredentialsError included: the message names the variables
        raise click.UsageError(f"{role} {url}: {exc}")
    return storage


@click.command("sync", context_settings=HELP)
@click.argument("source")
@click.argument("destinations", nargs=-1, required=True, metavar="DEST...")
@selection_options
@click.option("--dry-run", is_flag=True, help="List what would be copied; copy nothing.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Files transferred in parallel.")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), default="sync-manifest.csv",
              show_default=True, help="CSV of every file, its SHA-256 and what was done with it; each run adds "
                                      "its rows, with the run's start time.")
@click.option("--chunk-size", type=click.IntRange(min=5), default=None, metavar="MIB",
              help="Part size of multipart uploads to S3 and Dropbox (memory use grows with it).  "
                   "[default: 16]")
@click.option("--hash-cache", type=click.Path(dir_okay=False), default=None,
              help="SQLite file remembering content_hash/SHA-1 pairs, so Dropbox and Box files can be "
                   "compared without downloads.  [default: $IMGVAL_HASH_CACHE or the user cache folder]")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing when every file was copied or up to date; only errors and, when a file "
                   "failed, the summary (for cron).")
@click.option("--log-file", type=click.Path(dir_okay=False), default=None, help="Also write a full log here.")
@click.option("-v", "--verbose", is_flag=True, help="Log every file to stderr.")
def sync_command(source, destinations, include, exclude, ignore_case, all_files, dry_run, jobs, manifest_path,
                 chunk_size, hash_cache, quiet, log_file, verbose):
    """Copy the image files under SOURCE to every DEST, keeping relative paths.

    \b
    Storages:  /local/dir   s3://bucket/prefix   box:FOLDER_ID   dropbox:/Folder/Path
    Example:   imgval sync dropbox:/Scans/2026 s3://archive/scans/2026 box:123456789

    A file already at a destination with the same content (by hash) is skipped; nothing is
    ever deleted. Two source files that are one name at a destination (case, Unicode form)
    are both failed, never copied over each other. Credentials come from the environment
    (see the README's Sync section). Exit codes: 0 all files copied or up to date, 1 some
    file failed, 2 usage or credentials, 130 interrupted (Ctrl-C or SIGTERM).
    """
    from imgval.sync.selection import Selection

    # not a device, FIFO or folder, nor a file being copied (cli/outputs.py)
    outputs_or_fail({"--manifest": manifest_path, "--log-file": log_file, "--hash-cache": hash_cache},
                    [source, *destinations])
    setup_logging(verbose, log_file)
    try:
        with terminate_as_interrupt():
            selection = Selection(tuple(include), tuple(exclude), ignore_case, all_files)
            _sync(source, destinations, selection, dry_run, jobs, manifest_path, chunk_size, hash_cache, quiet)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, at any stage: listing, waiting, copying
        click.echo("imgval sync: interrupted; nothing partial is visible, run again to finish", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    except (click.ClickException, click.exceptions.Exit, SystemExit):
        raise
    except Exception as exc:  # an SDK's own error: told by type, its text cleared of secrets
        log.debug("unexpected error", exc_info=True)
        click.echo(f"imgval sync: {unexpected(exc)}", err=True)
        sys.exit(exitcodes.FAILED)


def _sync(source, destinations, selection, dry_run, jobs, manifest_path, chunk_size, hash_cache, quiet):
    from tqdm import tqdm

    from imgval.sync.hashpairs import HashPairs
    from imgval.sync.manifest import write_manifest
    from imgval.sync.syncer import COPIED, FAILED, SKIPPED, WOULD_COPY, Syncer

    started = time.monotonic()
    run_started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    retry = environment_policy()
    # every storage is opened and its credentials checked before any transfer starts
    src = open_checked(source, "source", chunk_size)
    dests = [open_checked(url, "destination", chunk_size) for url in destinations]
    _refuse_overlaps(src, dests)
    files = list_source(src, selection, "sync")
    total_bytes = sum(e.size for e in files) * len(dests)
    if not quiet:
        click.echo(f"{len(files)} files ({_human(total_bytes // max(1, len(dests)))}) under {src.url}", err=True)

    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, file=sys.stderr,
               disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)

    def done(outcome):
        if outcome.action == FAILED:
            log.error("%s -> %s: %s", outcome.path, outcome.destination, outcome.error)
        elif outcome.action == WOULD_COPY and not quiet:
            click.echo(f"would copy {outcome.path} -> {outcome.destination}")
        else:
            log.info("%s %s -> %s", outcome.action, outcome.path, outcome.destination)
        if outcome.action != COPIED:
            bar.update(outcome.size)

    syncer = Syncer(src, dests, selection, jobs=jobs, dry_run=dry_run, hash_pairs=HashPairs(hash_cache),
                    retry=dataclasses.replace(retry, attempts=3), on_bytes=bar.update, on_done=done)
    try:
        with logs_above_the_bar(bar):
            result = syncer.run(files)
    finally:
        bar.close()
        syncer.hash_pairs.close()

    try:
        write_manifest(result, manifest_path, run_started)
    except OSError as exc:
        click.echo(f"imgval sync: cannot write manifest {manifest_path}: {exc.strerror or exc}", err=True)
        sys.exit(exitcodes.FAILED)

    copied, skipped, failed = result.count(COPIED), result.count(SKIPPED), result.count(FAILED)
    seconds = time.monotonic() - started
    if dry_run:
        summary = f"dry run: {result.count(WOULD_COPY)} would be copied, {skipped} up to date"
    elif copied == 0 and failed == 0:
        summary = f"nothing to copy: all {skipped} files are up to date"
    else:
        summary = f"{copied} copied ({_human(result.bytes_copied())}), {skipped} up to date, {failed} failed"
    line = f"--- Sync: {summary}; {seconds:.1f} s; manifest {manifest_path} ---"
    log.info(line)
    if failed or not quiet:  # with -q a clean run prints nothing, so cron mails only problems
        click.echo(line, err=bool(failed))
    sys.exit(exitcodes.FAILED if result.failed else exitcodes.OK)


def environment_policy() -> RetryPolicy:
    """The retry policy from the environment, once every credential variable is well-formed;
    a bad one is a usage error (exit 2) naming the variable."""
    try:
        check_environment()
        return RetryPolicy.from_env()
    except StorageError as exc:
        raise click.UsageError(str(exc))


def list_source(src, selection, command: str) -> list:
    """The source's selected files, sorted; a listing failure exits 1, a mistyped S3 prefix 2."""
    try:
        listed = list(src.list())
    except StorageError as exc:
        click.echo(f"imgval {command}: cannot list {src.url}: {exc}", err=True)
        sys.exit(exitcodes.FAILED)
    if not listed and src.scheme == "s3" and src.prefix:
        # S3 has no folders: a mistyped prefix is an empty listing, not an error of S3's
        raise click.UsageError(f"source {src.url}: nothing under this prefix (is it spelled right?)")
    return sorted((e for e in listed if selection(e.path)), key=lambda e: e.path)


def _refuse_overlaps(src, dests) -> None:
    """A destination inside its source (or the reverse) would copy its own copies again on
    every run, one level deeper each time; refused, as rclone does."""
    from imgval.sync.syncer import overlapping

    for dest in dests:
        if overlapping(src, dest):
            raise click.UsageError(f"destination {dest.url} overlaps the source {src.url} (one is inside the "
                                   "other); choose a destination outside it")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
