"""A Dropbox folder as a storage: ``dropbox:/Scans/2026``.

Credentials (environment): DROPBOX_ACCESS_TOKEN, or DROPBOX_REFRESH_TOKEN with
DROPBOX_APP_KEY (and DROPBOX_APP_SECRET unless the token came from a PKCE flow).
DROPBOX_API_HOST / DROPBOX_API_CONTENT_HOST (read by the SDK) point it elsewhere.

Named ``dropbox_store`` so nothing can mistake it for the SDK package ``dropbox``.
The SDK's own retry loops are turned off: imgval.storage.retry handles 429/5xx/dropped
connections the same way for every backend.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import BinaryIO, Iterator

from imgval.storage import (
    CONTENT_HASH,
    Cancelled,
    CredentialsError,
    Entry,
    NotFound,
    StorageError,
    TransientError,
    safe_relative_path,
    unexpected,
)
from imgval.storage.credentials import env_value
from imgval.storage.hashing import HashingReader, VerifiedReader, check_expected, read_exactly
from imgval.storage.retry import RetryPolicy, call_translated, normalise_retry_after
from imgval.storage.tls import ca_bundle

MIB = 1024 * 1024
DEFAULT_CHUNK = 16 * MIB  # Dropbox allows up to 150 MiB a request; memory use is one chunk
MISSING_CREDENTIALS = (
    "Dropbox: no credentials; set DROPBOX_ACCESS_TOKEN, or DROPBOX_REFRESH_TOKEN with "
    "DROPBOX_APP_KEY (and DROPBOX_APP_SECRET)"
)


def make_client():
    """A Dropbox client from the environment; raises CredentialsError naming what is missing."""
    import dropbox  # deferred: the SDK reads DROPBOX_API_HOST when first imported

    access = env_value("DROPBOX_ACCESS_TOKEN")
    refresh = env_value("DROPBOX_REFRESH_TOKEN")
    app_key = env_value("DROPBOX_APP_KEY")
    session = dropbox.create_session(ca_certs=ca_bundle())
    session.hooks["response"] += [normalise_retry_after, _refuse_foreign_401]
    common = dict(max_retries_on_error=0, max_retries_on_rate_limit=0, user_agent="imgval", session=session)
    if refresh:
        if not app_key:
            raise CredentialsError("Dropbox: DROPBOX_REFRESH_TOKEN is set but DROPBOX_APP_KEY is missing")
        return dropbox.Dropbox(
            oauth2_refresh_token=refresh,
            app_key=app_key,
            app_secret=env_value("DROPBOX_APP_SECRET"),
            **common,
        )
    if access:
        return dropbox.Dropbox(oauth2_access_token=access, **common)
    raise CredentialsError(MISSING_CREDENTIALS)


def _refuse_foreign_401(response, *args, **kwargs):
    """A 401 that is not Dropbox's JSON (a proxy's or gateway's page) makes the SDK fail an
    assertion; it is a refusal of the credentials all the same."""
    if response.status_code == 401 and "json" not in response.headers.get("Content-Type", ""):
        raise CredentialsError("Dropbox refused the request (HTTP 401, answered by a page that is not "
                               "Dropbox's: a proxy, or rejected credentials)")


def parse_dropbox_url(url: str) -> str:
    path = url[len("dropbox:") :].strip()
    path = "/" + path.strip("/") if path.strip("/") else ""
    return path  # "" is the root of the account, as the API names it


class DropboxStorage:
    scheme = "dropbox"
    hash_kinds = frozenset({CONTENT_HASH})
    caseless = True

    def __init__(self, root: str, client=None, chunk_size: int = DEFAULT_CHUNK, retry: RetryPolicy | None = None):
        self.root = root
        self.url = f"dropbox:{root or '/'}"
        self.chunk_size = chunk_size
        self.retry = retry or RetryPolicy.from_env()
        self.client = client or make_client()

    @classmethod
    def from_url(cls, url: str, **options) -> "DropboxStorage":
        return cls(parse_dropbox_url(url), **options)

    def _full(self, path: str) -> str:
        return f"{self.root}/{safe_relative_path(path)}"

    def url_for(self, path: str) -> str:
        return f"dropbox:{self._full(path)}"

    # -- errors ---------------------------------------------------------------------------
    def _translate(self, exc: Exception, what: str) -> Exception:
        import dropbox.exceptions as dx
        import requests

        if isinstance(exc, dx.AuthError):
            return CredentialsError(
                "Dropbox rejected the credentials (check DROPBOX_ACCESS_TOKEN, or "
                "DROPBOX_REFRESH_TOKEN / DROPBOX_APP_KEY / DROPBOX_APP_SECRET)"
            )
        if isinstance(exc, dx.BadInputError) and "invalid_grant" in str(exc.message):
            return CredentialsError("Dropbox rejected DROPBOX_REFRESH_TOKEN (invalid_grant)")
        if isinstance(exc, dx.RateLimitError):
            return TransientError(f"{what}: Dropbox rate limit", retry_after=exc.backoff)
        if isinstance(exc, dx.InternalServerError):
            return TransientError(f"{what}: Dropbox server error {exc.status_code}")
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
            return TransientError(f"{what}: connection failed: {type(exc).__name__}")
        if isinstance(exc, dx.ApiError):
            summary = getattr(exc, "error_summary", None) or str(exc.error)
            if "not_found" in str(summary) or "not_found" in repr(exc.error):
                return NotFound(f"{what}: not found")
            if "incorrect_offset" in repr(exc.error):
                return exc  # handled by the caller
            return StorageError(f"{what}: Dropbox error {summary}")
        if isinstance(exc, dx.HttpError):
            return StorageError(f"{what}: Dropbox HTTP {exc.status_code}")
        if isinstance(exc, (StorageError, Cancelled)):
            return exc
        return StorageError(f"{what}: Dropbox: {unexpected(exc)}")

    def _call(self, what: str, fn, *args, **kwargs):
        return call_translated(what, lambda: fn(*args, **kwargs), self._translate, self.retry)

    # -- interface ------------------------------------------------------------------------
    def check(self) -> None:
        self._call(self.url, self.client.files_list_folder, self.root, limit=1)

    def list(self) -> Iterator[Entry]:
        import dropbox

        result = self._call(self.url, self.client.files_list_folder, self.root, recursive=True, limit=1000)
        # the root as typed may differ from the stored folder's in case or Unicode form (and so
        # in length): drop its path components, not its characters
        depth = len(self.root.strip("/").split("/")) if self.root else 0
        while True:
            for meta in result.entries:
                if isinstance(meta, dropbox.files.FileMetadata):
                    yield self._entry("/".join(meta.path_display.strip("/").split("/")[depth:]), meta)
            if not result.has_more:
                return
            result = self._call(self.url, self.client.files_list_folder_continue, result.cursor)

    @staticmethod
    def _entry(path: str, meta) -> Entry:
        modified = meta.client_modified or meta.server_modified  # the file's own time, as rclone reads it
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.timezone.utc)
        hashes = {CONTENT_HASH: meta.content_hash} if meta.content_hash else {}
        return Entry(path, meta.size, hashes, modified)

    def stat(self, path: str) -> Entry | None:
        import dropbox

        try:
            meta = self._call(self.url_for(path), self.client.files_get_metadata, self._full(path))
        except NotFound:
            return None
        if not isinstance(meta, dropbox.files.FileMetadata):
            return None
        return self._entry(path, meta)

    def open_read(self, path: str) -> BinaryIO:
        what = self.url_for(path)
        meta, response = self._call(what, self.client.files_download, self._full(path))
        # the file's own record comes with the download: its size and content_hash
        expected = {CONTENT_HASH: meta.content_hash} if meta.content_hash else {}
        return VerifiedReader(_ResponseReader(response, what), meta.size, expected, what)

    def write(self, path: str, stream: BinaryIO, size: int, hashes: dict[str, str],
              modified: dt.datetime | None = None) -> Entry:
        import dropbox

        # client_modified: the time Dropbox shows and rclone keeps (whole seconds, UTC)
        client_modified = (modified.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
                           if modified is not None else None)
        full = self._full(path)
        what = self.url_for(path)
        reader = HashingReader(stream)
        overwrite = dropbox.files.WriteMode.overwrite
        # the SDK adds each request body's content_hash; Dropbox refuses a body that differs
        if size <= self.chunk_size:
            data = read_exactly(reader, size + 1)
            computed = check_expected(reader.hasher, size, hashes, what)
            meta = self._call(what, self.client.files_upload, data, full, mode=overwrite,
                              client_modified=client_modified)
        else:
            data = read_exactly(reader, self.chunk_size)
            session = self._call(what, self.client.files_upload_session_start, data)
            offset = len(data)
            while True:
                data = read_exactly(reader, self.chunk_size)
                if not data:
                    break
                cursor = dropbox.files.UploadSessionCursor(session.session_id, offset)
                self._append(what, data, cursor)
                offset += len(data)
            # the whole content is checked before the commit that makes it visible
            computed = check_expected(reader.hasher, size, hashes, what)
            cursor = dropbox.files.UploadSessionCursor(session.session_id, offset)
            commit = dropbox.files.CommitInfo(path=full, mode=overwrite, client_modified=client_modified)
            meta = self._call(what, self.client.files_upload_session_finish, b"", cursor, commit)
        if meta.size != size or meta.content_hash != computed[CONTENT_HASH]:
            raise TransientError(f"{what}: Dropbox recorded different content than was sent")
        return Entry(path, size, computed, meta.server_modified)

    def _append(self, what: str, data: bytes, cursor) -> None:
        import dropbox

        try:
            self._call(what, self.client.files_upload_session_append_v2, data, cursor)
        except dropbox.exceptions.ApiError as exc:
            # a retry after a dropped connection may find the chunk already appended
            error = exc.error
            if error.is_incorrect_offset():
                correct = error.get_incorrect_offset().correct_offset
                if correct == cursor.offset + len(data):
                    return
            raise StorageError(f"{what}: Dropbox upload session error {error}") from exc


class _ResponseReader(io.RawIOBase):
    """The download's HTTP body as a stream; a dropped connection becomes TransientError."""

    def __init__(self, response, what: str):
        self._response = response
        self._raw = response.raw
        self._what = what
        self._expected = int(response.headers.get("Content-Length", -1))
        self._read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(None if size is None or size < 0 else size, decode_content=True)
        except Exception as exc:
            raise TransientError(f"{self._what}: download interrupted ({type(exc).__name__})") from exc
        self._read += len(data)
        if not data and 0 <= self._expected != self._read:
            raise TransientError(f"{self._what}: download ended after {self._read} of {self._expected} bytes")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._response.close()
        super().close()
