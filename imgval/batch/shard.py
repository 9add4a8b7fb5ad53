"""Engine-free sharding: `--shard I/N` analyses a deterministic 1/N of the files.

A file belongs to shard I when the hash of its reference (the path or URL as the report names
it) falls in I's bucket: stable under re-listing (a file added or removed moves no other file),
and the same on every host that lists the same inputs, so a SLURM job array, GNU parallel or a
Kubernetes indexed Job can run shards with no engine and no coordination.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from imgval.batch.pathspool import PathSpool


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, reference: str) -> bool:
        digest = hashlib.blake2b(reference.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index - 1

    def select(self, references: Iterable[str]) -> tuple[list[int], PathSpool]:
        """This shard's references and their positions in the full listing (for the merge)."""
        positions, selected = [], PathSpool()
        for position, reference in enumerate(references):
            if self.holds(reference):
                positions.append(position)
                selected.append(reference)
        return positions, selected


def parse_shard(text: str) -> Shard:
    """'2/4' -> Shard(2, 4); raises ValueError saying what is wrong."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"{text!r}: write it as I/N, e.g. 1/4 for the first of four shards")
    shard = Shard(int(index), int(count))
    if shard.count < 1 or not 1 <= shard.index <= shard.count:
        raise ValueError(f"{text!r}: I must be between 1 and N (shards are numbered 1/{max(shard.count, 1)} "
                         f"to {max(shard.count, 1)}/{max(shard.count, 1)})")
    return shard
