"""`imgval scan` (= process.py): discover, analyse in parallel (reusing cached results), write
the report, print the summary; --fail-on turns findings into exit code 3."""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time

from typing import TYPE_CHECKING

import click

from imgval.batch import bags
from imgval.batch.lock import Locked, RunLock
from imgval.batch.shard import Shard, parse_shard
from imgval.cli import exitcodes
from imgval.cli.options import (
    HELP, MultiValueCommand, blur_verdict_option, check_inputs, discover_or_fail, engine_options, file_path, images_option,
    include_ext_option, log_record, logs_above_the_bar, max_memory_option, max_pixels_option, mode_options,
    open_report_or_fail, outputs_or_fail, resolve_profile, setup_logging_or_fail, sharpness_threshold_option,
    terminate_as_interrupt, threshold_option, verbose_option,
)
from imgval.defaults import CHECKSUMS, DEFAULT_RADIUS, DEFAULT_TIMEOUT, default_jobs
from imgval.escaped_names import printable, shown
from imgval.image_names import with_extensions
from imgval.report.runmeta import scan_meta

if TYPE_CHECKING:
    from imgval.analysis.analyze import Record, Settings
    from imgval.batch.cache import ResultCache
    from imgval.batch.discover import Discovery
    from imgval.report.summary import Summary
    from imgval.report.writers import Report

# The analysis, cache, engine and report modules (OpenCV, NumPy, SciPy, Dask) are imported when
# a scan runs: `imgval --help` must not load them.

log = logging.getLogger("imgval")


