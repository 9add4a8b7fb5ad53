"""The legacy `process_blur.py`: score images one at a time in this process, with blur maps
saved to a folder or shown in windows."""
from __future__ import annotations

import functools
import logging
import os
import sys

from typing import TYPE_CHECKING

import click

from imgval.cli import exitcodes
from imgval.cli.display import display_problem
from imgval.cli.options import (
    HELP, MultiValueCommand, blur_verdict_option, check_inputs, discover_or_fail, file_path, images_option, include_ext_option,
    log_record, max_memory_option, max_pixels_option, mode_options, open_report_or_fail, outputs_or_fail,
    setup_logging, sharpness_threshold_option, threshold_option, verbose_option,
)
from imgval.escaped_names import shown
from imgval.image_names import with_extensions

if TYPE_CHECKING:
    from imgval.analysis.analyze import Record, Settings

# OpenCV and the analysis are imported when the command runs: `--help` must not load them.

log = logging.getLogger("imgval")


BLUR_COLUMNS = ("input_path", "score", "blurry", "error")  # the original's, with the classic verdict
SHARPNESS_COLUMNS = ("input_path", "score", "blurry", "sharpness", "blur_status", "blurry_classic", "error")


def blur_values(record: Record, columns=BLUR_COLUMNS) -> dict:
    values = {"input_path": shown(record.filepath), "score": record.score, "blurry": record.blurry,
              "sharpness": record.sharpness, "blur_status": record.blur_status,
              "blurry_classic": record.blurry_classic, "error": record.error}
    return {column: values[column] for column in columns}


@click.command("process_blur.py", cls=MultiValueCommand, context_settings=HELP)
@images_option
@click.option("-s", "--save-path", type=file_path(), default=None,
              help="Write the results to this file.  [default: print them to stdout]")
@click.option("-o", "--output-format", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Results format.")
@threshold_option
@blur_verdict_option("classic")
@sharpness_threshold_option
@mode_options("exact")
@click.option("-f", "--variable-size", is_flag=True,
              help="Score images at their own size (skip the ~2 MP normalisation; scores then depend on size).")
@click.option("-l", "--logger", "log_file", type=file_path(), default=None,
              help="Also write a full log to this file.")
@verbose_option
@click.option("-d", "--display-image", is_flag=True,
              help="Show each image and its blur map in windows; press q to stop, any other key for the next.")
@click.option("--blur-map-dir", type=click.Path(file_okay=False), default=None,
              help="Save each image's blur map as a PNG in this folder (the Laplacian map; with "
                   "--blur-verdict sharpness, the image tinted green where sharp, orange where blurred).")
@max_pixels_option
@max_memory_option
@include_ext_option
def process_blur(inputs, save_path, output_format, threshold, blur_verdict, sharpness_threshold, mode, variable_size,
                 log_file, verbose, display_image, blur_map_dir, max_pixels, max_memory, include_ext):
    """Score images for blur one at a time, with more control than process.py (slower).

    Rows are input_path, score, blurry (and error), sorted by path; with --blur-verdict sharpness
    also sharpness, blur_status and blurry_classic.
    """
    from imgval.analysis.analyze import Record, Settings, analyze_path, hash_beside_when
    from imgval.analysis.quiet import stderr_silenced
    from imgval.batch.workers import usable_cores
    from imgval.report.summary import Summary
    from imgval.report.writers import ReportWriteError

    check_inputs(inputs)
    targets = outputs_or_fail({"-s/--save-path": save_path, "-l/--logger": log_file}, inputs)
    setup_logging(verbose, log_file)
    problem = display_problem() if display_image else None
    if problem:
        raise click.UsageError(problem)
    if blur_map_dir:
        try:
            os.makedirs(blur_map_dir, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot create {blur_map_dir!r}: {exc.strerror}", param_hint="--blur-map-dir")
    fix_size = not variable_size
    if not fix_size:
        log.warning("not normalising image size: scores are not comparable across image sizes")
    columns = BLUR_COLUMNS if blur_verdict == "classic" else SHARPNESS_COLUMNS
    settings = Settings(threshold=threshold, mode=mode, blur_verdict=blur_verdict,
                        sharpness_threshold=sharpness_threshold, fix_size=fix_size, max_pixels=max_pixels,
                        max_memory=max_memory * 1_000_000, keep_pixels=True)
    found = discover_or_fail(inputs, with_extensions(include_ext))
    report = open_report_or_fail(targets.get("-s/--save-path"), output_format, list(inputs), settings.threshold,
                                 fix_size, columns, functools.partial(blur_values, columns=columns))
    paths = sorted(found.paths)
    summary = Summary()
    more_cores = usable_cores() > 1
    hash_beside_when(lambda: more_cores)  # one file at a time: the other cores are free
    try:
        for path in paths:
            with stderr_silenced():  # the decoders' libraries' chatter (analysis/quiet.py)
                record = analyze_path(path, settings)
            log_record(record)
            report.write(record)
            summary.add(record)
            if record.pixels is not None and blur_map_dir:
                save_blur_map(record, settings, blur_map_dir)
            if record.pixels is not None and display_image and not show(record, settings):
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


def blur_map_name(filepath: str) -> str:
    """<path with separators as __>.blurmap.png, never a hidden name: `..` becomes `up`, `.` is
    dropped (so ../data/a.jpg -> up__data__a.jpg.blurmap.png)."""
    parts = [{"..": "up"}.get(p, p) for p in filepath.replace(os.sep, "/").split("/") if p not in ("", ".")]
    return "__".join(parts).replace(":", "_").lstrip(".") + ".blurmap.png"


def save_blur_map(record: Record, settings: Settings, folder: str) -> None:
    """Write the record's blur map (for the active verdict) as FOLDER/blur_map_name(path)."""
    import cv2

    name = blur_map_name(shown(record.filepath))  # a non-UTF-8 name as its escaped text
    target = os.path.join(folder, name)
    if not cv2.imwrite(target, _blur_map_bgr(record, settings)):
        log.warning("could not write the blur map %s", target)


def show(record: Record, settings: Settings) -> bool:
    """Show the image and its blur map; False when the user pressed q (or windows failed)."""
    import cv2

    try:
        cv2.imshow("input", record.pixels.image)
        cv2.imshow("result", _blur_map_bgr(record, settings))
        key = cv2.waitKey(0)
    except cv2.error as exc:
        log.error("cannot open a window (%s); use --blur-map-dir to save blur maps instead", exc.err)
        return False
    return key != ord("q")


def _blur_map_bgr(record: Record, settings: Settings):
    """The blur map picture in OpenCV's channel order (a colour overlay is RGB)."""
    import cv2

    from imgval.report.thumbnails import blur_map_picture

    picture = blur_map_picture(record.pixels, settings)
    return cv2.cvtColor(picture, cv2.COLOR_RGB2BGR) if picture.ndim == 3 else picture
