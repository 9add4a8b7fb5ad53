"""One run at a time: an exclusive lock on `<report>.lock` (or a config's lock), held while the run lasts.

A POSIX record lock (lockf) belongs to the process: the operating system releases it when the
process ends in any way, SIGKILL included, so a killed run never leaves a stale lock behind.
(Not flock: its locks are shared with forked children, so a pool worker orphaned by a kill
would keep the lock held.)
"""
from __future__ import annotations

import errno
import os

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not guarded against overlap there
    fcntl = None


class Locked(Exception):
    """Another process holds the lock; the message names the file and that process."""


class RunLock:
    """An exclusive lock on the file `lock_path`, held by a run while it is `activity`
    ("writing results.csv"): the words the refusal message uses."""

    def __init__(self, lock_path: str, activity: str):
        self.path = os.path.abspath(lock_path)
        self.activity = activity
        self.fd: int | None = None

    @classmethod
    def for_report(cls, report_path: str) -> "RunLock":
        return cls(os.path.realpath(report_path) + ".lock", f"writing {report_path}")  # links share a lock

    def acquire(self) -> "RunLock":
        """Take the lock now or raise Locked; never waits."""
        if fcntl is None:
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(fd)
                    raise
                holder = _read_holder(fd)
                os.close(fd)
                raise Locked(f"another imgval run{holder} is {self.activity} "
                             f"(lock file {self.path}); this run did nothing.") from None
            # A finishing run unlinks the lock file; if we locked a file that was just unlinked,
            # a third run could lock a new one at the same path: take the lock again on that.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it, so no other run can have it locked
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *_exc) -> None:
        self.release()


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _read_holder(fd: int) -> str:
    try:
        pid = os.read(fd, 32).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""