def progress(total: int):
    """A progress bar with rate and ETA, only when a person is watching a terminal (tqdm is not
    even imported otherwise: cron and pipes never show it)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True)


class _NoBar:
    """What a scan asks of a disabled tqdm bar."""

    disable = True

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


@click.command("scan", cls=MultiValueCommand, context_settings=HELP)
@images_option
@click.option("-s", "--save-path", type=file_path(), default=None,
              help="Report file.  [default: results.csv, or results.json with -o json]")
@click.option("-o", "--output-format", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Report format.")
@threshold_option
@blur_verdict_option("sharpness")
@sharpness_threshold_option
@mode_options("default")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=default_jobs(), show_default="all cores",
              help="Images analysed in parallel.")
@click.option("--profile", "profile_path", type=file_path(exists=True), default=None,
              help="TOML file with the project's EXIF rules.  [default: the built-in profile]")
@max_pixels_option
@max_memory_option
@include_ext_option
@click.option("--hash", "checksums", default="sha256", metavar="KINDS", show_default=True,
              callback=lambda ctx, param, value: _checksums_option(value),
              help="Fixity checksums of each file's bytes, computed in the same read (comma-separated): "
                   "sha256, md5. sha256 is always computed (duplicates and bags use it).")
@click.option("--cache", "cache_path", type=file_path(), default=None,
              help="SQLite file of earlier results; unchanged files are not analysed again.  "
                   "[default: results.sqlite in the user's cache folder]")
@click.option("--no-cache", is_flag=True, help="Analyse every file, and keep no results for the next run.")
@click.option("--verify", is_flag=True,
              help="Fixity check: analyse and re-hash every file, cached or not; a file whose bytes changed "
                   "while its size and times did not (bit rot) gets a 'fixity failure' error.")
@click.option("--fail-on", default="", metavar="KINDS", callback=lambda ctx, param, value: _fail_on_option(value),
              help="Exit with code 3 when the run finds images of these kinds (comma-separated): "
                   "blurry, exif, duplicate, error.  [default: none; findings never change the exit code]")
@click.option("--html", "html_path", type=file_path(), default=None,
              help="Also write a self-contained HTML report (thumbnails, blur maps, duplicate groups) here.")
@click.option("--dup-radius", type=click.IntRange(min=0, max=64), default=DEFAULT_RADIUS, show_default=True,
              help="Images whose pHashes differ in at most this many bits (of 64) share a dup_group; "
                   "byte-identical files (same sha256) always do. 0 = identical pHashes only "
                   "(see docs/duplicates.md).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS",
              help="Stop analysing a file after this long (its worker is replaced; the row says why, and the "
                   "next run tries it again).")
@click.option("--bag", "bag_flag", is_flag=True,
              help="The input is a BagIt bag: check its manifests against the checksums of this scan (exit 5 "
                   "when it is not valid).  [default: on when the one input folder has a bagit.txt]")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and --fail-on findings (for cron).")
@click.option("--log-file", type=file_path(), default=None,
              help="Also write a full log (every image, the summary) to this file.")
@verbose_option
@engine_options
@click.option("--shard", metavar="I/N", default=None, callback=lambda ctx, param, value: _shard_option(value),
              help="Analyse only shard I of N (1 <= I <= N): a deterministic 1/N of the files, for job arrays "
                   "without Dask; `imgval merge` joins the shards' reports.  [default: results.shard-I-of-N.csv "
                   "and a cache of its own]")
def scan(inputs, save_path, output_format, threshold, blur_verdict, sharpness_threshold, mode, jobs, profile_path,
         max_pixels, max_memory, include_ext, checksums, cache_path, no_cache, verify, fail_on, html_path, dup_radius,
         timeout, bag_flag, quiet, log_file, verbose, engine, shard):
    """Check every image under each PATH: integrity, blur score, pHash and EXIF rules.

    Writes one row per file to results.csv in the current folder and prints a summary.
    Results of unchanged files are reused from the cache (see --cache, --no-cache).
    """
    start = time.perf_counter()
    check_inputs(inputs)  # first: a mistyped folder is told before the analysis is even loaded
    from imgval.analysis.analyze import Settings
    from imgval.batch.cache import default_cache_path
    from imgval.cli.report import html_after_scan
    from imgval.report.failon import findings

    save_path = save_path or (f"results.shard-{shard.index}-of-{shard.count}.{output_format}" if shard
                              else f"results.{output_format}")
    targets = outputs_or_fail({"-s/--save-path": save_path, "--html": html_path, "--log-file": log_file,
                               "--cache": cache_path}, inputs)
    setup_logging_or_fail(verbose, log_file)
    if cache_path and no_cache:
        raise click.UsageError("--cache and --no-cache contradict each other; give one of them.")
    if verify and no_cache:
        raise click.UsageError("--verify compares every file with its cached result; it needs the cache "
                               "(drop --no-cache).")
    bag = _open_bag_or_fail(inputs, bag_flag)
    if bag:  # the manifests' checksums come from the same read as everything else
        checksums = tuple(dict.fromkeys(checksums + bag.algorithms))
        inputs = (os.path.join(inputs[0], bags.PAYLOAD),)
    settings = Settings(threshold=threshold, mode=mode, blur_verdict=blur_verdict,
                        sharpness_threshold=sharpness_threshold, max_pixels=max_pixels,
                        max_memory=max_memory * 1_000_000, profile=resolve_profile(profile_path), checksums=checksums)
    found = discover_or_fail(inputs, with_extensions(include_ext))
    meta = scan_meta(settings, list(inputs), dup_radius, save_path)
    meta["skipped"] = dict(sorted(found.skipped.items()))  # files not taken, by extension
    report = open_report_or_fail(targets["-s/--save-path"], output_format, list(inputs), settings.threshold,
                                 dup_radius=dup_radius, meta=meta)
    lock = _lock_or_exit(save_path, report)
    try:
        cache = None if no_cache else _open_cache(cache_path or default_cache_path(shard), settings)
        summary, head = _scan_into(report, cache, found, settings, _engine_or_fail(engine, jobs, timeout, report),
                                   verify, save_path, shard, output_format, bag)
    finally:
        lock.release()
    summary.skipped = found.skipped

    if not quiet:
        for record in head:
            name = printable(shown(record.filepath))  # a name's newline or escape codes stay text
            click.echo(f"{name}\t{_fmt_score(record.score)}\t{_fmt(record.blurry)}\t{record.error}")
        click.echo(f"--- Image count: {summary.count} ---")
        click.echo(f"--- Found {summary.blurry} blurry images ---")
        click.echo(f"--- Percent blurry: {summary.percent_blurry:.2f}% ---")
        click.echo(f"--- Total time taken: {time.perf_counter() - start:.2f} seconds ---")
    if summary.errors:
        log.warning("%d file(s) could not be analysed: see the error column in %s.", summary.errors, save_path)
    if html_path:
        html_after_scan(save_path, html_path, settings, jobs)
    line = _summary_line(summary, save_path, time.perf_counter() - start)
    log.info(line)
    if not quiet:
        click.echo(line)
    flagged = findings(summary, fail_on)
    if flagged:
        click.echo(f"--fail-on {','.join(fail_on)}: found {', '.join(flagged)}; see {save_path}.", err=True)
    if bag and not _bag_valid(bag, quiet):
        sys.exit(exitcodes.BAG_INVALID)
    if flagged:
        sys.exit(exitcodes.FLAGGED)


def _open_bag_or_fail(inputs, bag_flag: bool) -> bags.BagCheck | None:
    """The bag to check: the one input when --bag is given or it has a bagit.txt."""
    looks_like_bag = len(inputs) == 1 and os.path.isdir(inputs[0]) and bags.is_bag(inputs[0])
    if not (bag_flag or looks_like_bag):
        return None
    if len(inputs) != 1 or not os.path.isdir(inputs[0]):
        raise click.BadParameter("--bag checks one bag: give its folder as the only input", param_hint="--bag")
    try:
        return bags.BagCheck(inputs[0])
    except bags.BagError as exc:
        raise click.BadParameter(str(exc), param_hint="--bag")


def _bag_valid(bag: bags.BagCheck, quiet: bool) -> bool:
    """Print the bag's verdict (every problem to stderr); True when it is valid."""
    for name in bag.manifests.unsupported:
        log.warning("%s: not checked (imgval computes %s only)", name, ", ".join(bags.ALGORITHMS))
    for problem in bag.problems:
        click.echo(f"bag {bag.bag}: {problem}", err=True)
    if not bag.problems:
        if not quiet:
            click.echo(f"--- Bag {bag.bag}: valid ({bag.files} files, Payload-Oxum {bag.oxum_found}) ---")
        return True
    kinds: dict[str, int] = {}
    for problem in bag.problems:
        kinds[problem.kind] = kinds.get(problem.kind, 0) + 1
    counted = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    click.echo(f"--- Bag {bag.bag}: NOT valid ({len(bag.problems)} problems: {counted}) ---", err=True)
    return False


