"""A local directory as a storage."""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
import time
from typing import BinaryIO, Iterator

from imgval.storage import Entry, NotFound, StorageError, safe_relative_path
from imgval.storage.hashing import HashingReader, check_expected

# Partial files start with this and the writer's pid (".imgval-partial-1234-x8d1"), so a
# listing (ours, or a person's) can tell them apart and a later run can remove those of a
# killed one; they are renamed over the final name only once complete.
PARTIAL_PREFIX = ".imgval-partial-"
STALE_AFTER_SECONDS = 24 * 3600  # a partial untouched this long is stale whoever wrote it
COPY_BUFFER = 1024 * 1024


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a synced file should get the permissions any new file gets
FILE_MODE = 0o666 & ~_current_umask()


class LocalStorage:
    scheme = "local"
    hash_kinds: frozenset[str] = frozenset()  # nothing recorded: hashes need a read

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.url = self.root

    @classmethod
    def from_url(cls, url: str, **_options) -> "LocalStorage":
        if url.startswith("file://"):
            url = url[len("file://") :]
        return cls(url)

    @functools.cached_property
    def caseless(self) -> bool:
        """Whether this disk folds case (macOS, Windows do by default), probed on the nearest
        existing folder with a letter in its name: its other-case spelling names it too."""
        path = self.root
        while True:
            parent, name = os.path.split(path)
            if name.swapcase() != name and os.path.exists(path):
                other = os.path.join(parent, name.swapcase())
                return os.path.exists(other) and os.path.samefile(path, other)
            if parent == path:
                return False
            path = parent

    def check(self) -> None:
        if not os.path.isdir(self.root):
            raise NotFound(f"{self.root}: no such directory")

    def _native(self, path: str) -> str:
        return os.path.join(self.root, *safe_relative_path(path).split("/"))

    def url_for(self, path: str) -> str:
        return self._native(path)

    def list(self) -> Iterator[Entry]:
        self.check()
        # followlinks=False: a symlink loop must not make the listing endless
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                if name.startswith(PARTIAL_PREFIX):
                    _remove_if_stale(os.path.join(dirpath, name))
                    continue
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except OSError:  # dangling symlink, vanished meanwhile
                    continue
                if not os.path.isfile(full):
                    continue
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                yield Entry(rel, st.st_size, {}, _mtime(st))

    def stat(self, path: str) -> Entry | None:
        try:
            st = os.stat(self._native(path))
        except FileNotFoundError:
            return None
        if not os.path.isfile(self._native(path)):
            return None
        return Entry(path, st.st_size, {}, _mtime(st))

    def open_read(self, path: str) -> BinaryIO:
        try:
            return open(self._native(path), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"{self.url_for(path)}: no such file") from None

    def write(self, path: str, stream: BinaryIO, size: int, hashes: dict[str, str],
              modified: dt.datetime | None = None) -> Entry:
        final = self._native(path)
        folder, name = os.path.split(final)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{folder}: cannot create folder: {exc.strerror}") from exc
        fd, partial = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{os.getpid()}-", dir=folder)
        reader = HashingReader(stream)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    data = reader.read(COPY_BUFFER)
                    if not data:
                        break
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            computed = check_expected(reader.hasher, size, hashes, path)
            os.chmod(partial, FILE_MODE)
            if modified is not None:
                os.utime(partial, (modified.timestamp(), modified.timestamp()))
            os.replace(partial, final)
        except BaseException:
            # also on KeyboardInterrupt: leave no partial file behind
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise
        return Entry(path, size, computed, _mtime(os.stat(final)))


def _remove_if_stale(path: str) -> None:
    """Remove a partial file whose writer is gone (killed with -9, or the machine went down)."""
    pid = os.path.basename(path)[len(PARTIAL_PREFIX):].split("-", 1)[0]
    try:
        stale = time.time() - os.stat(path).st_mtime > STALE_AFTER_SECONDS or not (pid.isdigit() and _alive(int(pid)))
        if stale:
            os.unlink(path)
    except OSError:  # gone meanwhile, or not ours to remove
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _mtime(st: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(st.st_mtime, tz=dt.timezone.utc)
