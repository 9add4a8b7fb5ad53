"""Commands that work from a finished report: `imgval dupes results.csv` and
`imgval report results.csv --html report.html` (also what `scan --html` runs)."""
from __future__ import annotations

import logging
import math
import os

import click

from .analyze import Settings
from .dupe_listing import list_groups
from .html_report import write_html_report
from .outputs import OutputError, check_outputs, target
from .results import Results, ResultsError, load_results, threshold_of
from .runner import default_jobs

log = logging.getLogger("imgval")
HELP = {"help_option_names": ["-h", "--help"]}

results_argument = click.argument("results_path", metavar="RESULTS", type=click.Path(dir_okay=False),
                                  default="results.csv")
radius_option = click.option(
    "--dup-radius", type=click.IntRange(min=0, max=64), default=None,
    help="Regroup from the report's hash and sha256 columns with this radius (bits of 64).  "
         "[default: the report's dup_group column, as the scan grouped it]")


def printable(path: str) -> str:
    """A file name as safe terminal text: control characters (newlines, escape sequences that
    would move the cursor or recolour the terminal) shown as Python escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in path)


def threshold_value(ctx, param, value: float | None) -> float | None:
    """-t/--threshold: a finite number >= 0 (inf, 1e400 and nan would flag everything or nothing,
    and cannot be drawn on the histogram)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise click.BadParameter(f"{value:g} is not a blur threshold; give a finite number >= 0, e.g. 100")
    return value


def load_or_fail(path: str) -> Results:
    try:
        return load_results(path)
    except ResultsError as exc:
        raise click.BadParameter(str(exc), param_hint="RESULTS")


def check_html_path(path: str, results_path: str) -> None:
    """Fail before any work when the page could not be written there (outputs.py)."""
    try:
        check_outputs({"--html": path}, [results_path])
    except OutputError as exc:
        raise click.BadParameter(str(exc).partition(": ")[2], param_hint="--html")
    if not os.access(os.path.dirname(target(path)), os.W_OK):
        raise click.BadParameter(f"cannot write {path!r}: its folder is not writable", param_hint="--html")


@click.command("dupes", context_settings=HELP)
@results_argument
@radius_option
@click.option("-n", "--max-groups", type=click.IntRange(min=1), default=None,
              help="List only the largest N groups.  [default: all]")
def dupes_command(results_path, dup_radius, max_groups):
    """List the duplicate groups of a scan's report, largest first.

    Each group shows its files with their size in pixels and bytes (when the file is still
    there); `*` marks the copy that looks best: the most pixels, then the sharpest.
    RESULTS is a results.csv or results.json written by `imgval scan`.
    """
    results = load_or_fail(results_path)
    groups, total = list_groups(results, dup_radius, max_groups)
    if not total:
        click.echo(f"No duplicate groups among {len(results.rows)} images.")
        return
    for group in groups:
        click.echo(f"Group {group.number}: {len(group.members)} files")
        for i, member in enumerate(group.members):
            row = member.row
            size = f"{row.width}x{row.height}" if row.width and row.height else "?x?"
            size += f"  {member.file_bytes} bytes" if member.file_bytes is not None else ""
            score = f"  score {row.score:.2f}" if row.score is not None else ""
            note = "  (best copy)" if i == group.best else ""
            error = f"  error: {row.error}" if row.error else ""
            click.echo(f"  {'*' if i == group.best else ' '} {printable(row.filepath)}  {size}{score}{note}{error}")
    images = sum(len(g.members) for g in groups)
    shown = f"the largest {len(groups)} of " if len(groups) < total else ""
    click.echo(f"--- {shown}{total} duplicate groups ({images} files listed) ---")


@click.command("report", context_settings=HELP)
@results_argument
@click.option("--html", "html_path", type=click.Path(dir_okay=False), required=True,
              help="Write a self-contained HTML page (opens offline) to this file.")
@click.option("-t", "--threshold", type=float, default=None, callback=threshold_value,
              help="Blur threshold to mark on the histogram.  [default: the report's own: stored in JSON, "
                   "inferred from the blurry column of a CSV]")
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
    check_html_path(html_path, results_path)
    results = load_or_fail(results_path)
    sections = write_html_report(results, html_path, threshold if threshold is not None else threshold_of(results),
                                 source=results_path, radius=dup_radius, jobs=jobs)
    click.echo(f"Wrote {html_path}: {len(sections.rows)} images, {sections.blurry_total} blurry, "
               f"{sections.groups_total} duplicate groups, {sections.exif_total} failing EXIF, "
               f"{sections.errors_total} errors.")


def html_after_scan(results_path: str, html_path: str, settings: Settings, jobs: int) -> None:
    """`scan --html`: the page from the report just written (its groups, the run's threshold
    and scoring mode). A failure here costs the page, not the scan's report."""
    try:
        results = load_results(results_path)
        write_html_report(results, html_path, settings.threshold, source=results_path, jobs=jobs,
                          settings=Settings(threshold=settings.threshold, mode=settings.mode,
                                            max_pixels=settings.max_pixels, keep_pixels=True))
    except Exception as exc:  # noqa: BLE001 - the page is extra: the report and exit code stand
        log.error("could not write the HTML report %s: %s", html_path, exc)
