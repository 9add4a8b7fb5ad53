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
    assert discover([str(tmp_path)]).paths == [str(tmp_path / "x.jpg" / "inside.png")]


def test_a_single_file_is_analysed_even_without_an_image_extension(tmp_path):
    one = touch(tmp_path / "scan.jpg")
    other = touch(tmp_path / "scan.dat")
    assert discover([str(one)]).paths == [str(one)]
    assert discover([str(other)]).paths == [str(other)]


def test_symlink_loop_ends_and_files_are_listed_once(tmp_path):
    touch(tmp_path / "a" / "one.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    os.symlink(tmp_path / "a" / "one.jpg", tmp_path / "alias.jpg")
    found = discover([str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "one.jpg")])
    assert len(found.paths) == 1


def test_empty_folder_finds_nothing(tmp_path):
    found = discover([str(tmp_path)])
    assert found.paths == [] and found.unlistable == []


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
