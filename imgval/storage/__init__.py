"""Places image files live, behind one small interface (modelled on rclone's backends).

Every storage is rooted at a folder given by a URL and speaks paths relative to it, with
``/`` as separator whatever the backend:

    ========================  ==========================================
    URL                       storage
    ========================  ==========================================
    /some/dir, ./dir          local directory               (local.py)
    s3://bucket/prefix        S3 or an S3-compatible store  (s3.py)
    box:123456789             Box folder by id              (box.py)
    dropbox:/Scans/2026       Dropbox folder by path        (dropbox_store.py)
    ========================  ==========================================

``sync.py`` and the scan are written once against :class:`Storage`; a new backend passes
``tests/storage/test_contract.py`` and nothing else needs to change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

from imgval.storage.hashing import CONTENT_HASH, SHA1

__all__ = [
    "CONTENT_HASH",
    "SHA1",
    "Entry",
    "Storage",
    "StorageError",
    "NotFound",
    "CredentialsError",
    "TransientError",
    "Cancelled",
    "open_storage",
    "is_remote",
    "join_url",
    "read_url",
    "list_image_urls",
    "list_image_entries",
]

REMOTE_SCHEMES = ("s3://", "box:", "dropbox:")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file in a storage.

    ``path`` is relative to the storage root, ``/``-separated. ``hashes`` holds what the
    backend knows without reading the content (``{"content_hash": ..., "sha1": ...}``, any
    subset, possibly empty).
    """

    path: str
    size: int
    hashes: dict[str, str] = dataclasses.field(default_factory=dict)
    modified: dt.datetime | None = None


class StorageError(Exception):
    """A storage operation failed; the message is safe to show (no secrets)."""


class NotFound(StorageError):
    """The file or folder does not exist."""


class CredentialsError(StorageError):
    """Credentials are missing or were rejected; the message names what to set."""


class Cancelled(Exception):
    """The run is being stopped (Ctrl-C, SIGTERM): a wait or a transfer ends here."""


class TransientError(StorageError):
    """Worth retrying: rate limit, 5xx, dropped connection, hash mismatch after transfer.

    ``retry_after`` (seconds) is the server's wish when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class Storage(Protocol):
    """The interface every backend implements."""

    #: ``"local"``, ``"s3"``, ``"box"`` or ``"dropbox"``
    scheme: str
    #: the URL this storage was opened with, normalised; ``url_for(path)`` extends it
    url: str
    #: hash kinds ``stat``/``list`` can report without reading content
    hash_kinds: frozenset[str]
    #: True where "A.jpg", "a.jpg" and the other Unicode forms of a name are one file
    caseless: bool

    def check(self) -> None:
        """Fail fast (CredentialsError / NotFound) before any transfer starts."""

    def list(self) -> Iterator[Entry]:
        """Every file under the root, recursively, in no particular order."""

    def stat(self, path: str) -> Entry | None:
        """The file's entry with every hash the backend records, or None if absent."""

    def open_read(self, path: str) -> BinaryIO:
        """A streaming reader; raises NotFound. Close it when done."""

    def write(self, path: str, stream: BinaryIO, size: int, hashes: dict[str, str],
              modified: dt.datetime | None = None) -> Entry:
        """Store ``size`` bytes read from ``stream`` under ``path``, replacing any file there,
        with ``modified`` as its modification time where the backend keeps one (as rclone does).

        Atomic: until it returns, nothing half-written is visible under ``path``. ``hashes``
        are the hashes the caller expects the content to have (recorded where the backend
        has no native hash of that kind, e.g. S3 metadata). Returns the entry as the backend
        reports it after the write, so the caller can verify it.
        """

    def url_for(self, path: str) -> str:
        """The URL naming ``path`` (as a report's ``filepath``)."""


