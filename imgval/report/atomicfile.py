"""Output files that appear under their name only when complete: written to a hidden temporary
file beside the target, then renamed onto it.

The temporary file is named `.imgval-<name>.<host>-<pid>-<random>.part`, so a later run can tell
a stale one (left by a run killed with SIGKILL or a power cut) from one another run is still
writing, and removes the stale ones of the file it writes.
"""
from __future__ import annotations

import os
import re
import socket
import tempfile

NAME_CHARS = 80  # of the target's name kept in the temporary name (file names are limited to 255)


class AtomicFile:
    """A text file being written (`handle`); commit() makes it appear, discard() removes it."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        folder, name = os.path.split(self.path)
        remove_stale_parts(folder, name)
        fd, self.tmp_path = tempfile.mkstemp(dir=folder, prefix=_part_prefix(name) + f"{_host()}-{os.getpid()}-",
                                             suffix=".part")
        # backslashreplace: a stray undecodable character in any value costs that value, never the file
        self.handle = os.fdopen(fd, "w", newline="", encoding="utf-8", errors="backslashreplace")

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.chmod(self.tmp_path, 0o666 & ~_umask())  # as open() would create it (mkstemp makes 0600)
        os.replace(self.tmp_path, self.path)

    def discard(self) -> None:
        """Remove the temporary file; never raises (it runs while another error is handled)."""
        try:
            self.handle.close()  # flushes what is buffered: fails again on a full disk
        except OSError:
            pass
        try:
            os.unlink(self.tmp_path)
        except OSError:
            pass


def remove_stale_parts(folder: str, name: str) -> list[str]:
    """Remove the temporary files of `name` in `folder` whose writer (a process of this host) is
    gone; returns the paths removed. Another host's, or a living process's, are left alone."""
    prefix = _part_prefix(name)
    pattern = re.compile(re.escape(prefix) + r"(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+\.part")
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and match["host"] == _host() and not _alive(int(match["pid"])):
            try:
                os.unlink(os.path.join(folder, entry))
                removed.append(os.path.join(folder, entry))
            except OSError:
                pass
    return removed


def _part_prefix(name: str) -> str:
    return f".imgval-{name[:NAME_CHARS]}."


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): alive
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
