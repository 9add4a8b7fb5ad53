"""Tasks of the local pool: consecutive files grouped by estimated work, as they stream in."""
from __future__ import annotations

from pathlib import Path

from imgval.batch.tasks import (FILE_SECONDS, SMALL_FILE_BYTES, SMALL_FILE_SECONDS, TASK_SECONDS, estimated_seconds,
                                grouped)


def sized(path: Path, size: int) -> str:
    """A file of `size` bytes by its size (sparse: nothing on disk); grouping only stats files."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return str(path)


def test_thumbnails_share_tasks_in_order(tmp_path):
    thumbs = [sized(tmp_path / f"t{i:03d}.jpg", 4000) for i in range(100)]
    tasks = list(grouped(thumbs))
    assert [p for task in tasks for p in task] == thumbs  # consecutive, none lost or repeated
    assert len(tasks[0]) > 4  # not one round trip per thumbnail
    assert all(sum(estimated_seconds(p) for p in task) <= TASK_SECONDS[0] for task in tasks)


def test_a_big_file_is_a_task_of_its_own(tmp_path):
    thumbs = [sized(tmp_path / f"t{i}.jpg", 4000) for i in range(3)]
    master = sized(tmp_path / "master.tif", 200 * 2**20)
    tasks = list(grouped(thumbs + [master] + thumbs))
    assert tasks == [thumbs, [master], thumbs]
    assert [len(t) for t in grouped(["s3://bucket/a.tif", "s3://bucket/b.tif"])] == [1, 1]  # fetched too


def test_a_stream_is_grouped_as_it_comes(tmp_path):
    taken = []

    def stream():
        for i in range(1000):
            taken.append(i)
            yield str(tmp_path / f"missing{i}")  # missing: a quick error row each
    first = next(grouped(stream()))
    assert len(first) == int(TASK_SECONDS[0] / FILE_SECONDS + 1e-9)
    assert len(taken) == len(first) + 1  # the next task is not read ahead


def test_thumbnails_are_estimated_as_scored_in_closed_form_larger_files_as_upscaled(tmp_path):
    thumb = sized(tmp_path / "thumb.jpg", SMALL_FILE_BYTES - 1)
    photo = sized(tmp_path / "photo.jpg", SMALL_FILE_BYTES)
    assert estimated_seconds(thumb) == SMALL_FILE_SECONDS < FILE_SECONDS < estimated_seconds(photo)
    tasks = list(grouped([sized(tmp_path / f"t{i:03d}.jpg", 1500) for i in range(200)]))
    assert len(tasks[0]) == int(TASK_SECONDS[0] / SMALL_FILE_SECONDS + 1e-9)  # ~30 per round trip
