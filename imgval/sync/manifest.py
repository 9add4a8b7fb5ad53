"""The sync manifest: one CSV row per file and destination, saying what was done with it."""
from __future__ import annotations

import csv
import os

from imgval.report.atomicfile import AtomicFile
from imgval.report.spreadsheet import neutralise
from imgval.sync.syncer import SyncResult

MANIFEST_COLUMNS = ("path", "size", "source_hash", "destination", "action", "error")


def write_manifest(result: SyncResult, path: str) -> None:
    """The manifest CSV, written atomically (a reader never sees half of it)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    manifest = AtomicFile(path)
    try:
        writer = csv.writer(manifest.handle)
        writer.writerow(MANIFEST_COLUMNS)
        for o in result.outcomes:
            writer.writerow([neutralise(o.path), o.size, o.source_hash, neutralise(o.destination), o.action,
                             neutralise(o.error)])
        manifest.commit()
    except BaseException:
        manifest.discard()
        raise
