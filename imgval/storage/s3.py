"""S3 (or any S3-compatible store) as a storage: ``s3://bucket/prefix``.

Credentials and endpoint come from boto3's standard chain (AWS_ACCESS_KEY_ID, AWS_PROFILE,
instance roles..., AWS_ENDPOINT_URL for S3-compatible stores).

S3 has no content hash we can compare with Dropbox or Box, so the hashes a file was synced
with are recorded as object metadata (``x-amz-meta-content-hash``, ``x-amz-meta-sha1``).
Overwriting an object with another tool drops that metadata, so a stale record cannot
survive a change of content.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import mimetypes
from typing import BinaryIO, Iterator

from imgval.storage import (
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
from imgval.storage.hashing import ALL_KINDS, HashingReader, VerifiedReader, check_expected, read_exactly
from imgval.storage.retry import call_translated
from imgval.storage.tls import ca_bundle

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3 refuses smaller parts (except the last)
DEFAULT_CHUNK = 16 * MIB
META_KEYS = {"content_hash": "content-hash", "sha1": "sha1", "sha256": "sha256"}


def parse_s3_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageError(f"{url!r}: expected s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


_loader = None


def make_client():
    """A client from boto3's standard chain, resolved afresh (credentials may change)."""
    import os

    import boto3
    import botocore.loaders
    import botocore.session
    from botocore.config import Config

    global _loader
    if _loader is None:
        _loader = botocore.loaders.create_loader()
    core = botocore.session.get_session()
    # sharing the loader spares re-parsing botocore's service models for every client
    core.register_component("data_loader", _loader)
    verify = None if os.environ.get("AWS_CA_BUNDLE") else ca_bundle()
    # botocore retries throttling, 5xx and connection errors on each request itself
    config = Config(retries={"mode": "standard", "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)})
    return boto3.session.Session(botocore_session=core, **_env_keys()).client("s3", config=config, verify=verify)


def _env_keys() -> dict[str, str]:
    """The environment's keys, cleaned (botocore would send a trailing "\r" as it is); empty
    when they are not both set, so the rest of boto3's chain (profiles, roles) applies."""
    key_id, secret = env_value("AWS_ACCESS_KEY_ID"), env_value("AWS_SECRET_ACCESS_KEY")
    if not (key_id and secret):
        return {}
    keys = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    token = env_value("AWS_SESSION_TOKEN")
    return {**keys, "aws_session_token": token} if token else keys


class S3Storage:
    scheme = "s3"
    hash_kinds = frozenset(ALL_KINDS)  # recorded in metadata (when we wrote the object)
    caseless = False

    def __init__(self, bucket: str, prefix: str, client=None, chunk_size: int = DEFAULT_CHUNK):
        if chunk_size < MIN_PART:
            raise StorageError(f"S3 chunk size must be at least {MIN_PART} bytes")
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/") if prefix else f"s3://{bucket}"
        self.chunk_size = chunk_size
        self.client = client or make_client()

    @classmethod
    def from_url(cls, url: str, **options) -> "S3Storage":
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, **options)

    def url_for(self, path: str) -> str:
        return f"s3://{self.bucket}/{self._key(path)}"

    def _key(self, path: str) -> str:
        return self.prefix + safe_relative_path(path)

    # -- errors ---------------------------------------------------------------------------
    def _translate(self, exc: Exception, what: str) -> Exception:
        from botocore.exceptions import (
            ClientError,
            ConnectionError as BotoConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return CredentialsError(
                "S3: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE), and AWS_ENDPOINT_URL for an S3-compatible store"
            )
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
                return NotFound(f"{what}: not found")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                return CredentialsError(f"{what}: S3 refused the credentials ({code})")
            if status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout"):
                return TransientError(f"{what}: S3 {code or status}")
            return StorageError(f"{what}: S3 {code or status}")
        if isinstance(exc, BotoConnectionError) or isinstance(exc, OSError):
            return TransientError(f"{what}: connection failed: {type(exc).__name__}")
        if isinstance(exc, (StorageError, Cancelled)):
            return exc
        return StorageError(f"{what}: S3: {unexpected(exc)}")

    def _call(self, what: str, fn, **kwargs):
        return call_translated(what, lambda: fn(**kwargs), self._translate)  # boto3 retries itself

    # -- interface ------------------------------------------------------------------------
    def check(self) -> None:
        self._call(f"s3://{self.bucket}", self.client.head_bucket, Bucket=self.bucket)

    def list(self) -> Iterator[Entry]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):  # a "folder" marker some tools create
                        continue
                    yield Entry(key[len(self.prefix) :], obj["Size"], {}, obj.get("LastModified"))
        except Exception as exc:
            translated = self._translate(exc, self.url)
            if translated is exc:
                raise
            raise translated from exc

    def stat(self, path: str) -> Entry | None:
        try:
            head = self._call(self.url_for(path), self.client.head_object, Bucket=self.bucket, Key=self._key(path))
        except NotFound:
            return None
        meta = head.get("Metadata", {})
        hashes = {kind: meta[key] for kind, key in META_KEYS.items() if key in meta}
        return Entry(path, head["ContentLength"], hashes, _modified(head))

    def open_read(self, path: str) -> BinaryIO:
        what = self.url_for(path)
        obj = self._call(what, self.client.get_object, Bucket=self.bucket, Key=self._key(path))
        # botocore checks a full-object checksum itself (_ReadTranslator reports its verdict)
        return VerifiedReader(_ReadTranslator(obj["Body"], self, what), obj.get("ContentLength"),
                              recorded_hashes(obj), what, modified=_modified(obj))

    def write(self, path: str, stream: BinaryIO, size: int, hashes: dict[str, str],
              modified: dt.datetime | None = None) -> Entry:
        key = self._key(path)
        what = self.url_for(path)
        reader = HashingReader(stream)
        # the modification time as rclone keeps it (x-amz-meta-mtime), a type by extension
        extra = {"mtime": f"{modified.timestamp():.9f}"} if modified is not None else {}
        content_type = {"ContentType": mimetypes.guess_type(path)[0] or "application/octet-stream"}
        if size <= self.chunk_size:
            data = read_exactly(reader, size + 1)  # +1: notice a source longer than announced
            computed = check_expected(reader.hasher, size, hashes, what)
            self._send_checked(what, self.client.put_object, data, Bucket=self.bucket, Key=key,
                               Metadata={**_metadata(computed), **extra}, **content_type)
        else:
            computed = self._multipart(key, reader, size, hashes, what, extra, content_type)
        return Entry(path, size, computed, None)

    def _send_checked(self, what: str, send, data: bytes, **kwargs):
        """Upload one body with its MD5 (S3 refuses it if the bytes arrive changed) and check the
        ETag it answers; returns the response and the body's MD5 digest."""
        md5 = hashlib.md5(data)
        response = self._call(what, send, Body=data, ContentMD5=base64.b64encode(md5.digest()).decode(), **kwargs)
        _check_etag(response, md5.hexdigest(), what)
        return response, md5.digest()

    def _multipart(self, key, reader: HashingReader, size, expected, what, extra, content_type) -> dict[str, str]:
        # Metadata is fixed when the upload starts, before we have read anything, so only
        # the hashes the caller already knows are recorded; they are checked before completing.
        upload = self._call(
            what,
            self.client.create_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            Metadata={**_metadata(expected), **extra},
            **content_type,
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            part_md5s = []
            number = 1
            while True:
                data = read_exactly(reader, self.chunk_size)
                if not data:
                    break
                response, md5 = self._send_checked(f"{what} part {number}", self.client.upload_part, data,
                                                   Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                   PartNumber=number)
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
                part_md5s.append(md5)
                number += 1
            computed = check_expected(reader.hasher, size, expected, what)
            response = self._call(
                what,
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            whole = hashlib.md5(b"".join(part_md5s)).hexdigest() + f"-{len(parts)}"
            _check_etag(response, whole, what)
            return computed
        except BaseException:
            # also on Ctrl-C: an aborted upload leaves nothing under the key (a killed
            # process leaves invisible parts; a bucket lifecycle rule should expire them)
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:
                pass
            raise


def _modified(response: dict) -> dt.datetime | None:
    """The file's modification time: the ``mtime`` metadata rclone and imgval write, else when
    the object was stored."""
    try:
        return dt.datetime.fromtimestamp(float(response["Metadata"]["mtime"]), tz=dt.timezone.utc)
    except (KeyError, TypeError, ValueError, OverflowError):
        return response.get("LastModified")


def recorded_hashes(response: dict) -> dict[str, str]:
    """What an object's GET or HEAD says its content hashes to: the hashes imgval put in its
    metadata, and the ETag where it is the content's MD5 (one part, not SSE-KMS or SSE-C)."""
    meta = response.get("Metadata", {})
    hashes = {kind: meta[key] for kind, key in META_KEYS.items() if key in meta}
    etag = response.get("ETag", "").strip('"')
    if etag_is_md5(response) and len(etag) == 32 and "-" not in etag:
        hashes["md5"] = etag
    return hashes


def etag_is_md5(response: dict) -> bool:
    """False where AWS documents ETags that are not MD5s: SSE-KMS (and DSSE-KMS), SSE-C."""
    return not (str(response.get("ServerSideEncryption", "")).startswith("aws:kms")
                or response.get("SSECustomerAlgorithm"))


def _metadata(hashes: dict[str, str]) -> dict[str, str]:
    return {META_KEYS[k]: v for k, v in hashes.items() if k in META_KEYS}


def _check_etag(response: dict, expected: str, what: str) -> None:
    """An upload's ETag against the MD5 of what was sent, where the ETag is one (S3 checked
    each body's Content-MD5 itself either way)."""
    etag = response.get("ETag", "").strip('"')
    # other S3-compatible stores may answer other forms: only the MD5 form is compared
    if len(etag.split("-")[0]) == 32 and etag_is_md5(response) and etag != expected:
        raise TransientError(f"{what}: S3 ETag {etag} does not match the uploaded bytes")


class _ReadTranslator(io.RawIOBase):
    """Botocore's streaming body, with dropped connections turned into TransientError."""

    def __init__(self, body, storage: S3Storage, what: str):
        self._body = body
        self._storage = storage
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except Exception as exc:
            from botocore.exceptions import FlexibleChecksumError, IncompleteReadError, ResponseStreamingError

            if isinstance(exc, FlexibleChecksumError):
                raise TransientError(f"{self._what}: S3 checksum mismatch (damaged in transit)") from None
            if isinstance(exc, (IncompleteReadError, ResponseStreamingError, OSError)):
                raise TransientError(f"{self._what}: download interrupted") from exc
            raise TransientError(f"{self._what}: download failed: {unexpected(exc)}") from None

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()
