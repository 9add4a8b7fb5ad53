"""A Box folder as a storage: ``box:FOLDER_ID`` (``box:0`` is the account's root).

Credentials (environment), first found wins:
  BOX_DEVELOPER_TOKEN                                   a developer token (60 minutes)
  BOX_CLIENT_ID, BOX_CLIENT_SECRET + BOX_ENTERPRISE_ID or BOX_USER_ID
                                                        client-credentials grant (unattended)
  BOX_JWT_CONFIG                                        path to the app's JWT JSON config
IMGVAL_BOX_API_URL / IMGVAL_BOX_UPLOAD_URL / IMGVAL_BOX_OAUTH2_URL point the SDK elsewhere
(a Box-compatible gateway, or the test emulator).

Box records a SHA-1 for every file; comparisons with other storages use it. Uploads carry
the SHA-1 (whole file, and each part of a chunked upload) so Box refuses corrupted bytes,
and a chunked upload becomes visible only at its commit.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import threading
from typing import BinaryIO, Iterator

from imgval.storage import (
    SHA1,
    Cancelled,
    CredentialsError,
    Entry,
    NotFound,
    StorageError,
    TransientError,
    name_key,
    safe_relative_path,
    unexpected,
)
from imgval.storage.credentials import env_value
from imgval.storage.hashing import HashingReader, VerifiedReader, check_expected, read_exactly
from imgval.storage.retry import RetryPolicy, call_translated, normalise_retry_after, parse_retry_after, wait
from imgval.storage.tls import ca_bundle

MIB = 1024 * 1024
# Box recommends chunked uploads above 50 MB and refuses them below 20 MB
DEFAULT_CHUNKED_THRESHOLD = 50 * MIB
FIELDS = ["type", "id", "name", "size", "sha1", "modified_at", "content_modified_at"]
MISSING_CREDENTIALS = (
    "Box: no credentials; set BOX_DEVELOPER_TOKEN, or BOX_CLIENT_ID and BOX_CLIENT_SECRET with "
    "BOX_ENTERPRISE_ID or BOX_USER_ID, or BOX_JWT_CONFIG (path to the app's JWT config JSON)"
)


def make_auth():
    from box_sdk_gen import BoxCCGAuth, BoxDeveloperTokenAuth, CCGConfig

    token = env_value("BOX_DEVELOPER_TOKEN")
    client_id = env_value("BOX_CLIENT_ID")
    client_secret = env_value("BOX_CLIENT_SECRET")
    jwt_config = env_value("BOX_JWT_CONFIG")
    if token:
        return _developer_token_auth(BoxDeveloperTokenAuth)(token=token)
    if client_id or client_secret:
        enterprise = env_value("BOX_ENTERPRISE_ID")
        user = env_value("BOX_USER_ID")
        missing = [n for n, v in (("BOX_CLIENT_ID", client_id), ("BOX_CLIENT_SECRET", client_secret)) if not v]
        if not (enterprise or user):
            missing.append("BOX_ENTERPRISE_ID or BOX_USER_ID")
        if missing:
            raise CredentialsError(f"Box client-credentials: {', '.join(missing)} missing")
        return BoxCCGAuth(config=CCGConfig(client_id, client_secret, enterprise_id=enterprise, user_id=user))
    if jwt_config:
        from box_sdk_gen import BoxJWTAuth, JWTConfig

        if not os.path.isfile(jwt_config):
            raise CredentialsError(f"Box: BOX_JWT_CONFIG names {jwt_config!r}, which is not a file")
        try:
            return BoxJWTAuth(config=JWTConfig.from_config_file(jwt_config))
        except ImportError as exc:
            raise CredentialsError(f"Box JWT auth needs an extra package: {exc} (pip install 'boxsdk[jwt]')") from exc
    raise CredentialsError(MISSING_CREDENTIALS)


def _developer_token_auth(base):
    class DeveloperTokenAuth(base):
        """The SDK asks for a new token after a connection dropped mid-upload ("EOF occurred
        in violation of protocol"); a developer token cannot be refreshed, and the stock class
        raises "token expired", which would turn a network blip into a credentials error.
        Re-sending the same token is right: a really rejected one still ends in a 401."""

        def refresh_token(self, *, network_session=None):
            return self.retrieve_token(network_session=network_session)

    return DeveloperTokenAuth


def _retry_strategy(base, policy: RetryPolicy, **kwargs):
    class RetryStrategy(base):
        def should_retry(self, fetch_options, fetch_response, attempt_number):
            # a 401 for a token that cannot be refreshed will not improve by waiting
            auth = fetch_options.auth
            if fetch_response.status == 401 and auth is not None and type(auth).__name__ == "DeveloperTokenAuth":
                return False
            asked = parse_retry_after(fetch_response.headers.get("Retry-After"))
            if asked is not None and asked > policy.max_wait:
                return False  # the error reaches call_with_retries, which fails the file at once
            return super().should_retry(fetch_options, fetch_response, attempt_number)

        def retry_after(self, fetch_options, fetch_response, attempt_number):
            # the SDK sleeps uninterruptibly for what this returns: wait here instead
            wait(super().retry_after(fetch_options, fetch_response, attempt_number))
            return 0

    return RetryStrategy(**kwargs)


def make_client(retry: RetryPolicy):
    import requests
    from box_sdk_gen import BaseUrls, BoxClient, NetworkSession
    from box_sdk_gen.networking.box_network_client import BoxNetworkClient
    from box_sdk_gen.networking.retries import BoxRetryStrategy

    defaults = BaseUrls()
    base_urls = BaseUrls(
        base_url=os.environ.get("IMGVAL_BOX_API_URL", defaults.base_url),
        upload_url=os.environ.get("IMGVAL_BOX_UPLOAD_URL", defaults.upload_url),
        oauth_2_url=os.environ.get("IMGVAL_BOX_OAUTH2_URL", defaults.oauth_2_url),
    )
    session = requests.Session()
    bundle = ca_bundle()
    if bundle:
        session.verify = bundle
    # the SDK retries 429 (honouring Retry-After), 5xx and, for seekable bodies, dropped
    # connections; our policy sets how patiently
    session.hooks["response"].append(normalise_retry_after)  # the SDK parses only seconds
    strategy = _retry_strategy(BoxRetryStrategy, retry, max_attempts=retry.attempts,
                               retry_base_interval=retry.base_delay)
    network = NetworkSession(base_urls=base_urls, retry_strategy=strategy,
                             network_client=BoxNetworkClient(requests_session=session))
    return BoxClient(auth=make_auth(), network_session=network)


class BoxStorage:
    scheme = "box"
    hash_kinds = frozenset({SHA1})
    caseless = True

    def __init__(self, folder_id: str, client=None, chunked_threshold: int = DEFAULT_CHUNKED_THRESHOLD,
                 retry: RetryPolicy | None = None, **_options):
        self.root_id = folder_id
        self.url = f"box:{folder_id}"
        self.chunked_threshold = chunked_threshold
        self.retry = retry or RetryPolicy.from_env()
        self.client = client or make_client(self.retry)
        self._lock = threading.RLock()
        self._folders: dict[str, str] = {"": folder_id}  # relative dir -> folder id
        # folder id -> name_key -> (type, id, sha1, size); the SHA-1 checks downloads
        self._children: dict[str, dict[str, tuple]] = {}

    @classmethod
    def from_url(cls, url: str, **options) -> "BoxStorage":
        folder_id = url[len("box:") :].strip("/")
        if not folder_id.isdigit():
            raise StorageError(f"{url!r}: expected box:FOLDER_ID (the number in the folder's web address)")
        options.pop("chunk_size", None)  # Box chooses the part size itself
        return cls(folder_id, **options)

    def url_for(self, path: str) -> str:
        return f"{self.url}/{safe_relative_path(path)}"

    # -- errors ---------------------------------------------------------------------------
    def _translate(self, exc: Exception, what: str) -> Exception:
        from box_sdk_gen import BoxAPIError, BoxSDKError

        if isinstance(exc, BoxAPIError):
            status = exc.response_info.status_code
            code = exc.response_info.code or ""
            if status == 401:
                return CredentialsError("Box rejected the credentials (BOX_DEVELOPER_TOKEN, BOX_CLIENT_ID...)")
            body = exc.response_info.body if isinstance(exc.response_info.body, dict) else {}
            if status in (400, 403) and ("oauth2/token" in (exc.request_info.url or "")
                                         or body.get("error") in ("invalid_client", "invalid_grant",
                                                                  "unauthorized_client")):
                return CredentialsError("Box refused the client credentials: check BOX_CLIENT_ID and "
                                        "BOX_CLIENT_SECRET, and BOX_ENTERPRISE_ID or BOX_USER_ID")
            if status == 404:
                return NotFound(f"{what}: not found")
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(exc.response_info.headers.get("Retry-After"))
                return TransientError(f"{what}: Box {status}", retry_after)
            return StorageError(f"{what}: Box {status} {code}")
        if isinstance(exc, BoxSDKError):
            text = str(exc.message if hasattr(exc, "message") else exc)
            if "token" in text.lower() and ("expired" in text.lower() or "invalid" in text.lower()):
                return CredentialsError(f"Box rejected the credentials: {text}")
            if "invalid_client" in text or "invalid_grant" in text or "400" in text and "oauth" in text.lower():
                return CredentialsError("Box refused the client credentials (BOX_CLIENT_ID / BOX_CLIENT_SECRET)")
            return TransientError(f"{what}: {type(exc).__name__}: connection problem")
        import requests

        if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
            return TransientError(f"{what}: connection failed: {type(exc).__name__}")
        if isinstance(exc, (StorageError, Cancelled)):
            return exc
        return StorageError(f"{what}: Box: {unexpected(exc)}")

    def _call(self, what: str, fn, *args, **kwargs):
        return call_translated(what, lambda: fn(*args, **kwargs), self._translate, self.retry)

    # -- folders --------------------------------------------------------------------------
    def _items(self, folder_id: str):
        marker = None
        while True:
            page = self._call(self.url, self.client.folders.get_folder_items, folder_id,
                              fields=FIELDS, usemarker=True, marker=marker, limit=1000)
            yield from page.entries
            marker = getattr(page, "next_marker", None)
            if not marker:
                return

    def _children_of(self, folder_id: str) -> dict[str, tuple]:
        with self._lock:
            if folder_id not in self._children:
                self._children[folder_id] = {name_key(item.name, True): _child(item) for item in self._items(folder_id)}
            return self._children[folder_id]

    def _folder_id(self, rel_dir: str, create: bool) -> str | None:
        with self._lock:
            if rel_dir in self._folders:
                return self._folders[rel_dir]
            parent_dir, _, name = rel_dir.rpartition("/")
            parent = self._folder_id(parent_dir, create)
            if parent is None:
                return None
            found = self._children_of(parent).get(name_key(name, True))
            if found and found[0] == "folder":
                folder_id = found[1]
            elif found or not create:
                return None
            else:
                folder_id = self._create_folder(parent, name)
                self._children_of(parent)[name_key(name, True)] = ("folder", folder_id, None, None)
            self._folders[rel_dir] = folder_id
            return folder_id

    def _create_folder(self, parent: str, name: str) -> str:
        from box_sdk_gen import BoxAPIError
        from box_sdk_gen.managers.folders import CreateFolderParent

        try:
            return self.client.folders.create_folder(name, CreateFolderParent(id=parent)).id
        except BoxAPIError as exc:
            conflicts = (exc.response_info.context_info or {}).get("conflicts")
            if exc.response_info.status_code == 409 and conflicts:
                # created meanwhile by someone else: use theirs
                conflict = conflicts[0] if isinstance(conflicts, list) else conflicts
                return conflict["id"]
            raise self._translate(exc, f"{self.url}: create folder {name!r}") from exc

    def _file_id(self, path: str) -> tuple[str | None, str | None]:
        """(parent folder id, file id) for a path, either may be None."""
        parent, found = self._file(path)
        return parent, (found[1] if found else None)

    def _file(self, path: str) -> tuple[str | None, tuple | None]:
        """(parent folder id, the file's (type, id, sha1, size) as listed), either may be None."""
        rel_dir, _, name = safe_relative_path(path).rpartition("/")
        parent = self._folder_id(rel_dir, create=False)
        if parent is None:
            return None, None
        found = self._children_of(parent).get(name_key(name, True))
        return parent, (found if found and found[0] == "file" else None)

    def _forget(self, folder_id: str) -> None:
        """Drop a folder's cached listing (a download did not match it: it may be stale)."""
        with self._lock:
            self._children.pop(folder_id, None)

    def ancestors(self) -> list[str]:
        """The ids of the folders above this storage's folder."""
        folder = self._call(self.url, self.client.folders.get_folder_by_id, self.root_id,
                            fields=["id", "path_collection"])
        collection = getattr(folder, "path_collection", None)
        return [entry.id for entry in (collection.entries if collection else [])]

    # -- interface ------------------------------------------------------------------------
    def check(self) -> None:
        self._call(self.url, self.client.folders.get_folder_by_id, self.root_id, fields=["id", "name"])

    def list(self) -> Iterator[Entry]:
        pending = [("", self.root_id)]
        while pending:
            rel_dir, folder_id = pending.pop()
            children = {}
            for item in self._items(folder_id):
                kind = item.type.value if hasattr(item.type, "value") else item.type
                children[name_key(item.name, True)] = _child(item)
                rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
                if kind == "folder":
                    pending.append((rel, item.id))
                    with self._lock:
                        self._folders[rel] = item.id
                elif kind == "file":
                    yield Entry(rel, item.size or 0, {SHA1: item.sha_1} if item.sha_1 else {},
                                item.content_modified_at or item.modified_at)
            with self._lock:
                self._children[folder_id] = children

    def stat(self, path: str) -> Entry | None:
        _parent, file_id = self._file_id(path)
        if file_id is None:
            return None
        try:
            item = self._call(self.url_for(path), self.client.files.get_file_by_id, file_id, fields=FIELDS)
        except NotFound:
            return None
        return Entry(path, item.size or 0, {SHA1: item.sha_1} if item.sha_1 else {},
                     item.content_modified_at or item.modified_at)

    def open_read(self, path: str) -> BinaryIO:
        what = self.url_for(path)
        parent, found = self._file(path)
        if found is None:
            raise NotFound(f"{what}: not found")
        _kind, file_id, sha1, size = found
        stream = self._call(what, self.client.downloads.download_file, file_id)
        return VerifiedReader(_StreamTranslator(stream, what), size, {SHA1: sha1} if sha1 else {}, what,
                              on_mismatch=lambda: self._forget(parent))

    def write(self, path: str, stream: BinaryIO, size: int, hashes: dict[str, str],
              modified: dt.datetime | None = None) -> Entry:
        modified = modified.replace(microsecond=0) if modified is not None else None  # Box keeps seconds
        what = self.url_for(path)
        rel_dir, _, name = safe_relative_path(path).rpartition("/")
        parent = self._folder_id(rel_dir, create=True)
        _parent, file_id = self._file_id(path)
        reader = HashingReader(stream)
        if size < self.chunked_threshold:
            data = read_exactly(reader, size + 1)
            computed = check_expected(reader.hasher, size, hashes, what)
            item = self._upload_small(parent, name, file_id, data, computed[SHA1], what, modified)
        else:
            item = self._upload_chunked(parent, name, file_id, reader, size, hashes, what, modified)
            computed = reader.hasher.hexdigests()
        if item.size != size or item.sha_1 != computed[SHA1]:
            raise TransientError(f"{what}: Box recorded different content than was sent")
        with self._lock:
            self._children_of(parent)[name_key(name, True)] = ("file", item.id, item.sha_1, item.size)
        return Entry(path, size, computed, item.content_modified_at or item.modified_at)

    def _upload_small(self, parent, name, file_id, data, sha1, what, modified):
        from box_sdk_gen import BoxAPIError
        from box_sdk_gen.managers.uploads import (
            UploadFileAttributes,
            UploadFileAttributesParentField,
            UploadFileVersionAttributes,
        )

        def upload_new():
            attributes = UploadFileAttributes(name, UploadFileAttributesParentField(id=parent),
                                              content_modified_at=modified)
            return self.client.uploads.upload_file(attributes, io.BytesIO(data), file_file_name=name,
                                                   content_md_5=sha1, fields=FIELDS)

        def upload_version(existing_id):
            return self.client.uploads.upload_file_version(
                existing_id, UploadFileVersionAttributes(name, content_modified_at=modified), io.BytesIO(data),
                file_file_name=name,
                content_md_5=sha1, fields=FIELDS)

        if file_id:
            return self._call(what, upload_version, file_id).entries[0]
        try:
            return self._call(what, upload_new).entries[0]
        except StorageError as exc:
            conflict = _conflict_id(exc.__cause__) if isinstance(exc.__cause__, BoxAPIError) else None
            if conflict is None:
                raise
            # there already (listing was stale, or an earlier attempt got through)
            return self._call(what, upload_version, conflict).entries[0]

    def _upload_chunked(self, parent, name, file_id, reader, size, expected, what, modified):
        chunked = self.client.chunked_uploads
        if file_id:
            session = self._call(what, chunked.create_file_upload_session_for_existing_file, file_id, size,
                                 file_name=name)
        else:
            session = self._call(what, chunked.create_file_upload_session, parent, size, name)
        endpoints = session.session_endpoints
        try:
            parts = []
            offset = 0
            while offset < size:
                data = read_exactly(reader, min(session.part_size, size - offset))
                if not data:
                    break
                digest = "sha=" + base64.b64encode(hashlib.sha1(data).digest()).decode()
                content_range = f"bytes {offset}-{offset + len(data) - 1}/{size}"
                uploaded = self._call(what, chunked.upload_file_part_by_url, endpoints.upload_part,
                                      io.BytesIO(data), digest, content_range)
                parts.append(uploaded.part)
                offset += len(data)
            read_exactly(reader, 1)  # a source longer than announced must not pass unnoticed
            computed = check_expected(reader.hasher, size, expected, what)
            whole = "sha=" + base64.b64encode(bytes.fromhex(computed[SHA1])).decode()
            for _ in range(self.retry.attempts * 4):
                files = self._call(what, _commit_session, chunked, endpoints.commit, parts, whole, modified)
                if files is not None:  # None: 202, Box still assembling the parts
                    return files.entries[0]
                wait(self.retry.base_delay)
            raise TransientError(f"{what}: Box did not finish assembling the upload")
        except BaseException:
            try:  # also on Ctrl-C: nothing of an aborted session ever becomes visible
                chunked.delete_file_upload_session_by_url(endpoints.abort)
            except Exception:
                pass
            raise


def _commit_session(chunked, url: str, parts, digest: str, modified: dt.datetime | None):
    """The SDK's create_file_upload_session_commit_by_url, plus the ``attributes`` the API takes
    and the SDK does not send: ``content_modified_at``, the file's own time. None while Box
    is still assembling the parts (202)."""
    from box_sdk_gen.internal.utils import date_time_to_string
    from box_sdk_gen.networking.fetch_options import FetchOptions, ResponseFormat
    from box_sdk_gen.schemas.files import Files
    from box_sdk_gen.serialization.json import deserialize, serialize

    body = {"parts": parts}
    if modified is not None:
        body["attributes"] = {"content_modified_at": date_time_to_string(modified)}
    response = chunked.network_session.network_client.fetch(FetchOptions(
        url=url, method="POST", headers={"digest": digest}, data=serialize(body), content_type="application/json",
        response_format=ResponseFormat.JSON, auth=chunked.auth, network_session=chunked.network_session))
    return None if response.status == 202 else deserialize(response.data, Files)


def _child(item) -> tuple:
    kind = item.type.value if hasattr(item.type, "value") else item.type
    return kind, item.id, getattr(item, "sha_1", None), getattr(item, "size", None)


def _conflict_id(exc) -> str | None:
    if exc.response_info.status_code != 409:
        return None
    conflicts = (exc.response_info.context_info or {}).get("conflicts")
    if isinstance(conflicts, list):
        conflicts = conflicts[0] if conflicts else None
    if conflicts and conflicts.get("type") == "file":
        return conflicts["id"]
    return None


class _StreamTranslator(io.RawIOBase):
    """The SDK's download stream, with a dropped connection turned into TransientError."""

    def __init__(self, stream, what: str):
        self._stream = stream
        self._what = what

    def readable(self) -> bool:
        return True

    # The SDK's stream grows a bytes buffer by 1 KiB pieces up to the size asked for
    # (quadratic in it), so ask for small slices.
    SLICE = 16 * 1024

    def read(self, size: int = -1) -> bytes:
        pieces = []
        remaining = size if size is not None and size >= 0 else float("inf")
        try:
            while remaining > 0:
                piece = self._stream.read(int(min(self.SLICE, remaining)))
                if not piece:
                    break
                pieces.append(piece)
                remaining -= len(piece)
        except Exception as exc:
            raise TransientError(f"{self._what}: download interrupted ({type(exc).__name__})") from exc
        return b"".join(pieces)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception:
            pass
        super().close()
