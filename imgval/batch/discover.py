"""Inputs (folders and files) -> the image files to analyse: sorted, each once, loop-safe."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from imgval.image_names import is_image_name
from imgval.storage import is_remote


@dataclass
class Discovery:
    """What discovery found: image paths in report order, and folders it could not list."""

    paths: list[str] = field(default_factory=list)
    unlistable: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason)
    remote_entries: dict = field(default_factory=dict)  # remote URL -> its storage Entry from the listing


def missing_inputs(inputs: list[str]) -> list[str]:
    """Inputs that name nothing on disk (checked before any work starts)."""
    return [p for p in inputs if not is_remote(p) and not os.path.lexists(p)]


def discover(inputs: list[str]) -> Discovery:
    """Find image files under each input.

    A folder is walked recursively (following symlinks, each real folder entered once, so a
    symlink loop ends); only files with an image extension are taken. A file named directly is
    always taken, whatever its extension: the user asked for it, so it gets a row. Each input's
    files are sorted by path; a path reached twice (two inputs) is listed once, while different
    names of one file (hard links, a symlink beside its target) each get their row: every name
    found is reported. Folders deeper than the system's path limit are still listed (their
    files then get a "file name too long" row instead of vanishing).
    """
    found = Discovery()
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for raw in inputs:
        if is_remote(raw):  # s3://, box:, dropbox: are listed by imgval.storage
            _discover_remote(raw, found, seen_files)
            continue
        path = os.path.normpath(raw)
        if os.path.isdir(path):
            files = sorted(_walk(path, seen_dirs, found.unlistable))
        else:
            files = [path]
        for file in files:
            key = os.path.abspath(file)
            if key not in seen_files:
                seen_files.add(key)
                found.paths.append(file)
    return found


def _discover_remote(url: str, found: Discovery, seen: set) -> None:
    """Remote image files, as URLs (the report's filepath); a listing failure becomes a row."""
    from imgval.storage import StorageError, list_image_entries

    try:
        listed = list_image_entries(url, is_image_name)
    except StorageError as exc:
        found.unlistable.append((url, f"could not list: {exc}"))
        return
    for file_url, entry in listed:
        if file_url not in seen:
            seen.add(file_url)
            found.paths.append(file_url)
            found.remote_entries[file_url] = entry


def _walk(top: str, seen_dirs: set, unlistable: list) -> list[str]:
    """Image files below top; each real directory (device and inode) entered once, which ends
    symlink loops."""
    files: list[str] = []
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            key, entries = _list_folder(folder)
        except OSError as exc:
            unlistable.append((folder, f"could not list folder: {exc.strerror or exc}"))
            continue
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        for name, is_dir in entries:
            if is_dir:
                stack.append(os.path.join(folder, name))
            elif is_image_name(name):
                files.append(os.path.join(folder, name))
    return files


def _list_folder(folder: str) -> tuple[tuple[int, int], list[tuple[str, bool]]]:
    """The folder's identity and its entries as (name, is a folder, following symlinks)."""
    try:
        st = os.stat(folder)
        with os.scandir(folder) as listing:
            return (st.st_dev, st.st_ino), [(entry.name, _is_dir(entry)) for entry in listing]
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG or not hasattr(os, "O_DIRECTORY"):
            raise
    fd = _open_long_folder(folder)  # deeper than PATH_MAX: by descriptor, one name at a time
    try:
        st = os.fstat(fd)
        with os.scandir(fd) as listing:
            return (st.st_dev, st.st_ino), [(entry.name, _is_dir(entry)) for entry in listing]
    finally:
        os.close(fd)


def _open_long_folder(folder: str) -> int:
    fd = os.open(os.sep if os.path.isabs(folder) else os.curdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in folder.split(os.sep):
            if name:
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = inner
    except OSError:
        os.close(fd)
        raise
    return fd


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; loops are cut by the folder's identity
    except OSError:
        return False
