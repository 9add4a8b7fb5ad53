"""`imgval report results.csv --html report.html`: the HTML page of a finished report (also
what `scan --html` runs)."""
from __future__ import annotations

import logging
import os

import click

from imgval.cli.options import HELP, file_path, load_or_fail, radius_option, results_argument, threshold_value
from imgval.cli.outputs import OutputError, check_outputs, target
from imgval.defaults import default_jobs

# The report modules (NumPy, Pillow, OpenCV) are imported inside the commands: `imgval --help`
# must not load them.

log = logging.getLogger("imgval")


def check_html_path(path: str, results_path: str) -> None:
    """Fail before any work when the page could not be written there (outputs.py)."""
    try:
        check_outputs({"--html": path}, [results_path])
    except OutputError as exc:
        raise click.BadParameter(str(exc).partition(": ")[2], param_hint="--html")
    if not os.access(os.path.dirname(target(path)), os.W_OK):
        raise click.BadParameter(f"cannot write {path!r}: its folder is not writable", param_hint="--html")


@click.command("report", context_settings=HELP)
@results_argument
@click.option("--html", "html_path", type=file_path(), required=True,
              help="Write a self-contained HTML page (opens offline) to this file.")
@click.option("-t", "--threshold", type=float, default=None, callback=threshold_value,
              help="Threshold to mark on the histogram, on the scale of the report's verdict (sharpness, or the "
                   "blur score with --blur-verdict classic).  [default: the report's own: recorded in its meta "
                   "(JSON) or results.meta.json (CSV), else inferred from the rows]")
@radius_option
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=default_jobs(), show_default="all cores",
              help="Images read in parallel for thumbnails.")
def report_command(results_path, html_path, threshold, dup_radius, jobs):
    """Turn a scan's report into an HTML page a person can look through: counts, a histogram of
    blur scores, blurry images with their blur maps, duplicate groups side by side, EXIF
    failures and errors.

    Images are read again only for the thumbnails shown; each section shows its first images
    and says how many more RESULTS has.
    """
    import dataclasses

    from imgval.report.html import write_html_report
    from imgval.report.reader import verdict_of

    check_html_path(html_path, results_path)
    results = load_or_fail(results_path)
    verdict = verdict_of(results)
    if threshold is not None:
        verdict = dataclasses.replace(verdict, threshold=threshold, inferred=False)
    sections = write_html_report(results, html_path, verdict, source=results_path, radius=dup_radius, jobs=jobs)
    click.echo(f"Wrote {html_path}: {len(sections.rows)} images, {sections.blurry_total} blurry, "
               f"{sections.unjudged_total} too small or blank, "
               f"{sections.groups_total} duplicate groups, {sections.exif_total} failing EXIF, "
               f"{sections.errors_total} errors.")


def html_after_scan(results_path: str, html_path: str, settings, jobs: int) -> None:
    """`scan --html`: the page from the report just written (its groups, the run's verdict,
    thresholds and scoring mode; settings: analyze.Settings). A failure here costs the page, not
    the scan's report."""
    import dataclasses

    from imgval.report.html import write_html_report
    from imgval.report.reader import BlurVerdict, load_results

    threshold = settings.sharpness_threshold if settings.blur_verdict == "sharpness" else settings.threshold
    try:
        results = load_results(results_path)
        write_html_report(results, html_path, BlurVerdict(settings.blur_verdict, threshold), source=results_path,
                          jobs=jobs, settings=dataclasses.replace(settings, keep_pixels=True))
    except Exception as exc:  # noqa: BLE001 - the page is extra: the report and exit code stand
        log.error("could not write the HTML report %s: %s", html_path, exc)
