"""Inputs (folders and files) -> the image files to analyse: sorted, each once, loop-safe."""
from __future__ import annotations

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

    A folder is walked recursively (following symlinks, each real folder visited once, so a
    symlink loop ends); only files with an image extension are taken. A file named directly is
    always taken, whatever its extension: the user asked for it, so it gets a row. Each input's
    files are sorted by path; a file reached twice (two inputs, or a symlink) is listed once.
    """
    found = Discovery()
    seen_files: set[tuple[int, int]] = set()
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
            key = _identity(file)
            if key is not None and key in seen_files:
                continue
            if key is not None:
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


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # broken link or unreadable: still listed, analysis reports why
    return (st.st_dev, st.st_ino)


def _walk(top: str, seen_dirs: set, unlistable: list) -> list[str]:
    """Image files below top; each real directory entered once (stops symlink loops)."""
    files: list[str] = []
    stack = [top]
    while stack:
        folder = stack.pop()
        key = _identity(folder)
        if key is None or key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as entries:
                entries = list(entries)
        except OSError as exc:
            unlistable.append((folder, f"could not list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks; loops are cut by seen_dirs
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(entry.path)
            elif is_image_name(entry.name):
                files.append(entry.path)
    return files
