"""The legacy `process_blur.py`: score images one at a time in this process, with blur maps
saved to a folder or shown in windows."""
from __future__ import annotations

import logging
import os
import sys

import click
import cv2

from imgval.analysis.analyze import Record, Settings, analyze_path
from imgval.analysis.blur import pretty_blur_map
from imgval.batch.discover import discover
from imgval.cli import exitcodes
from imgval.cli.options import (
    HELP, MultiValueCommand, check_inputs, images_option, log_record, max_memory_option, max_pixels_option,
    mode_options, open_report_or_fail, outputs_or_fail, setup_logging, threshold_option, verbose_option,
)
from imgval.escaped_names import shown
from imgval.report.summary import Summary
from imgval.report.writers import ReportWriteError

log = logging.getLogger("imgval")


BLUR_COLUMNS = ("input_path", "score", "blurry", "error")


def blur_values(record: Record) -> dict:
    return {"input_path": shown(record.filepath), "score": record.score, "blurry": record.blurry,
            "error": record.error}


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
@max_memory_option
def process_blur(inputs, save_path, output_format, threshold, mode, variable_size, log_file, verbose, display_image,
                 blur_map_dir, max_pixels, max_memory):
    """Score images for blur one at a time, with more control than process.py (slower).

    Rows are input_path, score, blurry (and error), sorted by path.
    """
    check_inputs(inputs)
    targets = outputs_or_fail({"-s/--save-path": save_path, "-l/--logger": log_file}, inputs)
    setup_logging(verbose, log_file)
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
    settings = Settings(threshold=threshold, mode=mode, fix_size=fix_size, max_pixels=max_pixels,
                        max_memory=max_memory * 1_000_000, keep_pixels=True)
    report = open_report_or_fail(targets.get("-s/--save-path"), output_format, list(inputs), settings.threshold,
                                 fix_size, BLUR_COLUMNS, blur_values)

    found = discover(list(inputs))
    paths = sorted(found.paths)
    if not paths and not found.unlistable:
        click.echo(f"No image files found in {', '.join(inputs)}; the results are empty.", err=True)
    summary = Summary()
    try:
        for path in paths:
            record = analyze_path(path, settings)
            log_record(record)
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
        report.close(blurry_counts=summary.blurry)
    except KeyboardInterrupt:
        report.discard()
        click.echo("Interrupted: no results written.", err=True)
        sys.exit(exitcodes.INTERRUPTED)
    except ReportWriteError as exc:
        report.discard()
        click.echo(f"cannot write the results {shown(save_path or 'to stdout')}: {exc}. No results written.",
                   err=True)
        sys.exit(exitcodes.FAILED)
    log.info("%d images, %d blurry, %d errors", summary.count, summary.blurry, summary.errors)


def save_blur_map(record: Record, folder: str) -> None:
    """Write the record's blur map as FOLDER/<path with separators as __>.blurmap.png."""
    name = shown(record.filepath).strip(os.sep).replace(os.sep, "__").replace(":", "_") + ".blurmap.png"
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
