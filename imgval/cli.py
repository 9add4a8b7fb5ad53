"""Command line: `imgval scan` (= process.py), the legacy process_blur.py, and the group."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import time

import click
import cv2
from tqdm import tqdm

from . import __version__, exitcodes
from .analyze import DEFAULT_MAX_PIXELS, MODES, Record, Settings, analyze_path
from .blur import DEFAULT_THRESHOLD, FAST_DEFAULT_THRESHOLD, pretty_blur_map
from .cache import CacheError, ResultCache, default_cache_path
from .discover import discover, missing_inputs
from .dupes import DEFAULT_RADIUS
from .failon import findings, parse_fail_on
from .incremental import run_incremental
from .lock import Locked, RunLock
from .profile import ProfileError, default_profile, load_profile
from .report import Report, Summary
from .runner import default_jobs
from .cli_report import check_html_path, dupes_command, html_after_scan, report_command

log = logging.getLogger("imgval")
HELP = {"help_option_names": ["-h", "--help"]}


def expand_multi_values(args: list[str], options: tuple[str, ...]) -> list[str]:
    """Rewrite `-i a b c` (the original's argparse nargs='+') as `-i a -i b -i c` for click."""
    out: list[str] = []
    taking = None  # the option whose values are being read
    for arg in args:
        if arg in options:
            taking = arg
            out.append(arg)  # the first value joins it; more values get their own copy
        elif taking and not arg.startswith("-") and out[-1] != taking:
            out += [taking, arg]
        else:
            if arg == "--" or arg.startswith("-"):
                taking = None
            out.append(arg)
    return out


class MultiValueCommand(click.Command):
    """A command whose -i/--images option takes several values after one flag."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_multi_values(args, ("-i", "--images")))


def setup_logging(verbose: bool, log_file: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:  # an SDK's message may quote a credential
        handler.addFilter(_redact_secrets)
    logging.basicConfig(
        level=logging.INFO if verbose or log_file else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    handlers[0].setLevel(logging.INFO if verbose else logging.WARNING)


def _redact_secrets(record: logging.LogRecord) -> bool:
    from .storage.credentials import redact

    record.msg, record.args = redact(record.getMessage()), None
    if record.exc_info:
        import traceback

        record.msg += "\n" + redact("".join(traceback.format_exception(*record.exc_info))).rstrip()
        record.exc_info, record.exc_text = None, None
    return True


def resolve_profile(path: str | None):
    try:
        return load_profile(path) if path else default_profile()
    except ProfileError as exc:
        raise click.BadParameter(str(exc), param_hint="--profile")


def check_inputs(inputs: tuple[str, ...]) -> None:
    missing = missing_inputs(list(inputs))
    if missing:
        raise click.BadParameter(
            "no such file or folder: " + ", ".join(repr(p) for p in missing), param_hint="-i/--images"
        )


def open_report_or_fail(path: str, *args, **kwargs):
    """Create the report's temporary file now, so an unwritable path fails before any work."""
    try:
        return Report(path, *args, **kwargs)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path!r}: {exc.strerror or exc}", param_hint="-s/--save-path")


def progress(total: int):
    """A progress bar with rate and ETA, only when a person is watching a terminal."""
    return tqdm(total=total, unit="img", file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)


images_option = click.option(
    "-i", "--images", "inputs", multiple=True, required=True, metavar="PATH...",
    help="Folders (searched recursively) and image files to check.",
)
threshold_option = click.option(
    "-t", "--threshold", type=float, default=None,
    help=f"Images scoring below this are flagged blurry.  [default: {DEFAULT_THRESHOLD:g}; "
         f"{FAST_DEFAULT_THRESHOLD:g} with --fast, whose scores are on their own scale]",
)


