"""`imgval bag DIR`: make DIR a BagIt 1.0 bag from a scan's checksums, without reading the
files the scan already read."""
from __future__ import annotations

import logging
import os

import click

from imgval.analysis.analyze import CHECKSUMS
from imgval.batch import bags
from imgval.cli.dupes import printable
from imgval.cli.options import HELP, load_or_fail
from imgval.report.reader import Results

log = logging.getLogger("imgval")


def known_digests(results: Results, report_path: str, algorithms: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Real path -> checksums, for the report's rows that have every algorithm asked for.
    Relative paths are as the scan saw them: from the current folder, else the report's."""
    report_folder = os.path.dirname(os.path.abspath(report_path))
    known = {}
    for row in results.rows:
        digests = {"sha256": row.sha256, "md5": row.md5}
        if not all(digests.get(a) for a in algorithms):
            continue
        for base in (os.getcwd(), report_folder):
            candidate = os.path.join(base, row.filepath)
            if os.path.exists(candidate):
                known[os.path.realpath(candidate)] = {a: digests[a] for a in algorithms}
                break
    return known


def bag_digests(folder: str, known: dict[str, dict[str, str]], written_at: float,
                algorithms: tuple[str, ...]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Checksums of every file under `folder`, keyed by its future payload path (data/...):
    from the report when the file has not changed since it was written, else read now.
    Returns them and the files that had to be read."""
    digests, read = {}, []
    for current, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            full = os.path.join(current, name)
            relative = "data/" + os.path.relpath(full, folder).replace(os.sep, "/")
            found = known.get(os.path.realpath(full))
            if found is None or os.stat(full).st_mtime > written_at:
                found = bags.file_digests(full, algorithms)
                read.append(relative)
            digests[relative] = found
    return digests, read


@click.command("bag", context_settings=HELP)
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("-r", "--results", "results_path", type=click.Path(dir_okay=False), default="results.csv",
              show_default=True, help="The report of a scan of FOLDER (results.csv or .json) whose checksums "
                                      "go into the manifests.")
@click.option("--hash", "hash_list", default="sha256", show_default=True, metavar="KINDS",
              help="Manifests to write (comma-separated): sha256, md5. The report needs the column "
                   "(scan with --hash sha256,md5 for md5), else those files are read.")
@click.option("--info", multiple=True, metavar="LABEL:VALUE",
              help="A bag-info.txt line, e.g. --info 'Source-Organization: City Archives' (repeatable).  "
                   "[default: none; Bag-Software-Agent, Bagging-Date and Payload-Oxum are always written]")
def bag_command(folder, results_path, hash_list, info):
    """Make FOLDER a BagIt 1.0 bag, in place (as bagit-python does: its contents move into
    FOLDER/data/), with manifests from the scan's checksums in RESULTS.

    Only files the report does not cover, or that changed after it was written, are read.
    """
    algorithms = tuple(dict.fromkeys(a.strip().lower() for a in hash_list.split(",") if a.strip()))
    unknown = [a for a in algorithms if a not in CHECKSUMS]
    if unknown or not algorithms:
        raise click.BadParameter(f"choose from {', '.join(CHECKSUMS)}, not {', '.join(unknown) or 'nothing'}",
                                 param_hint="--hash")
    tags = {}
    for line in info:
        label, _, value = line.partition(":")
        if not label.strip() or not value.strip() or label.strip() == "Payload-Oxum":
            raise click.BadParameter(f"{line!r}: give LABEL: VALUE (Payload-Oxum is computed)", param_hint="--info")
        tags[label.strip()] = value.strip()
    if bags.is_bag(folder):
        raise click.BadParameter(f"{folder!r} is already a bag; check it with: imgval scan -i {folder}",
                                 param_hint="FOLDER")
    results = load_or_fail(results_path)
    written_at = os.stat(results_path).st_mtime
    digests, read = bag_digests(folder, known_digests(results, results_path, algorithms), written_at, algorithms)
    for relative in read:
        log.info("read %s: not in the report, or changed since it was written", relative)
    try:
        oxum = bags.write_bag(folder, digests, algorithms, tags)
    except OSError as exc:
        raise click.ClickException(f"cannot make {folder!r} a bag: {exc.strerror or exc}")
    click.echo(f"{printable(folder)}: BagIt 1.0 bag, {len(digests)} files, Payload-Oxum {oxum}; "
               f"{len(digests) - len(read)} checksums from {printable(results_path)}, {len(read)} files read")
