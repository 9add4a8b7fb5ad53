"""The sync manifest: one CSV row per file and destination, saying what was done with it, kept
for every run (rows are added, never replaced)."""
from __future__ import annotations

import csv
import io
import os

from imgval.report.atomicfile import AtomicFile
from imgval.report.spreadsheet import neutralise
from imgval.sync.syncer import SyncResult

MANIFEST_COLUMNS = ("run_started", "path", "size", "source_hash", "sha256", "destination", "action", "error")


def write_manifest(result: SyncResult, path: str, run_started: str) -> None:
    """Add this run's rows to the manifest CSV, atomically (a reader never sees half of it).

    Every run's rows are kept, each with the run's start time; a manifest with other columns
    (an older imgval's) is kept beside it as ``NAME.before-RUN_STARTED.csv``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    earlier = _earlier_rows(path, run_started)
    manifest = AtomicFile(path)
    try:
        manifest.handle.write(earlier)
        writer = csv.writer(manifest.handle)
        if not earlier:
            writer.writerow(MANIFEST_COLUMNS)
        for o in result.outcomes:
            writer.writerow([run_started, neutralise(o.path), o.size, o.source_hash, o.sha256,
                             neutralise(o.destination), o.action, neutralise(o.error)])
        manifest.commit()
    except BaseException:
        manifest.discard()
        raise


def _earlier_rows(path: str, run_started: str) -> str:
    """The manifest's text so far (header included), or "" to start a new one."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        return ""
    header = next(csv.reader(io.StringIO(text)), None)
    if tuple(header or ()) == MANIFEST_COLUMNS:
        return text if text.endswith("\n") else text + "\r\n"
    if text:
        stem, ext = os.path.splitext(path)
        os.replace(path, f"{stem}.before-{run_started.replace(':', '')}{ext or '.csv'}")
    return ""
