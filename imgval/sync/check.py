"""Check: compare a source with a destination by content, copying nothing (rclone ``check``).

Each file gets one mark, as rclone's ``--combined`` report writes them:

    =  the same content at both
    *  at both, but the content differs
    -  only at the source (missing at the destination)
    +  only at the destination
    !  could not be compared (the reason is given)

Files are matched by name under the destination's rules (case and Unicode form are ignored
on Box and Dropbox) and compared by hash exactly as sync decides what to skip.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses

from imgval.storage import Cancelled, Entry, Storage, StorageError, name_key, unexpected
from imgval.sync.selection import Selection
from imgval.sync.syncer import Syncer, index_by_name, list_or_empty

SAME, DIFFERENT, MISSING_AT_DEST, MISSING_AT_SOURCE, ERROR = "=", "*", "-", "+", "!"


@dataclasses.dataclass
class Difference:
    mark: str
    path: str
    error: str = ""


def check(syncer: Syncer, files: list[Entry], dest: Storage, selection: Selection) -> list[Difference]:
    """One Difference per path at either side, sorted by path. Reads content only where no
    comparable hash is recorded (as sync does)."""
    syncer.cancelled.clear()
    listing = index_by_name((e for e in list_or_empty(dest) if selection(e.path)), dest.caseless)
    seen = {name_key(entry.path, dest.caseless) for entry in files}
    results = [Difference(MISSING_AT_SOURCE, e.path) for key, e in listing.items() if key not in seen]

    def compare(entry: Entry) -> Difference:
        existing = listing.get(name_key(entry.path, dest.caseless))
        if existing is None:
            return Difference(MISSING_AT_DEST, entry.path)
        try:
            same = syncer.same_content(entry, dict(entry.hashes), dest, existing)
        except Cancelled:
            raise
        except StorageError as exc:
            return Difference(ERROR, entry.path, str(exc))
        except Exception as exc:  # one file's trouble is its line, not the end of the check
            return Difference(ERROR, entry.path, unexpected(exc))
        return Difference(SAME if same else DIFFERENT, entry.path)

    with concurrent.futures.ThreadPoolExecutor(max_workers=syncer.jobs) as pool:
        try:
            results += list(pool.map(compare, files))
        except BaseException:
            syncer.cancelled.set()  # Ctrl-C: every wait and read stops
            raise
    return sorted(results, key=lambda d: (d.path, d.mark))
