"""Command line: `imgval scan` (= process.py), the legacy process_blur.py, and the group."""
from __future__ import annotations

import functools
import logging
import os
import sys
import time

import click
import cv2
from tqdm import tqdm

from . import __version__, exitcodes
from .analyze import DEFAULT_MAX_PIXELS, MODES, Record, Settings, analyze_path
from .blur import DEFAULT_THRESHOLD, FAST_DEFAULT_THRESHOLD, pretty_blur_map
from .discover import discover, missing_inputs
from .profile import ProfileError, default_profile, load_profile
from .report import Report, Summary
from .runner import default_jobs, run

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
    logging.basicConfig(
        level=logging.INFO if verbose or log_file else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    handlers[0].setLevel(logging.INFO if verbose else logging.WARNING)


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
@verbose_option
def scan(inputs, save_path, output_format, threshold, mode, jobs, profile_path, max_pixels, verbose):
    """Check every image under PATH: integrity, blur score, pHash and EXIF rules.

    Writes one row per file to results.csv in the current folder and prints a summary.
    """
    setup_logging(verbose)
    start = time.perf_counter()
    check_inputs(inputs)
    settings = Settings(threshold=threshold, mode=mode, max_pixels=max_pixels, profile=resolve_profile(profile_path))
    save_path = save_path or f"results.{output_format}"
    report = open_report_or_fail(save_path, output_format, list(inputs), settings.threshold)

    found = discover(list(inputs))
    if not found.paths and not found.unlistable:
        click.echo(f"No image files found in {', '.join(inputs)}; the report is empty.", err=True)
    summary = Summary()
    head: list = []
    try:
        with progress(len(found.paths)) as bar:
            for record in run(found.paths, settings, jobs):
                _add(record, report, summary, head)
                bar.update()
        for folder, reason in found.unlistable:
            _add(Record(folder, error=reason), report, summary, head)
    except KeyboardInterrupt:
        report.discard()
        click.echo("Interrupted: no report written.", err=True)
        sys.exit(exitcodes.FAILED)
    report.close(blurry_counts=summary.blurry)

    for record in head:
        click.echo(f"{record.filepath}\t{_fmt_score(record.score)}\t{_fmt(record.blurry)}\t{record.error}")
    click.echo(f"--- Image count: {summary.count} ---")
    click.echo(f"--- Found {summary.blurry} blurry images ---")
    click.echo(f"--- Percent blurry: {summary.percent_blurry:.2f}% ---")
    click.echo(f"--- Total time taken: {time.perf_counter() - start:.2f} seconds ---")
    if summary.errors:
        click.echo(f"{summary.errors} file(s) could not be analysed: see the error column in {save_path}.", err=True)
    click.echo(f"Report written to {save_path}", err=True)


def _add(record, report, summary, head):
    report.write(record)
    summary.add(record)
    if len(head) < 5:
        head.append(record)
    _log_record(record)


def _log_record(record: Record) -> None:
    if record.error:
        log.warning("%s: %s", record.filepath, record.error)
    else:
        log.info("%s score=%.2f blurry=%s", record.filepath, record.score, record.blurry)


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
        sys.exit(exitcodes.FAILED)
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


def process_main() -> None:
    """`python process.py ...`: the scan, under the original script's name."""
    scan.main(prog_name="process.py")


def process_blur_main() -> None:
    """`python process_blur.py ...`: the single-process blur run."""
    process_blur.main(prog_name="process_blur.py")



if __name__ == "__main__":
    main()
from .cli_sync import sync_command  # noqa: E402  (sync owns its module)
main.add_command(sync_command)
