"""Inputs (folders and files) -> the image files to analyse: sorted, each once, loop-safe."""
from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from imgval.batch.pathspool import PathSpool
from imgval.image_names import IMAGE_EXTENSIONS, extension_of, is_image_name
from imgval.storage import is_remote


@dataclass
class Discovery:
    """What discovery found: image paths in report order, and folders it could not list."""

    paths: PathSpool = field(default_factory=PathSpool)  # spooled: a million paths cost no memory
    unlistable: list[tuple[str, str]] = field(default_factory=list)  # (folder inside an input, reason)
    failed_inputs: list[tuple[str, str]] = field(default_factory=list)  # (input given, reason): nothing listed
    skipped: Counter = field(default_factory=Counter)  # files in the folders not taken, by extension ("" for none)
    remote_entries: dict = field(default_factory=dict)  # remote URL -> its storage Entry from the listing


def missing_inputs(inputs: list[str]) -> list[str]:
    """Inputs that name nothing on disk (checked before any work starts)."""
    return [p for p in inputs if not is_remote(p) and not os.path.lexists(p)]


def discover(inputs: list[str], extensions=IMAGE_EXTENSIONS) -> Discovery:
    """Find image files under each input.

    A folder is walked recursively (following symlinks, each real folder entered once, so a
    symlink loop ends); only files with an image extension are taken. A file named directly is
    always taken, whatever its extension: the user asked for it, so it gets a row. Each input's
    files are sorted by path; a path reached twice (two inputs) is listed once, while different
    names of one file (hard links, a symlink beside its target) each get their row: every name
    found is reported. Folders deeper than the system's path limit are still listed (their
    files then get a "file name too long" row instead of vanishing). Files in the folders
    without an image extension are counted in `skipped`.

    The paths are streamed into `paths` as they are found, in order, so the listing holds one
    folder's names at a time, never the batch's paths as objects.
    """
    found = Discovery()

    def wanted(name: str) -> bool:
        if is_image_name(name, extensions):
            return True
        found.skipped[extension_of(name)] += 1
        return False

    # Two walks never list one path (each real folder is entered once, by one name), so a path
    # can be listed twice only as a file named directly: those few are remembered, with the
    # folders walked (by absolute name) to tell whether a walk has listed a named file already.
    named: set[str] = set()
    walked: set[str] = set()
    seen_urls: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for raw in inputs:
        if is_remote(raw):  # s3://, box:, dropbox: are listed by imgval.storage
            _discover_remote(raw, found, seen_urls, wanted)
            continue
        path = os.path.normpath(raw)
        if os.path.isdir(path):
            before = len(found.unlistable)
            for folder, names in _walk(path, seen_dirs, found.unlistable, wanted):
                walked.add(os.path.abspath(folder))
                for name in names:
                    file = os.path.join(folder, name)
                    if not named or os.path.abspath(file) not in named:
                        found.paths.append(file)
            if found.unlistable[before:before + 1] and found.unlistable[before][0] == path:
                found.failed_inputs.append(found.unlistable.pop(before))  # the input itself
            continue
        key = os.path.abspath(path)
        folder, name = os.path.split(key)
        if key not in named and not (folder in walked and is_image_name(name, extensions)):
            named.add(key)
            found.paths.append(path)
    return found


def _discover_remote(url: str, found: Discovery, seen: set, wanted) -> None:
    """Remote image files, as URLs (the report's filepath); a listing failure fails the input."""
    from imgval.storage import StorageError, list_image_entries

    try:
        listed = list_image_entries(url, wanted)
    except StorageError as exc:
        found.failed_inputs.append((url, f"could not list: {exc}"))
        return
    for file_url, entry in listed:
        if file_url not in seen:
            seen.add(file_url)
            found.paths.append(file_url)
            found.remote_entries[file_url] = entry


def _walk(top: str, seen_dirs: set, unlistable: list, wanted) -> Iterator[tuple[str, list[str]]]:
    """(folder, names of image files in it) below top, in runs that list every path sorted:
    a folder's entries are sorted by name, a subfolder as its name and the separator (all of
    `a/...` sorts after `a.jpg` and before `a0.jpg`) and walked in its place. Each real
    directory (device and inode) is entered once, which ends symlink loops. Only the folders
    on the way down are held, each as its sorted names."""
    names = _enter(top, seen_dirs, unlistable, wanted)
    stack = [(top, iter(names))] if names is not None else []
    while stack:
        folder, entries = stack[-1]
        files, subfolder = [], None
        for name in entries:
            if name.endswith(os.sep):
                subfolder = os.path.join(folder, name[:-len(os.sep)])
                break
            files.append(name)
        if files:
            yield folder, files
        if subfolder is None:
            stack.pop()
            continue
        names = _enter(subfolder, seen_dirs, unlistable, wanted)
        if names is not None:
            stack.append((subfolder, iter(names)))


def _enter(folder: str, seen_dirs: set, unlistable: list, wanted) -> list[str] | None:
    """The folder's subfolders (each name ending in the separator) and the files `wanted`
    takes, sorted; None when it cannot be listed (noted in `unlistable`) or was entered before."""
    try:
        key, names = _list_folder(folder)
    except OSError as exc:
        unlistable.append((folder, f"could not list folder: {exc.strerror or exc}"))
        return None
    if key in seen_dirs:
        return None
    seen_dirs.add(key)
    names = [name for name in names if name.endswith(os.sep) or wanted(name)]
    names.sort()
    return names


def _list_folder(folder: str) -> tuple[tuple[int, int], list[str]]:
    """The folder's identity and its entries' names, a folder's (following symlinks) with the
    separator after it."""
    try:
        st = os.stat(folder)
        with os.scandir(folder) as listing:
            return (st.st_dev, st.st_ino), [_name(entry) for entry in listing]
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG or not hasattr(os, "O_DIRECTORY"):
            raise
    fd = _open_long_folder(folder)  # deeper than PATH_MAX: by descriptor, one name at a time
    try:
        st = os.fstat(fd)
        with os.scandir(fd) as listing:
            return (st.st_dev, st.st_ino), [_name(entry) for entry in listing]
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


def _name(entry: os.DirEntry) -> str:
    try:
        is_dir = entry.is_dir()  # follows symlinks; loops are cut by the folder's identity
    except OSError:
        is_dir = False
    return entry.name + os.sep if is_dir else entry.name
