"""Emulator of the Dropbox API v2 routes imgval uses, spoken to by the real ``dropbox`` SDK.

Routes: files/list_folder(+continue), files/get_metadata, files/download, files/upload,
files/upload_session/{start,append_v2,finish}, oauth2/token (refresh grant).
Paths are case-insensitive as on Dropbox; list_folder pages are small so ``continue`` is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import unicodedata
import uuid

from imgval.storage.hashing import hash_bytes

from .base import FaultyEmulator, Request, Response

_ids = itertools.count(1)


@dataclasses.dataclass
class DbxFile:
    path_display: str
    data: bytes
    id: str
    rev: str
    modified: str
    client_modified: str = ""  # what the uploader said (rclone's mtime); else the upload time


def _key(path: str) -> str:
    """Dropbox compares paths ignoring case and Unicode form."""
    return unicodedata.normalize("NFC", path).lower()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path_error(tag: str, summary: str) -> Response:
    return Response.json(
        {"error_summary": f"path/{summary}/", "error": {".tag": "path", "path": {".tag": summary}}},
        status=409,
    )


class DropboxEmulator(FaultyEmulator):
    page_size = 3

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.files: dict[str, DbxFile] = {}  # path_lower -> file
            self.folders: dict[str, str] = {"": ""}  # path_lower -> path_display
            self.sessions: dict[str, bytearray] = {}
            self.access_tokens = {"test-access-token"}
            self.refresh_tokens = {"test-refresh-token": ("test-app-key", "test-app-secret")}
            self.faults.clear()
            self.calls.clear()
            self.downloads = 0

    # -- test helpers ---------------------------------------------------------------------
    def put_file(self, path: str, data: bytes, client_modified: str = "") -> None:
        with self.lock:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                folder = "/" + "/".join(parts[:i])
                self.folders.setdefault(_key(folder), folder)
            key = _key(path)
            old = self.files.get(key)
            file_id = old.id if old else f"id:emu{next(_ids):06d}"
            self.files[key] = DbxFile(path, data, file_id, f"{next(_ids):015x}", _now(), client_modified)

    # -- routing --------------------------------------------------------------------------
    def route_name(self, path: str, method: str) -> str:
        return path.removeprefix("/2/")

    def handle(self, request: Request) -> Response:
        route = request.path.removeprefix("/2/")
        if request.path == "/oauth2/token":
            return self._token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            return Response.json(
                {"error_summary": "invalid_access_token/", "error": {".tag": "invalid_access_token"}},
                status=401,
            )
        if "dropbox-api-arg" in request.headers:
            arg = json.loads(request.headers["dropbox-api-arg"])
        else:
            arg = request.json() if request.body else None
        handler = getattr(self, "_" + route.replace("/", "_"), None)
        if handler is None:
            return Response(400, f"emulator has no route {route}".encode())
        with self.lock:
            return handler(arg, request)

    def _token(self, request: Request) -> Response:
        import urllib.parse

        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        app = self.refresh_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or app is None or app[0] != form.get("client_id"):
            return Response.json({"error": "invalid_grant", "error_description": "refresh token is invalid"}, 400)
        if app[1] and form.get("client_secret") != app[1]:
            return Response.json({"error": "invalid_client"}, 400)
        token = f"refreshed-{uuid.uuid4().hex}"
        self.access_tokens.add(token)
        return Response.json({"access_token": token, "token_type": "bearer", "expires_in": 14400})

    # -- metadata -------------------------------------------------------------------------
    @staticmethod
    def _file_json(f: DbxFile) -> dict:
        return {
            ".tag": "file",
            "name": f.path_display.rsplit("/", 1)[-1],
            "id": f.id,
            "client_modified": f.client_modified or f.modified,
            "server_modified": f.modified,
            "rev": f.rev,
            "size": len(f.data),
            "path_lower": f.path_display.lower(),
            "path_display": f.path_display,
            "content_hash": hash_bytes(f.data)["content_hash"],
            "is_downloadable": True,
        }

    def _folder_json(self, key: str) -> dict:
        display = self.folders[key]
        return {
            ".tag": "folder",
            "name": display.rsplit("/", 1)[-1],
            "id": f"id:folder{abs(hash(key)) % 10**8}",
            "path_lower": key,
            "path_display": display,
        }

    def _entries_under(self, root: str, recursive: bool) -> list[dict]:
        prefix = root + "/" if root else "/"
        entries = []
        for key in sorted(self.folders):
            if key and key.startswith(prefix) and (recursive or "/" not in key[len(prefix) :]):
                entries.append(self._folder_json(key))
        for key in sorted(self.files):
            if key.startswith(prefix) and (recursive or "/" not in key[len(prefix) :]):
                entries.append(self._file_json(self.files[key]))
        return entries

    def _page(self, root: str, recursive: bool, offset: int) -> Response:
        entries = self._entries_under(root, recursive)
        page = entries[offset : offset + self.page_size]
        more = offset + self.page_size < len(entries)
        cursor = json.dumps({"root": root, "recursive": recursive, "offset": offset + len(page)})
        return Response.json({"entries": page, "cursor": cursor, "has_more": more})

    def _files_list_folder(self, arg, request) -> Response:
        root = _key(arg["path"]).rstrip("/")
        if root in self.files:
            return _path_error("path", "not_folder")
        if root not in self.folders:
            return _path_error("path", "not_found")
        return self._page(root, arg.get("recursive", False), 0)

    def _files_list_folder_continue(self, arg, request) -> Response:
        cursor = json.loads(arg["cursor"])
        return self._page(cursor["root"], cursor["recursive"], cursor["offset"])

    def _files_get_metadata(self, arg, request) -> Response:
        key = _key(arg["path"])
        if key in self.files:
            return Response.json(self._file_json(self.files[key]))
        if key in self.folders and key:
            return Response.json(self._folder_json(key))
        return _path_error("path", "not_found")

    # -- content --------------------------------------------------------------------------
    def _files_download(self, arg, request) -> Response:
        f = self.files.get(_key(arg["path"]))
        if f is None:
            return _path_error("path", "not_found")
        self.downloads += 1
        return Response(
            200,
            f.data,
            {
                "Content-Type": "application/octet-stream",
                "Dropbox-API-Result": json.dumps(self._file_json(f)),
            },
        )

    @staticmethod
    def _body_mismatch(arg: dict, body: bytes) -> Response | None:
        # like Dropbox: a content_hash in the arguments covers this request's body only
        expected = arg.get("content_hash")
        if expected and expected != hash_bytes(body)["content_hash"]:
            return Response.json(
                {"error_summary": "content_hash_mismatch/", "error": {".tag": "content_hash_mismatch"}}, 409
            )
        return None

    def _commit(self, commit: dict, data: bytes) -> Response:
        self.put_file(commit["path"], data, commit.get("client_modified") or "")
        return Response.json(self._file_json(self.files[_key(commit["path"])]))

    def _files_upload(self, arg, request) -> Response:
        return self._body_mismatch(arg, request.body) or self._commit(arg, request.body)

    def _files_upload_session_start(self, arg, request) -> Response:
        mismatch = self._body_mismatch(arg or {}, request.body)
        if mismatch:
            return mismatch
        session_id = uuid.uuid4().hex
        self.sessions[session_id] = bytearray(request.body)
        return Response.json({"session_id": session_id})

    def _append(self, cursor: dict, body: bytes, arg: dict) -> Response | None:
        mismatch = self._body_mismatch(arg, body)
        if mismatch:
            return mismatch
        buffer = self.sessions.get(cursor["session_id"])
        if buffer is None:
            return Response.json(
                {"error_summary": "not_found/", "error": {".tag": "not_found"}}, 409
            )
        if cursor["offset"] != len(buffer):
            return Response.json(
                {
                    "error_summary": "incorrect_offset/",
                    "error": {".tag": "incorrect_offset", "correct_offset": len(buffer)},
                },
                409,
            )
        buffer.extend(body)
        return None

    def _files_upload_session_append_v2(self, arg, request) -> Response:
        return self._append(arg["cursor"], request.body, arg) or Response.json(None)

    def _files_upload_session_finish(self, arg, request) -> Response:
        error = self._append(arg["cursor"], request.body, arg)
        if error:
            return error
        data = bytes(self.sessions.pop(arg["cursor"]["session_id"]))
        return self._commit(arg["commit"], data)