def mode_options(default: str):
    """--mode default|exact|fast, with --exact and --fast as shorthands; the command gets `mode`."""
    def decorate(command):
        @functools.wraps(command)
        def resolved(*args, mode, exact, fast, **kwargs):
            if exact and fast:
                raise click.UsageError("--exact and --fast contradict each other; give one of them.")
            return command(*args, mode="exact" if exact else "fast" if fast else mode, **kwargs)
        resolved = click.option("--fast", is_flag=True,
                                help="Shorthand for --mode fast: score a 1/2-1/8 size decode (much faster on "
                                     "large JPEGs; its own score scale and threshold).")(resolved)
        resolved = click.option("--exact", is_flag=True,
                                help="Shorthand for --mode exact: the original tool's scores exactly "
                                     "(colour decode, then grayscale).")(resolved)
        return click.option("--mode", type=click.Choice(MODES), default=default, show_default=True,
                            help="How pixels are decoded for the blur score: default = luminance decoded "
                                 "directly (the original's scores within 1-2%), exact = as the original, "
                                 "fast = reduced-size decode (see docs/performance.md).")(resolved)
    return decorate
verbose_option = click.option("-v", "--verbose", is_flag=True, help="Log every image to stderr.")
max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
    help="Refuse images with more pixels than this (decompression bombs).",
)


@click.command("scan", cls=MultiValueCommand, context_settings=HELP)
@images_option
@click.option("-s", "--save-path", type=click.Path(dir_okay=False), default=None,
              help="Report file.  [default: results.csv, or results.json with -o json]")
@click.option("-o", "--output-format", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Report format.")
@threshold_option
@mode_options("default")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=default_jobs(), show_default="all cores",
              help="Images analysed in parallel.")
@click.option("--profile", "profile_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file with the project's EXIF rules.  [default: the built-in profile]")
@max_pixels_option
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="SQLite file of earlier results; unchanged files are not analysed again.  "
                   "[default: results.sqlite in the user's cache folder]")
@click.option("--no-cache", is_flag=True, help="Analyse every file, and keep no results for the next run.")
@click.option("--fail-on", default="", metavar="KINDS", callback=lambda ctx, param, value: _fail_on_option(value),
              help="Exit with code 3 when the run finds images of these kinds (comma-separated): "
                   "blurry, exif, duplicate, error.  [default: none; findings never change the exit code]")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report (thumbnails, blur maps, duplicate groups) here.")
@click.option("--dup-radius", type=click.IntRange(min=0, max=64), default=DEFAULT_RADIUS, show_default=True,
              help="Images whose pHashes differ in at most this many bits (of 64) share a dup_group; "
                   "byte-identical files (same sha256) always do. 0 = identical pHashes only "
                   "(see docs/duplicates.md).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and --fail-on findings (for cron).")
@click.option("--log-file", type=click.Path(dir_okay=False), default=None,
              help="Also write a full log (every image, the summary) to this file.")
@verbose_option
def scan(inputs, save_path, output_format, threshold, mode, jobs, profile_path, max_pixels, cache_path, no_cache,
         fail_on, html_path, dup_radius, quiet, log_file, verbose):
    """Check every image under PATH: integrity, blur score, pHash and EXIF rules.

    Writes one row per file to results.csv in the current folder and prints a summary.
    Results of unchanged files are reused from the cache (see --cache, --no-cache).
    """
    _setup_logging_or_fail(verbose, log_file)
    start = time.perf_counter()
    check_inputs(inputs)
    if cache_path and no_cache:
        raise click.UsageError("--cache and --no-cache contradict each other; give one of them.")
    settings = Settings(threshold=threshold, mode=mode, max_pixels=max_pixels, profile=resolve_profile(profile_path))
    save_path = save_path or f"results.{output_format}"
    if html_path:
        check_html_path(html_path)
    report = open_report_or_fail(save_path, output_format, list(inputs), settings.threshold, dup_radius=dup_radius)
    lock = _lock_or_exit(save_path, report)
    try:
        cache = None if no_cache else _open_cache(cache_path or default_cache_path(), settings)
        summary, head = _scan_into(report, cache, inputs, settings, jobs)
    finally:
        lock.release()

    if not quiet:
        for record in head:
            click.echo(f"{record.filepath}\t{_fmt_score(record.score)}\t{_fmt(record.blurry)}\t{record.error}")
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
        sys.exit(exitcodes.FLAGGED)


