"""A list of paths kept in a temporary file rather than as Python objects.

A million paths as `str` objects cost ~100 bytes each in the parent; spooled they cost nothing
in memory (the page cache holds them, and gives them back under pressure). Paths keep their
order and come back exactly as appended: any character, a newline, the lone surrogates
Python uses for undecodable bytes in a file name (each stored length-prefixed, as UTF-8 with
surrogates passed through). Appending and iterating may interleave, and several iterators may
run at once (each reads with its own offset).
"""
from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterable, Iterator

_LENGTH = struct.Struct("<I")  # bytes of one path (names are limited to a few KB by every OS)
_READ_BYTES = 1 << 16  # read in blocks of this much


class PathSpool:
    """Paths in order, appended one at a time; `len` and repeated iteration, no indexing."""

    def __init__(self, paths: Iterable[str] = ()):
        # Unnamed where the OS allows: it disappears with the process, whatever stops the run.
        self._file = tempfile.TemporaryFile(prefix=".imgval-paths-", buffering=0)
        self._count = 0
        self._written = 0  # bytes appended; a reader stops here
        self._buffer = bytearray()  # appended, not yet written
        self.extend(paths)

    def append(self, path: str) -> None:
        data = path.encode("utf-8", "surrogatepass")
        self._buffer += _LENGTH.pack(len(data))
        self._buffer += data
        self._count += 1
        if len(self._buffer) >= _READ_BYTES:
            self._flush()

    def extend(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.append(path)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        self._flush()
        return self._read(self._count)

    def __repr__(self) -> str:
        return f"<PathSpool of {self._count} paths>"

    def close(self) -> None:
        self._file.close()

    def _flush(self) -> None:
        if self._buffer:
            self._file.seek(self._written)
            self._file.write(self._buffer)
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
        """The unread rest of `block` plus the next bytes of the file: at least `need` bytes."""
        rest = block[start:]
        self._file.seek(offset)  # each reader its own offset: iterations may interleave
        data = self._file.read(max(_READ_BYTES, need - len(rest)))
        if len(rest) + len(data) < need:
            raise OSError(f"the temporary list of paths ended early ({len(rest) + len(data)} of {need} bytes)")
        return rest + data, 0, offset + len(data)
