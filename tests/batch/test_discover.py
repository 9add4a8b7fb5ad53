"""Discovery: which files a run analyses, in what order, each once."""
import os

import pytest

from imgval.batch.discover import discover
from imgval.image_names import is_image_name


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_finds_images_recursively_case_insensitively_in_sorted_order(tmp_path):
    for name in ["b.JPG", "a.jpeg", "sub/c.TIFF", "sub/deeper/d.png", "e.Webp", "f.heic", "notes.txt", "raw.cr2"]:
        touch(tmp_path / name)
    found = discover([str(tmp_path)])
    names = [os.path.relpath(p, tmp_path) for p in found.paths]
    assert names == sorted(names)
    assert set(names) == {"b.JPG", "a.jpeg", "sub/c.TIFF", "sub/deeper/d.png", "e.Webp", "f.heic"}


def test_a_directory_named_like_an_image_is_not_an_image(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    touch(tmp_path / "x.jpg" / "inside.png")
    assert list(discover([str(tmp_path)]).paths) == [str(tmp_path / "x.jpg" / "inside.png")]


def test_a_single_file_is_analysed_even_without_an_image_extension(tmp_path):
    one = touch(tmp_path / "scan.jpg")
    other = touch(tmp_path / "scan.dat")
    assert list(discover([str(one)]).paths) == [str(one)]
    assert list(discover([str(other)]).paths) == [str(other)]


def test_symlink_loop_ends_and_each_path_is_listed_once(tmp_path):
    touch(tmp_path / "a" / "one.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    found = discover([str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "one.jpg")])
    assert list(found.paths) == [str(tmp_path / "a" / "one.jpg")]


def test_every_name_of_a_file_gets_a_row(tmp_path):
    """Hard links and a symlink beside its target are names the batch holds: one row each."""
    one = touch(tmp_path / "one.jpg")
    os.link(one, tmp_path / "two.jpg")
    (tmp_path / "sub").mkdir()
    os.link(one, tmp_path / "sub" / "three.jpg")
    os.symlink(one, tmp_path / "alias.jpg")
    found = discover([str(tmp_path)])
    assert sorted(os.path.relpath(p, tmp_path) for p in found.paths) == [
        "alias.jpg", "one.jpg", "sub/three.jpg", "two.jpg"]


def deep_folder(top, total_length=5000):
    """A folder whose path is longer than PATH_MAX (4096 on Linux), made one level at a time by
    descriptor (no single call sees the whole path); returns the path and the file in it."""
    name = "d" * 200
    levels = total_length // (len(name) + 1) + 1
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as handle:
            handle.write(b"x")
    finally:
        os.close(fd)
    folder = os.path.join(str(top), *[name] * levels)
    return folder, os.path.join(folder, "deep.jpg")


@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY"), reason="POSIX descriptors")
def test_a_file_deeper_than_the_path_limit_is_still_listed(tmp_path):
    touch(tmp_path / "top.jpg")
    folder, deep = deep_folder(tmp_path)
    assert len(deep) > os.pathconf("/", "PC_PATH_MAX")
    found = discover([str(tmp_path)])
    assert list(found.paths) == [deep, str(tmp_path / "top.jpg")] or list(found.paths) == [str(tmp_path / "top.jpg"), deep]
    assert found.unlistable == []


def test_empty_folder_finds_nothing(tmp_path):
    found = discover([str(tmp_path)])
    assert list(found.paths) == [] and found.unlistable == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_unlistable_folder_is_reported(tmp_path):
    locked = tmp_path / "locked"
    touch(locked / "a.jpg")
    locked.chmod(0)
    try:
        found = discover([str(tmp_path)])
    finally:
        locked.chmod(0o755)
    assert found.unlistable and found.unlistable[0][0] == str(locked)


def test_is_image_name():
    assert is_image_name("A.TIF") and is_image_name("x.y.jp2") and not is_image_name("jpg")


def test_an_input_that_cannot_be_listed_fails_the_input_and_a_folder_inside_it_becomes_a_row(tmp_path,
                                                                                             monkeypatch):
    """The permission error is the operating system's (root can list anything, so it is raised
    here by os.scandir itself); what discovery does with it is the real code."""
    touch(tmp_path / "top" / "a.jpg")
    touch(tmp_path / "top" / "inner" / "b.jpg")
    touch(tmp_path / "other" / "c.jpg")
    refused = {str(tmp_path / "top" / "inner"), str(tmp_path / "other")}
    real_scandir = os.scandir

    def scandir(path):
        if str(path) in refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover([str(tmp_path / "top"), str(tmp_path / "other")])
    assert [os.path.basename(p) for p in found.paths] == ["a.jpg"]
    assert found.unlistable == [(str(tmp_path / "top" / "inner"), "could not list folder: Permission denied")]
    assert found.failed_inputs == [(str(tmp_path / "other"), "could not list folder: Permission denied")]


def test_files_not_taken_are_counted_by_extension_and_include_ext_takes_them(tmp_path):
    from imgval.image_names import with_extensions

    for name in ["a.jpg", "b.xmp", "c.XMP", "d.cr2", "README", "e.pgm"]:
        touch(tmp_path / name)
    found = discover([str(tmp_path)])
    assert dict(found.skipped) == {".xmp": 2, ".cr2": 1, "": 1, ".pgm": 1}
    found = discover([str(tmp_path)], with_extensions(["pgm", ".XMP,cr2"]))
    assert len(found.paths) == 5 and dict(found.skipped) == {"": 1}
@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY"), reason="POSIX descriptors")
def test_scan_gives_hard_links_and_too_deep_files_their_rows(tmp_path):
    import csv

    import cv2

    from imgval.synthetic import natural_image

    from tests.batch.test_rerun import run_scan

    batch = tmp_path / "batch"
    batch.mkdir()
    cv2.imwrite(str(batch / "one.jpg"), natural_image(96, 64, seed=1))
    os.link(batch / "one.jpg", batch / "two.jpg")
    _, deep = deep_folder(batch)
    result = run_scan("-i", str(batch), "-s", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as handle:
        rows = {row["filepath"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {str(batch / "one.jpg"), str(batch / "two.jpg"), deep}
    assert rows[str(batch / "one.jpg")]["sha256"] == rows[str(batch / "two.jpg")]["sha256"] != ""
    assert rows[deep]["error"] == "cannot read file: File name too long"