def safe_relative_path(path: str) -> str:
    """``path`` if it is a plain relative path; a listing from a remote must not reach out
    of the destination folder (``../x``, ``/etc/x``), so anything else is refused."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise StorageError(f"refusing unsafe relative path {path!r}")
    return path


def name_key(path: str, caseless: bool) -> str:
    """What a storage compares names by: on a caseless one (Box, Dropbox, a macOS or Windows
    disk) "A.jpg" and "a.jpg", or "café" composed and decomposed, are the same file."""
    return unicodedata.normalize("NFC", path).casefold() if caseless else path


def unexpected(exc: BaseException) -> str:
    """An SDK's untranslated error, as told to the user: its type and its text with every
    credential of the environment blanked out (an HTTP library quotes headers in errors)."""
    from imgval.storage.credentials import redact

    return redact(f"unexpected {type(exc).__name__}: {exc}")


def is_remote(url: str) -> bool:
    return url.startswith(REMOTE_SCHEMES)


def join_url(root: str, path: str) -> str:
    if not path:
        return root
    if root.startswith("box:"):
        return f"{root}/{path}"
    return root.rstrip("/") + "/" + path


def open_storage(url: str, **options) -> Storage:
    """Open the storage a URL names. Options are passed to the backend (``chunk_size``...).

    Importing the SDKs is deferred to here so that a local scan never pays for them.
    """
    if url.startswith("s3://"):
        from imgval.storage.s3 import S3Storage

        return S3Storage.from_url(url, **options)
    if url.startswith("box:"):
        from imgval.storage.box import BoxStorage

        return BoxStorage.from_url(url, **options)
    if url.startswith("dropbox:"):
        from imgval.storage.dropbox_store import DropboxStorage

        return DropboxStorage.from_url(url, **options)
    if "://" in url:
        raise StorageError(
            f"unknown storage URL {url!r}: use a local path, s3://bucket/prefix, "
            "box:FOLDER_ID or dropbox:/path"
        )
    from imgval.storage.local import LocalStorage

    return LocalStorage.from_url(url, **options)


# -- reading remote files by URL (the scan's inputs) -----------------------------------------

import os as _os
import threading as _threading

_open_lock = _threading.Lock()
_open_storages: dict[tuple[int, str], Storage] = {}


def split_file_url(url: str) -> tuple[str, str]:
    """A remote file URL as (storage root URL, relative path)."""
    if url.startswith("s3://"):
        bucket, _, key = url[len("s3://") :].partition("/")
        return f"s3://{bucket}", key
    if url.startswith("dropbox:"):
        return "dropbox:/", url[len("dropbox:") :].strip("/")
    if url.startswith("box:"):
        folder, _, path = url[len("box:") :].partition("/")
        return f"box:{folder}", path
    raise StorageError(f"{url!r} is not a remote URL")


def storage_for(root_url: str) -> Storage:
    """One storage per root URL per process (worker processes open their own clients)."""
    key = (_os.getpid(), root_url)
    with _open_lock:
        if key not in _open_storages:
            _open_storages[key] = open_storage(root_url)
        return _open_storages[key]


def read_url(url: str) -> bytes:
    """A remote file's bytes, streamed from its storage (retried on transient faults).

    Failures are raised as OSError, like a local file that cannot be read, so the scan
    writes them into the file's row.
    """
    from imgval.storage.retry import RetryPolicy, call_with_retries

    def read() -> bytes:
        root, path = split_file_url(url)
        with storage_for(root).open_read(path) as stream:
            return stream.read()

    try:
        return call_with_retries(read, RetryPolicy.from_env(), url)
    except NotFound:
        raise FileNotFoundError(2, "no such file", url) from None
    except StorageError as exc:
        raise OSError(0, str(exc), url) from None
    except Exception as exc:  # an SDK's own error: its type says enough, its text may hold a secret
        raise OSError(0, f"download failed: {unexpected(exc)}", url) from None


def list_image_urls(url: str, is_image_name) -> list[str]:
    """The image files under a remote folder URL, sorted, as URLs; or the URL itself when it
    names one file (a file named directly is always taken, like a local one).

    Raises StorageError (CredentialsError, NotFound...) with a message meant for the user.
    """
    return [file_url for file_url, _ in list_image_entries(url, is_image_name)]


def list_image_entries(url: str, is_image_name) -> list[tuple[str, Entry]]:
    """list_image_urls, with each file's Entry (size, hashes, modified time) from the listing:
    what the result cache needs to know a remote file is unchanged without reading it."""
    folder_error = None
    try:
        storage = open_storage(url)
        storage.check()
        entries = list(storage.list())
        found = sorted(((storage.url_for(e.path), e) for e in entries if is_image_name(e.path.rsplit("/", 1)[-1])),
                       key=lambda pair: pair[0])
        if found:
            return found
        if not entries and storage.scheme == "s3":
            # S3 has no folders: an empty prefix is nothing at all, unless it names a file
            folder_error = NotFound(f"{url}: nothing there")
    except CredentialsError:
        raise
    except StorageError as exc:
        folder_error = exc
    except Exception as exc:
        raise StorageError(f"{url}: {unexpected(exc)}") from None
    root, path = split_file_url(url)
    if path:
        try:
            entry = storage_for(root).stat(path)
            if entry is not None:
                return [(url, entry)]
        except CredentialsError:
            raise
        except StorageError:
            pass
    if folder_error is not None:
        raise folder_error
    return []