def _scan_into(report, cache, inputs, settings, jobs) -> tuple[Summary, list[Record]]:
    """Discover, analyse (or reuse) and write every row; the report appears only when complete.
    Whatever stops the run, results analysed so far stay in the cache for the next run."""
    found = discover(list(inputs))
    if not found.paths and not found.unlistable:
        click.echo(f"No image files found in {', '.join(inputs)}; the report is empty.", err=True)
    summary, head = Summary(), []
    finished = False
    try:
        with _terminate_as_interrupt(), progress(len(found.paths)) as bar:
            for outcome in run_incremental(found.paths, settings, jobs, cache, found.remote_entries):
                _add(outcome.record, report, summary, head, outcome.reused)
                bar.update()
            for folder, reason in found.unlistable:
                _add(Record(folder, error=reason), report, summary, head)
            report.close(blurry_counts=summary.blurry)
            summary.duplicates = report.duplicates.images
            finished = True
    except KeyboardInterrupt:
        click.echo(f"Interrupted: no report written; {summary.analysed} result(s) are kept in the cache "
                   "for the next run." if cache else "Interrupted: no report written.", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    finally:
        if not finished:
            report.discard()
        if cache:
            cache.close(finished=finished)
    return summary, head


def _add(record, report, summary, head, reused=False):
    report.write(record)
    summary.add(record, reused)
    if len(head) < 5:
        head.append(record)
    _log_record(record)


def _log_record(record: Record) -> None:
    if record.error:
        log.warning("%s: %s", record.filepath, record.error)
    else:
        log.info("%s score=%.2f blurry=%s", record.filepath, record.score, record.blurry)


def _setup_logging_or_fail(verbose: bool, log_file: str | None) -> None:
    try:
        setup_logging(verbose, log_file)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {log_file!r}: {exc.strerror or exc}", param_hint="--log-file")


def _fail_on_option(value: str) -> tuple[str, ...]:
    try:
        return parse_fail_on(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on")


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


def _open_cache(path: str, settings: Settings) -> ResultCache | None:
    """The result cache, or None with a warning: a broken cache costs speed, never the nightly run."""
    try:
        return ResultCache(path, settings)
    except CacheError as exc:
        log.warning("%s. Analysing every file this time.", exc)
        return None


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (cron's timeout, a shutdown) stops the run like Ctrl-C: pending results are
    committed to the cache and the partial report removed. Only in this process: pool workers
    inherit the handler, and there they keep the default (die at once)."""
    main_pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary_line(summary: Summary, save_path: str, seconds: float) -> str:
    """The run in one line, for cron mail and logs."""
    return (f"imgval: {summary.count} images, {summary.blurry} blurry, {summary.exif_failed} failing EXIF, "
            f"{summary.duplicates} duplicates, {summary.errors} errors; {summary.analysed} analysed, "
            f"{summary.reused} reused; report {save_path} ({seconds:.1f} s)")


def _fmt_score(score) -> str:
    return "" if score is None else f"{score:.2f}"


def _fmt(value) -> str:
    return "" if value is None else str(value)


BLUR_COLUMNS = ("input_path", "score", "blurry", "error")


def blur_values(record: Record) -> dict:
    return {"input_path": record.filepath, "score": record.score, "blurry": record.blurry, "error": record.error}


def display_problem() -> str | None:
    """Why windows cannot be opened here, or None when a display looks available."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("--display-image needs a graphical display and none was found (DISPLAY is not set). "
                "Use --blur-map-dir DIR to save the blur maps as PNG files instead.")
    return None


@click.command("process_blur.py", cls=MultiValueCommand, context_settings=HELP)
@images_option
@click.option("-s", "--save-path", type=click.Path(dir_okay=False), default=None,
              help="Write the results to this file.  [default: print them to stdout]")
@click.option("-o", "--output-format", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Results format.")
@threshold_option
@mode_options("exact")
@click.option("-f", "--variable-size", is_flag=True,
              help="Score images at their own size (skip the ~2 MP normalisation; scores then depend on size).")
@click.option("-l", "--logger", "log_file", type=click.Path(dir_okay=False), default=None,
              help="Also write a full log to this file.")
@verbose_option
@click.option("-d", "--display-image", is_flag=True,
              help="Show each image and its blur map in windows; press q to stop, any other key for the next.")
@click.option("--blur-map-dir", type=click.Path(file_okay=False), default=None,
              help="Save each image's blur map as a PNG in this folder.")
@max_pixels_option
def process_blur(inputs, save_path, output_format, threshold, mode, variable_size, log_file, verbose, display_image,
                 blur_map_dir, max_pixels):
    """Score images for blur one at a time, with more control than process.py (slower).

    Rows are input_path, score, blurry (and error), sorted by path.
    """
    setup_logging(verbose, log_file)
    check_inputs(inputs)
    if display_image and display_problem():
        raise click.UsageError(display_problem())
    if blur_map_dir:
        try:
            os.makedirs(blur_map_dir, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot create {blur_map_dir!r}: {exc.strerror}", param_hint="--blur-map-dir")
    fix_size = not variable_size
    if not fix_size:
        log.warning("not normalising image size: scores are not comparable across image sizes")
    settings = Settings(threshold=threshold, mode=mode, fix_size=fix_size, max_pixels=max_pixels, keep_pixels=True)
    report = open_report_or_fail(save_path, output_format, list(inputs), settings.threshold, fix_size,
                                 BLUR_COLUMNS, blur_values)

    found = discover(list(inputs))
    paths = sorted(found.paths)
    if not paths and not found.unlistable:
        click.echo(f"No image files found in {', '.join(inputs)}; the results are empty.", err=True)
    summary = Summary()
    try:
        for path in paths:
            record = analyze_path(path, settings)
            _log_record(record)
            report.write(record)
            summary.add(record)
            if record.pixels is not None and blur_map_dir:
                save_blur_map(record, blur_map_dir)
            if record.pixels is not None and display_image and not show(record):
                log.info("stopped by the user after %d of %d images", summary.count, len(paths))
                break
        for folder, reason in found.unlistable:
            record = Record(folder, error=reason)
            report.write(record)
            summary.add(record)
    except KeyboardInterrupt:
        report.discard()
        click.echo("Interrupted: no results written.", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    report.close(blurry_counts=summary.blurry)
    log.info("%d images, %d blurry, %d errors", summary.count, summary.blurry, summary.errors)


def save_blur_map(record: Record, folder: str) -> None:
    """Write the record's blur map as FOLDER/<path with separators as __>.blurmap.png."""
    name = record.filepath.strip(os.sep).replace(os.sep, "__").replace(":", "_") + ".blurmap.png"
    target = os.path.join(folder, name)
    if not cv2.imwrite(target, pretty_blur_map(record.pixels.blur_map)):
        log.warning("could not write the blur map %s", target)


def show(record: Record) -> bool:
    """Show the image and its blur map; False when the user pressed q (or windows failed)."""
    try:
        cv2.imshow("input", record.pixels.image)
        cv2.imshow("result", pretty_blur_map(record.pixels.blur_map))
        key = cv2.waitKey(0)
    except cv2.error as exc:
        log.error("cannot open a window (%s); use --blur-map-dir to save blur maps instead", exc.err)
        return False
    return key != ord("q")


@click.group(context_settings=HELP)
@click.version_option(__version__, prog_name="imgval")
def main():
    """imgval: validate batches of image files (integrity, blur, duplicates, EXIF)."""


main.add_command(scan)
from .cli_sync import sync_command  # noqa: E402  (sync owns its module)
main.add_command(sync_command)
from .cli_check import check_command  # noqa: E402  (compares like sync, copies nothing)
main.add_command(check_command)
from .cli_run import run_command  # noqa: E402  (the cron workflow owns its module)
main.add_command(run_command)
main.add_command(dupes_command)  # both work from a finished report: cli_report.py
main.add_command(report_command)


def process_main() -> None:
    """`python process.py ...`: the scan, under the original script's name."""
    scan.main(prog_name="process.py")


def process_blur_main() -> None:
    """`python process_blur.py ...`: the single-process blur run."""
    process_blur.main(prog_name="process_blur.py")



if __name__ == "__main__":
    main()