def _bag_leftovers(bag: bags.BagCheck, settings: Settings):
    """Rows for what the scan did not see: payload files that are not images (read once here,
    given a row only when something is wrong with them), files the manifests list but the bag
    lacks, and a wrong Payload-Oxum (a row for bag-info.txt)."""
    from imgval.analysis.analyze import Record

    for relative, full in bags.payload_files(bag.bag):
        if relative in bag.seen:
            continue
        try:
            digests, size = bags.file_digests(full, bag.algorithms), os.stat(full).st_size
        except OSError as exc:
            digests, size = {}, 0
            log.warning("%s: cannot read it to check the bag: %s", full, exc.strerror or exc)
        verdict = bag.file_issue(full, digests, size)
        if verdict != "ok":
            yield Record(bag.shown_path(relative), bag=verdict,
                         **{k: v for k, v in digests.items() if k in settings.checksums})
    before = len(bag.problems)
    for problem in bag.manifests.problems + bag.finish()[before:]:
        yield Record(bag.shown_path(problem.path), bag=f"{problem.kind}: {problem.detail}",
                     error=f"{problem.kind}: {problem.detail}" if problem.kind == "missing" else "")


def _with_bag_verdict(record: Record, bag: bags.BagCheck | None) -> Record:
    if bag is None or bag.relative(record.filepath) is None:
        return record
    try:
        size = os.stat(record.filepath).st_size
    except OSError:
        size = 0
    digests = {"sha256": record.sha256, "md5": record.md5}
    # a copy: the cached record must not carry one run's bag verdict into another run
    return dataclasses.replace(record, bag=bag.file_issue(record.filepath, digests, size))


