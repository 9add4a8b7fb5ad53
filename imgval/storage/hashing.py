"""Content hashes computed while bytes stream past, all kinds in one pass.

Two kinds are enough to compare any pair of our storages without re-reading content:

* ``content_hash``: Dropbox's hash (SHA-256 over the SHA-256 of each 4 MiB block), which
  Dropbox reports for every file; we record it as S3 object metadata.
* ``sha1``: what Box reports for every file; also recorded in S3 metadata.

and ``sha256`` of the whole file, which no storage reports but archives' fixity records use:
the sync manifest lists it for every file, and S3 metadata records it.

https://www.dropbox.com/developers/reference/content-hash
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO, Callable

CONTENT_HASH = "content_hash"
SHA1 = "sha1"
SHA256 = "sha256"  # of the whole file: the fixity value the manifest reports
ALL_KINDS = (CONTENT_HASH, SHA1, SHA256)

DROPBOX_BLOCK = 4 * 1024 * 1024


class DropboxContentHasher:
    """Streaming Dropbox content_hash; same interface as hashlib objects."""

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._block_pos = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._block_pos == DROPBOX_BLOCK:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._block_pos = 0
            take = min(DROPBOX_BLOCK - self._block_pos, len(view))
            self._block.update(view[:take])
            self._block_pos += take
            view = view[take:]

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._block_pos:
            overall.update(self._block.digest())
        return overall.hexdigest()


class MultiHasher:
    """Every hash kind plus the byte count, fed once."""

    def __init__(self) -> None:
        self.size = 0
        self._hashers = {CONTENT_HASH: DropboxContentHasher(), SHA1: hashlib.sha1(), SHA256: hashlib.sha256()}

    def update(self, data: bytes) -> None:
        self.size += len(data)
        for hasher in self._hashers.values():
            hasher.update(data)

    def hexdigests(self) -> dict[str, str]:
        return {kind: hasher.hexdigest() for kind, hasher in self._hashers.items()}


class HashingReader:
    """Wraps a readable stream; hashes what is read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hasher = MultiHasher()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.hasher.update(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "HashingReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hasher(kind: str):
    return DropboxContentHasher() if kind == CONTENT_HASH else hashlib.new(kind)


class VerifiedReader(io.RawIOBase):
    """A download checked, as it ends, against what the storage records for the file: its size
    and every hash given (``content_hash``, ``sha1``, ``md5``, ``sha256``; hex). A body cut
    short or changed on the way raises TransientError instead of ending normally, so no
    caller can take damaged bytes for the file's content.

    ``raw`` raises TransientError itself for a dropped connection; ``on_mismatch`` lets the
    storage forget a record that may be stale before the retry. ``modified`` is the file's
    modification time when the download told it (S3 keeps it in metadata, not in listings)."""

    def __init__(self, raw: BinaryIO, size: int | None, expected: dict[str, str], what: str,
                 on_mismatch: Callable[[], None] = lambda: None, modified=None):
        self.modified = modified
        self._raw = raw
        self._size = size
        self._expected = {k: v.lower() for k, v in expected.items() if v}
        self._hashers = {kind: _hasher(kind) for kind in self._expected}
        self._read = 0
        self._what = what
        self._on_mismatch = on_mismatch
        self._checked = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._read += len(data)
            for hasher in self._hashers.values():
                hasher.update(data)
        if not data or size is None or size < 0:
            self._check()
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        from imgval.storage import TransientError

        problem = None
        if self._size is not None and self._read != self._size:
            problem = f"download ended after {self._read} of {self._size} bytes"
        for kind, hasher in self._hashers.items():
            if problem is None and hasher.hexdigest() != self._expected[kind]:
                problem = f"{kind} mismatch: the bytes read are not the file's recorded content"
        if problem:
            self._on_mismatch()
            raise TransientError(f"{self._what}: {problem} (damaged in transit)")

    def close(self) -> None:
        self._raw.close()
        super().close()


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at end of stream (raw streams may return short reads)."""
    parts = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def hash_stream(stream: BinaryIO, chunk_size: int = 1024 * 1024) -> tuple[int, dict[str, str]]:
    hasher = MultiHasher()
    while True:
        data = stream.read(chunk_size)
        if not data:
            break
        hasher.update(data)
    return hasher.size, hasher.hexdigests()


def hash_bytes(data: bytes) -> dict[str, str]:
    hasher = MultiHasher()
    hasher.update(data)
    return hasher.hexdigests()


def check_expected(hasher: MultiHasher, size: int, expected: dict[str, str], what: str) -> dict[str, str]:
    """The computed hashes, once they agree with the expected size and hashes.

    Backends call this before committing a write, so content that changed or was corrupted
    on the way never appears under its final name.
    """
    from imgval.storage import TransientError

    if hasher.size != size:
        raise TransientError(f"{what}: expected {size} bytes, read {hasher.size}")
    computed = hasher.hexdigests()
    for kind, value in expected.items():
        if kind in computed and computed[kind] != value:
            raise TransientError(f"{what}: {kind} mismatch (content changed or corrupted in transit)")
    return computed
