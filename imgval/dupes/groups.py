"""The report's finishing pass: the dup_group column needs every image's hashes, but rows are
written as they arrive.

Rows are spooled, as JSON lines, to an anonymous temporary file beside the report; only the
hashes stay in memory (8 bytes of pHash, 32 of SHA-256, and 12 per oriented or rotated pHash
with its row: ~90 MB for a million photos, ~40 MB for a million files that are not images).
When the run ends, the groups are computed once and every row is written to the real report
in one pass, with its group.
"""
from __future__ import annotations

import json
import os
import tempfile
from array import array
from dataclasses import dataclass

import numpy as np

from imgval.dupes import index as dupes


@dataclass(frozen=True)
class GroupCounts:
    """What the finishing pass found: for summaries and --fail-on."""

    groups: int = 0  # duplicate groups (two or more images each)
    images: int = 0  # images that belong to one


def shown_group(group_id: int) -> int | None:
    """The group number a person sees: 1, 2, ... (largest first), None (empty) for no group."""
    return None if group_id == dupes.NO_GROUP else int(group_id) + 1


class GroupingWriter:
    """Wraps a report writer (CsvWriter, JsonWriter): holds rows back until every hash is
    known, then writes them all with their `dup_group`."""

    def __init__(self, inner, radius: int, folder: str | None = None):
        dupes._check_radius(radius)
        self.inner, self.radius = inner, radius
        self.values = inner.values
        # Unnamed where the OS allows: it disappears with the process, whatever stops the run.
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=folder, prefix=".imgval-rows-")
        self.phashes = array("Q")
        self.has_phash = bytearray()
        self.digests = bytearray()  # 32 bytes per row, all zero when unknown
        self.oriented, self.oriented_rows = array("Q"), _rows()  # flat: hash, its row
        self.rotated, self.rotated_rows = array("Q"), _rows()
        self.counts = GroupCounts()

    def write(self, record) -> None:
        values = self.values(record)
        self.spool.write(json.dumps(values) + "\n")
        self.phashes.append(int(values["hash"], 16) if values.get("hash") else 0)
        self.has_phash.append(bool(values.get("hash")))
        digest = values.get("sha256")
        self.digests += bytes.fromhex(digest) if digest else bytes(32)
        for oriented in (values.get("hash_oriented") or "").split():
            self.oriented.append(int(oriented, 16))
            self.oriented_rows.append(len(self.has_phash) - 1)
        for rotated in (values.get("hash_rotated") or "").split():
            self.rotated.append(int(rotated, 16))
            self.rotated_rows.append(len(self.has_phash) - 1)

    def finish(self, blurry_counts: int) -> None:
        ids = self.group_ids()
        self.counts = GroupCounts(int(ids.max()) + 1 if len(ids) else 0, int((ids != dupes.NO_GROUP).sum()))
        self.spool.seek(0)
        for line, group_id in zip(self.spool, ids):
            values = json.loads(line)
            values["dup_group"] = shown_group(group_id)
            self.inner.write_values(values)
        self.spool.close()
        self.inner.finish(blurry_counts)

    def group_ids(self) -> np.ndarray:
        phashes = np.frombuffer(self.phashes, np.uint64) if len(self.phashes) else np.zeros(0, np.uint64)
        present = np.frombuffer(self.has_phash, bool) if self.has_phash else np.zeros(0, bool)
        hashes = dupes.KnownHashes(phashes, present)
        digests = np.frombuffer(self.digests, "S32") if self.digests else np.zeros(0, "S32")  # all-zero: b""
        return dupes.duplicate_groups(hashes, digests, self.radius, _flat(self.oriented, self.oriented_rows),
                                      _flat(self.rotated, self.rotated_rows))

    def discard(self) -> None:
        try:
            self.spool.close()
        except OSError:  # its buffer cannot be flushed on a full disk; the file is unnamed anyway
            pass


def _rows() -> array:
    """Row numbers in 4 bytes each (a report of over 4 billion rows is not written in one run)."""
    rows = array("I")
    return rows if rows.itemsize == 4 else array("L")


def _flat(hashes: array, rows: array) -> dupes.Oriented:
    return dupes.Oriented(np.frombuffer(hashes, np.uint64) if hashes else np.zeros(0, np.uint64),
                          np.frombuffer(rows, f"u{rows.itemsize}").astype(np.int64) if rows else np.zeros(0, np.int64))


def folder_of(path: str | None) -> str | None:
    return os.path.dirname(os.path.abspath(path)) if path else None
