"""`imgval dupes results.csv`: the duplicate groups of a finished report, largest first."""
from __future__ import annotations

import click

from imgval.cli.options import HELP, load_or_fail, radius_option, results_argument
from imgval.escaped_names import printable
from imgval.report.dupe_listing import list_groups


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
