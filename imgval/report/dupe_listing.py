"""The duplicate groups of a finished report, as `imgval dupes` and the HTML report show them:
largest first, members with their sizes, and the copy to keep."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from imgval.dupes import index as dupes
from imgval.escaped_names import on_disk
from imgval.report.reader import Results, Row
from imgval.storage import is_remote


@dataclass
class Member:
    row: Row
    file_bytes: int | None  # None when the file is gone or remote (not looked up)


@dataclass
class Group:
    number: int  # as in the dup_group column: 1 = the largest
    members: list[Member]
    best: int  # position in members of the copy to keep (dupes.best_copy)
    hidden: int = 0  # members left out of `members` (a display limit), none by default

    @property
    def best_member(self) -> Member:
        return self.members[self.best]


def group_numbers(results: Results, radius: int | None) -> np.ndarray:
    """dup_group per row (0 = none): the report's own column, or regrouped from its hash and
    sha256 columns (and hash_oriented and hash_rotated, when the report has them) when a radius is given (or the
    report predates the column)."""
    if radius is None and results.has_groups:
        return np.array([row.dup_group or 0 for row in results.rows], np.int64)
    ids = dupes.duplicate_groups([row.hash for row in results.rows], [row.sha256 for row in results.rows],
                                 dupes.DEFAULT_RADIUS if radius is None else radius,
                                 [row.hash_oriented for row in results.rows],
                                 [row.hash_rotated for row in results.rows])
    return ids + 1  # NO_GROUP (-1) becomes 0


def list_groups(results: Results, radius: int | None = None, limit: int | None = None,
                file_sizes: bool = True, numbers: np.ndarray | None = None) -> tuple[list[Group], int]:
    """The first `limit` groups (all when None), largest first, and how many groups there are.
    `numbers`: group_numbers(results, radius), when the caller has them already."""
    numbers = group_numbers(results, radius) if numbers is None else numbers
    members = dupes.group_members(np.where(numbers > 0, numbers - 1, dupes.NO_GROUP))
    total = len(members)
    groups = []
    for number, indices in enumerate(members[:limit] if limit is not None else members, start=1):
        rows = [results.rows[i] for i in indices]
        best = dupes.best_copy([r.pixels for r in rows], [r.score for r in rows])
        groups.append(Group(number, [Member(r, _size(results.locate(r.filepath)) if file_sizes else None) for r in rows], best))
    return groups, total


def _size(path: str) -> int | None:
    if is_remote(path):
        return None
    try:
        return os.stat(on_disk(path)).st_size
    except OSError:
        return None
