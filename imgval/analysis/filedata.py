"""An input file's bytes: read into memory or mapped from the page cache, and streams over them
that do not copy them."""
from __future__ import annotations

import io
import mmap
import os
import stat

from imgval.storage import is_remote, read_url


# Files smaller than this are read even where mapping is allowed (analysis.analyze_mapped): their
# copy costs less than a mapping, and Pillow's and exifread's many small reads are faster from
# io.BytesIO than from a Python stream over a mapping (~0.1 ms of a 64x64 JPEG's ~1.2 ms).
MAP_FROM_BYTES = 1 << 20


def read_input(path: str, *, mapped: bool = False, map_from: int = 1) -> bytes | mmap.mmap:
    """The file's bytes (a remote URL's are downloaded). Only regular files are read: a FIFO
    named x.jpg would block forever, a device would be read without end.

    mapped=True maps a local file of `map_from` bytes or more instead of copying it: the SHA-256
    and the decoders then read the page cache directly, which saves ~70 ms of copying per 120 MB
    TIFF master. The catch is that a program truncating the file while it is mapped kills the
    reading process (SIGBUS), so only processes whose death is survivable should ask for it: the
    runner's workers are (the runner retries the file in a fresh worker, which reads it as it is
    by then).
    """
    if is_remote(path):  # s3://, box:, dropbox: streamed from the storage, no local copy
        return read_url(path)
    # Opened without blocking and checked on the open descriptor, not by name first: a file
    # swapped for a FIFO between a stat and the open would block a plain open forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file (device, pipe or socket)", path)
        if mapped and st.st_size >= max(1, map_from):  # an empty file cannot be mapped
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        with open(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)  # a mapping keeps its own reference to the file


def byte_stream(data: bytes | mmap.mmap) -> io.RawIOBase | io.BytesIO:
    """A seekable binary stream over data for parsers that want a file (Pillow, exifread,
    tifffile). io.BytesIO shares a bytes object but copies any other buffer, a mapped file's
    whole 120 MB included, so those get a view-backed stream instead."""
    if isinstance(data, bytes):
        return io.BytesIO(data)
    return _BufferStream(data)


class _BufferStream(io.RawIOBase):
    """A read-only stream over a buffer (bytes-like), reading slices of a view of it."""

    def __init__(self, buffer) -> None:
        super().__init__()
        self._view = memoryview(buffer).cast("B")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def read(self, size: int = -1) -> bytes:
        # one copy of the slice; RawIOBase's own read()/readall() go through readinto in chunks
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position:end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer) -> int:
        chunk = self._view[self._position:self._position + len(buffer)]
        memoryview(buffer).cast("B")[:len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._view.release()  # the mapping can be unmapped once nothing else views it
        super().close()