def _scan_into(report, cache, found: Discovery, settings, engine, verify=False, save_path="the report", shard=None,
               output_format="csv", bag=None) -> tuple[Summary, list]:
    """Analyse (or reuse) and write every row; the report appears only when complete.
    Whatever stops the run, results analysed so far stay in the cache for the next run.
    With a shard, only its files (and, in shard 1, the folders that could not be listed)."""
    from imgval.analysis.analyze import Record
    from imgval.batch.cache import fingerprint
    from imgval.batch.engine import EngineError
    from imgval.batch.incremental import run_incremental
    from imgval.report.shards import write_sidecar
    from imgval.report.summary import Summary
    from imgval.report.writers import ReportWriteError

    listed = len(found.paths) + len(found.unlistable)
    if shard:
        positions, found.paths = shard.select(found.paths)
        if shard.index == 1:
            positions += range(listed - len(found.unlistable), listed)
        else:
            found.unlistable = []
    summary, head = Summary(), []
    finished = False
    try:
        with terminate_as_interrupt(), progress(len(found.paths)) as bar, logs_above_the_bar(bar):
            for outcome in run_incremental(found.paths, settings, engine, cache, found.remote_entries,
                                           verify=verify):
                _add(_with_bag_verdict(outcome.record, bag), report, summary, head, outcome.reused)
                bar.update()
            for folder, reason in found.unlistable:
                _add(Record(folder, error=reason), report, summary, head)
            if bag:  # rows for the bag's problems; they are not images, so not in the counts
                for record in _bag_leftovers(bag, settings):
                    report.write(record)
            if shard:
                write_sidecar(save_path, shard.index, shard.count, listed, positions, fingerprint(settings),
                              output_format)
            report.close(blurry_counts=summary.blurry)
            summary.duplicates = report.duplicates.images
            finished = True
    except EngineError as exc:  # the cluster could not start (exit 2) or was lost mid-run (exit 1)
        click.echo(f"Error: {exc}; no report written.", err=True)
        sys.exit(exitcodes.FAILED if summary.analysed else exitcodes.USAGE)
    except KeyboardInterrupt:
        click.echo(f"Interrupted: no report written; {summary.analysed} result(s) are kept in the cache "
                   "for the next run." if cache else "Interrupted: no report written.", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    except ReportWriteError as exc:  # a full disk, a quota: one message, nothing half-written left
        kept = f"; {summary.analysed} result(s) are kept in the cache for the next run" if cache else ""
        click.echo(f"cannot write the report {shown(save_path)}: {exc}. No report written{kept}. "
                   "Free some space (or give another --save-path) and run again.", err=True)
        sys.exit(exitcodes.FAILED)
    finally:
        if not finished:
            report.discard()
        if cache:
            cache.close(finished=finished)
    return summary, head


def _add(record, report, summary, head, reused=False):
    summary.add(record, reused)  # first: counts what the cache holds even if the write fails
    report.write(record)
    if len(head) < 5:
        head.append(record)
    log_record(record)


def _engine_or_fail(choice, jobs: int, timeout: float, report: Report):
    """The engine the options chose; one that cannot start is a usage error (exit 2), before any row."""
    from imgval.batch.engine import EngineError, make_engine

    name, spec = choice
    try:
        engine = make_engine(name, jobs, spec=spec, timeout=timeout)
    except EngineError as exc:
        report.discard()
        raise click.UsageError(str(exc))
    if spec is not None:
        log.info("analysing on %s", spec.describe())
    return engine


def _shard_option(value: str | None) -> Shard | None:
    try:
        return parse_shard(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard")


def _fail_on_option(value: str) -> tuple[str, ...]:
    from imgval.report.failon import parse_fail_on

    try:
        return parse_fail_on(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on")


def _checksums_option(value: str) -> tuple[str, ...]:
    kinds = [kind.strip().lower() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in CHECKSUMS]
    if unknown or not kinds:
        raise click.BadParameter(f"unknown checksum {', '.join(map(repr, unknown)) or '(none given)'}: "
                                 f"give a comma-separated list of {', '.join(CHECKSUMS)}", param_hint="--hash")
    return tuple(dict.fromkeys(["sha256", *kinds]))


def _lock_or_exit(save_path: str, report: Report) -> RunLock:
    """Exit at once with LOCKED when another run is writing this report; its work is untouched."""
    try:
        return RunLock.for_report(save_path).acquire()
    except Locked as exc:
        report.discard()
        click.echo(f"{exc} Wait for it to finish, or give another --save-path.", err=True)
        sys.exit(exitcodes.LOCKED)
    except OSError as exc:
        report.discard()
        raise click.BadParameter(f"cannot create the lock file {save_path}.lock: {exc.strerror or exc}",
                                 param_hint="-s/--save-path")


def _open_cache(path: str, settings) -> ResultCache | None:
    """The result cache, or None with a warning: a broken cache costs speed, never the nightly run."""
    from imgval.batch.cache import CacheError, ResultCache

    try:
        return ResultCache(path, settings)
    except CacheError as exc:
        log.warning("%s. Analysing every file this time.", exc)
        return None


def _summary_line(summary: Summary, save_path: str, seconds: float) -> str:
    """The run in one line, for cron mail and logs."""
    return (f"imgval: {summary.count} images, {summary.blurry} blurry, {_unjudged_text(summary.unjudged)}"
            f"{summary.exif_failed} failing EXIF, "
            f"{summary.duplicates} duplicates, {summary.errors} errors; {summary.analysed} analysed, "
            f"{summary.reused} reused; {_skipped_text(summary.skipped)}report {save_path} ({seconds:.1f} s)")


def _unjudged_text(unjudged) -> str:
    """'2 too small, 1 blank, ' for the images with no blur verdict (blur_status)."""
    return "".join(f"{n} {status}, " for status, n in sorted(unjudged.items()))


def _skipped_text(skipped) -> str:
    """'3 other files skipped (.xmp 2, .cr2 1); ' for the files folders held that are not images."""
    total = sum(skipped.values())
    if not total:
        return ""
    kinds = ", ".join(f"{ext or '(no extension)'} {n}" for ext, n in skipped.most_common(5))
    more = ", ..." if len(skipped) > 5 else ""
    return f"{total} other file{'s' if total != 1 else ''} skipped ({kinds}{more}); "


def _fmt_score(score) -> str:
    return "" if score is None else f"{score:.2f}"


def _fmt(value) -> str:
    return "" if value is None else str(value)
