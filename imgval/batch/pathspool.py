"""A list of paths kept in a temporary file rather than as Python objects.

A million paths as `str` objects cost ~100 bytes each in the parent; spooled they cost nothing
in memory (the page cache holds them, and gives them back under pressure). Paths keep their
order and come back exactly as appended: any character, a newline, the lone surrogates
Python uses for undecodable bytes in a file name (each stored length-prefixed, as UTF-8 with
surrogates passed through). Appending and iterating may interleave, and several iterators may
run at once (each reads with its own offset).
"""
from __future__ import annotations

import errno
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator

_LENGTH = struct.Struct("<I")  # bytes of one path (names are limited to a few KB by every OS)
_READ_BYTES = 1 << 16  # read in blocks of this much
MEMORY_BYTES = 1 << 20  # paths kept in memory before they go to the file (~15,000)


class PathSpoolError(OSError):
    """The temporary file cannot be written (a full disk, a file size limit); says where."""


class PathSpool:
    """Paths in order, appended one at a time; `len` and repeated iteration, no indexing.
    The first MEMORY_BYTES stay in memory (a small batch touches no disk); the rest spill."""

    def __init__(self, paths: Iterable[str] = ()):
        self._file = None  # created when the paths outgrow MEMORY_BYTES
        self._count = 0
        self._written = 0  # bytes in the file; the rest are in _buffer
        self._buffer = bytearray()  # appended, not yet written
        self.extend(paths)

    def append(self, path: str) -> None:
        data = path.encode("utf-8", "surrogatepass")
        self._buffer += _LENGTH.pack(len(data))
        self._buffer += data
        self._count += 1
        if len(self._buffer) >= MEMORY_BYTES:
            self._spill()

    def extend(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.append(path)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return self._read(self._count)

    def __repr__(self) -> str:
        return f"<PathSpool of {self._count} paths>"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _spill(self) -> None:
        try:
            if self._file is None:
                # Unnamed where the OS allows: it disappears with the process, whatever stops the run.
                self._file = tempfile.TemporaryFile(prefix=".imgval-paths-", buffering=0)
            self._file.seek(self._written)
            with memoryview(self._buffer) as view:
                done = 0
                while done < len(view):  # a write may be short (a size limit reached mid-way)
                    written = self._file.write(view[done:])
                    if not written:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    done += written
        except OSError as exc:
            raise PathSpoolError(exc.errno, f"cannot keep the list of files in the temporary folder "
                                            f"{tempfile.gettempdir()}: {exc.strerror or exc}") from exc
        self._written += len(self._buffer)
        self._buffer.clear()

    def _read(self, count: int) -> Iterator[str]:
        """The first `count` paths (those appended when iteration began)."""
        offset, block, start = 0, b"", 0
        for _ in range(count):
            if len(block) - start < _LENGTH.size:
                block, start, offset = self._more(block, start, offset, _LENGTH.size)
            (size,) = _LENGTH.unpack_from(block, start)
            if len(block) - start < _LENGTH.size + size:
                block, start, offset = self._more(block, start, offset, _LENGTH.size + size)
            start += _LENGTH.size
            yield block[start:start + size].decode("utf-8", "surrogatepass")
            start += size

    def _more(self, block: bytes, start: int, offset: int, need: int) -> tuple[bytes, int, int]:
        """The unread rest of `block` plus the next bytes from `offset` on: at least `need` bytes."""
        data = block[start:]
        while len(data) < need:
            more = self._bytes_at(offset, max(_READ_BYTES, need - len(data)))
            if not more:
                raise PathSpoolError(errno.EIO, "the temporary list of files ended early")
            data += more
            offset += len(more)
        return data, 0, offset

    def _bytes_at(self, offset: int, size: int) -> bytes:
        """Bytes from `offset` on, from the file or the memory tail (bytes only ever move from
        the tail to the file's end, so an offset stays valid however appends interleave)."""
        if offset >= self._written:
            return bytes(self._buffer[offset - self._written:offset - self._written + size])
        self._file.seek(offset)  # each reader its own offset: iterations may interleave
        return self._file.read(min(size, self._written - offset))
