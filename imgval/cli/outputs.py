"""Where a run may write its outputs (the report, the HTML page, the log), checked before any work.

An output must be a regular file or a new name in an existing folder: never a device (as root,
renaming a report onto /dev/null would replace the device), a FIFO (opening it blocks), a
socket or a folder; never one of the run's inputs (an image would be overwritten); and no two
outputs may be the same file. A symlink is written through: the file it points to is replaced
or appended to, the link itself stays.
"""
from __future__ import annotations

import os
import stat

from imgval.image_names import is_image_name
from imgval.storage import is_remote


class OutputError(Exception):
    """The output cannot be written there; the message says why and what to do."""


def target(path: str) -> str:
    """The file an output path writes to: symlinks (also dangling ones) resolved."""
    return os.path.realpath(path)


def check_outputs(outputs: dict[str, str | None], inputs: list[str]) -> dict[str, str]:
    """{option: path} -> {option: the file to write}; raises OutputError naming the option."""
    targets: dict[str, str] = {}
    for option, path in outputs.items():
        if not path:
            continue
        try:
            targets[option] = check_output(path, inputs)
        except OutputError as exc:
            raise OutputError(f"{option}: {exc}") from None
    seen: dict[str, str] = {}
    for option, real in targets.items():
        if real in seen:
            raise OutputError(f"{option} and {seen[real]} name the same file {outputs[option]!r}; "
                              "give each output its own file")
        seen[real] = option
    return targets


def check_output(path: str, inputs: list[str]) -> str:
    real = target(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        folder = os.path.dirname(real)
        if not os.path.isdir(folder):
            raise OutputError(f"cannot write {path!r}: the folder {folder!r} does not exist") from None
        return real
    except OSError as exc:  # a symlink loop, a folder we may not enter
        raise OutputError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path!r} is a folder; give a file name inside it")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path!r} is {_kind(st.st_mode)}, not a regular file; imgval writes only "
                          "regular files (give a file name)")
    if _is_input(real, st, inputs):
        raise OutputError(f"{path!r} is one of this run's inputs and would be overwritten. "
                          "Give another file name")
    return real


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _is_input(real: str, st: os.stat_result, inputs: list[str]) -> bool:
    """The existing file `real` is an input: named directly, or an image a folder input holds."""
    for raw in inputs:
        if is_remote(raw):
            continue
        try:
            given = os.stat(raw)
        except OSError:
            continue
        if stat.S_ISDIR(given.st_mode):
            folder = os.path.realpath(raw)
            if is_image_name(real) and real.startswith(folder.rstrip(os.sep) + os.sep):
                return True
        elif (given.st_dev, given.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False
