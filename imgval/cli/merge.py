"""`imgval merge SHARD_REPORT...`: the reports of `imgval scan --shard I/N` as one report,
byte-identical to an unsharded run's (duplicates grouped across shards)."""
from __future__ import annotations

import click

from imgval.cli.options import HELP
from imgval.dupes.index import DEFAULT_RADIUS
from imgval.report.shards import MergeError, merge_reports


@click.command("merge", context_settings=HELP)
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False),
                metavar="SHARD_REPORT...")
@click.option("-s", "--save-path", type=click.Path(dir_okay=False), default=None,
              help="The merged report.  [default: results.csv, or results.json for JSON shards]")
@click.option("--dup-radius", type=click.IntRange(min=0, max=64), default=DEFAULT_RADIUS, show_default=True,
              help="As for imgval scan: the radius the merged dup_group column is computed with.")
def merge_command(reports, save_path, dup_radius):
    """Join the shard reports of one run (every shard 1/N ... N/N, each with the .shard.json
    its scan wrote beside it) into one report in the full listing's order, and group duplicates
    across all of them. Then `imgval report` makes its HTML page."""
    from imgval.report.shards import read_shard

    try:
        output_format = read_shard(reports[0]).output_format
        save_path = save_path or f"results.{output_format}"
        if any(click.format_filename(save_path) == click.format_filename(r) for r in reports):
            raise MergeError(f"-s {save_path} is one of the shard reports; give another file")
        merged = merge_reports(list(reports), save_path, dup_radius)
    except MergeError as exc:
        raise click.UsageError(str(exc))
    except OSError as exc:
        raise click.UsageError(f"cannot write {save_path}: {exc.strerror or exc}")
    click.echo(f"Merged {len(reports)} shard reports into {save_path}: {merged.duplicates.images} images "
               f"in {merged.duplicates.groups} duplicate groups.")
