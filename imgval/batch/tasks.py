"""How many files one task of an engine holds: consecutive files grouped by their estimated work
(from their sizes), so a thumbnail is not a task of its own and a master is not the tail of a
task of thumbnails. Both engines size their tasks so (pool.py: a stream, a fixed size;
dask_engine.py: the whole list, guided)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from imgval.storage import is_remote

# A task's work is estimated from its files' sizes (a stat, no read): one core scores a small
# image (upscaled to ~2 MP) in ~12 ms and decodes ~64 MB/s of JPEG (a 20 MP photo: ~56 ms;
# uncompressed TIFF is faster per byte, so a master is overestimated, never under).
FILE_SECONDS = 0.012
BYTES_PER_SECOND = 64e6
# A file this small is a thumbnail (a JPEG of up to ~128x128), scored in closed form without the
# upscale (analysis/blur.py) in ~1-1.5 ms; estimated at twice that, so a task holds ~30 of them
# (4x fewer round trips than at FILE_SECONDS: measured ~40 ms less CPU in the parent and ~80 ms
# in the workers per 1,000) and two tasks per worker still fit in the pool's window.
SMALL_FILE_BYTES = 16 << 10
SMALL_FILE_SECONDS = 0.003
REMOTE_FILE_SECONDS = 0.25  # s3://, box:, dropbox: (size unknown here): a master fetched and decoded
# Guided sizing: each task takes 1/(SHARES_PER_THREAD * threads) of the work not yet handed
# out, within TASK_SECONDS: big tasks while much is left (few scheduler round trips, ~5-10 ms
# each), small ones at the end, so no worker idles long while the last task finishes.
SHARES_PER_THREAD = 2
# A task's estimated work: at least (its round trip stays under ~10%), at most (bounds the
# records a slow task holds back, and the work lost with a worker)
TASK_SECONDS = (0.1, 2.0)


def estimated_seconds(path: str) -> float:
    """One core's work on this file, roughly, from its size (the constants above)."""
    if is_remote(path):
        return REMOTE_FILE_SECONDS
    try:
        size = os.stat(path).st_size
    except (OSError, ValueError):
        return FILE_SECONDS  # missing or unreadable: an error row, quickly
    return SMALL_FILE_SECONDS if size < SMALL_FILE_BYTES else FILE_SECONDS + size / BYTES_PER_SECOND


def batches(paths: list[str], threads: int, files_per_task: int | None = None) -> list[list[str]]:
    """Consecutive files grouped into tasks by estimated work (see SHARES_PER_THREAD): larger
    first, shrinking towards the end; a file bigger than a task's share is a task of its own
    (not the end of a task of small files, which would then hold most of the batch)."""
    if files_per_task:
        return [paths[i:i + files_per_task] for i in range(0, len(paths), files_per_task)]
    costs = [estimated_seconds(path) for path in paths]
    left = sum(costs)
    low, high = TASK_SECONDS
    out: list[list[str]] = []
    i = 0
    while i < len(paths):
        share = min(high, max(low, left / (SHARES_PER_THREAD * max(1, threads))))
        start, work = i, 0.0
        while i < len(paths) and (i == start or work + costs[i] <= share):
            work += costs[i]
            i += 1
        out.append(paths[start:i])
        left -= work
    return out


def grouped(paths: Iterable[str], seconds: float = TASK_SECONDS[0]) -> Iterator[list[str]]:
    """Consecutive files, as they come, in tasks of up to `seconds` of estimated work; a file
    estimated at more is a task of its own. For a stream whose length is not known (no guided
    sizing): the smallest task worth its round trip, so no worker idles long at the end."""
    task: list[str] = []
    work = 0.0
    for path in paths:
        cost = estimated_seconds(path)
        if task and work + cost > seconds:
            yield task
            task, work = [], 0.0
        task.append(path)
        work += cost
    if task:
        yield task
