"""Emulator of the Box API 2.0 routes imgval uses, spoken to by the real ``box_sdk_gen`` SDK.

Routes (API base ``/2.0``, upload base ``/api/2.0``): folders/{id}, folders/{id}/items,
POST folders, files/{id}, files/{id}/content (download), files/content and
files/{id}/content (upload, new version), chunked upload sessions (create for a new or an
existing file, upload part, list parts, commit, abort), oauth2/token (client credentials).
Names are unique per folder, case-insensitively, as on Box. The part size is small so chunked
uploads are cheap to test.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import re
import unicodedata
import uuid

from .base import FaultyEmulator, Request, Response

_ids = itertools.count(1000)


def _fold(name: str) -> str:
    """Box compares names ignoring case and Unicode form."""
    return unicodedata.normalize("NFC", name).lower()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class BoxItem:
    type: str  # "file" | "folder"
    id: str
    name: str
    parent: str | None
    data: bytes = b""
    version: int = 1
    modified: str = dataclasses.field(default_factory=_now)
    content_modified: str = ""  # what the uploader said; else the upload time


def _error(status: int, code: str, message: str = "", context: dict | None = None) -> Response:
    body = {"type": "error", "status": status, "code": code, "message": message or code,
            "request_id": uuid.uuid4().hex[:12]}
    if context:
        body["context_info"] = context
    return Response.json(body, status)


class BoxEmulator(FaultyEmulator):
    part_size = 1024 * 1024
    page_size = 3

    def __init__(self) -> None:
        super().__init__()
        self.base = ""  # set by the fixture: https://localhost:PORT
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.items: dict[str, BoxItem] = {"0": BoxItem("folder", "0", "All Files", None)}
            self.sessions: dict[str, dict] = {}
            self.tokens = {"test-developer-token"}
            self.ccg_clients = {("test-client-id", "test-client-secret")}
            self.faults.clear()
            self.calls.clear()
            self.downloads = 0
            self.uploads = 0

    # -- test helpers ---------------------------------------------------------------------
    def make_folder(self, parent: str, name: str) -> str:
        with self.lock:
            folder_id = str(next(_ids))
            self.items[folder_id] = BoxItem("folder", folder_id, name, parent)
            return folder_id

    def put_file(self, parent: str, name: str, data: bytes) -> str:
        with self.lock:
            existing = self._child(parent, name)
            if existing:
                existing.data = data
                existing.version += 1
                existing.modified = _now()
                return existing.id
            file_id = str(next(_ids))
            self.items[file_id] = BoxItem("file", file_id, name, parent, data)
            return file_id

    def files_under(self, folder_id: str, prefix: str = "") -> dict[str, bytes]:
        out = {}
        for item in list(self.items.values()):
            if item.parent == folder_id:
                path = prefix + item.name
                if item.type == "file":
                    out[path] = item.data
                else:
                    out.update(self.files_under(item.id, path + "/"))
        return out

    def _child(self, parent: str, name: str) -> BoxItem | None:
        for item in self.items.values():
            if item.parent == parent and _fold(item.name) == _fold(name):
                return item
        return None

    # -- JSON -----------------------------------------------------------------------------
    def _json(self, item: BoxItem) -> dict:
        out = {"type": item.type, "id": item.id, "name": item.name, "etag": str(item.version),
               "modified_at": item.modified, "content_modified_at": item.content_modified or item.modified}
        if item.parent is not None:
            out["parent"] = {"type": "folder", "id": item.parent, "name": self.items[item.parent].name}
        above, parent = [], item.parent
        while parent is not None:
            above.insert(0, {"type": "folder", "id": parent, "name": self.items[parent].name})
            parent = self.items[parent].parent
        out["path_collection"] = {"total_count": len(above), "entries": above}
        if item.type == "file":
            sha1 = hashlib.sha1(item.data).hexdigest()
            out.update(size=len(item.data), sha1=sha1,
                       file_version={"type": "file_version", "id": f"v{item.id}-{item.version}", "sha1": sha1})
        return out

    # -- routing --------------------------------------------------------------------------
    ROUTES = [
        ("POST", r"/oauth2/token", "token"),
        ("GET", r"/2\.0/folders/(\w+)", "get_folder"),
        ("GET", r"/2\.0/folders/(\w+)/items", "folder_items"),
        ("POST", r"/2\.0/folders", "create_folder"),
        ("GET", r"/2\.0/files/(\w+)", "get_file"),
        ("GET", r"/2\.0/files/(\w+)/content", "download"),
        ("POST", r"/api/2\.0/files/content", "upload"),
        ("POST", r"/api/2\.0/files/(\w+)/content", "upload_version"),
        ("POST", r"/api/2\.0/files/upload_sessions", "create_session"),
        ("POST", r"/api/2\.0/files/(\w+)/upload_sessions", "create_version_session"),
        ("PUT", r"/api/2\.0/files/upload_sessions/(\w+)", "upload_part"),
        ("GET", r"/api/2\.0/files/upload_sessions/(\w+)/parts", "list_parts"),
        ("POST", r"/api/2\.0/files/upload_sessions/(\w+)/commit", "commit"),
        ("DELETE", r"/api/2\.0/files/upload_sessions/(\w+)", "abort"),
    ]

    def _match(self, path: str, method: str):
        for route_method, pattern, name in self.ROUTES:
            m = re.fullmatch(pattern, path)
            if m and route_method == method:
                return name, m.groups()
        return None, ()

    def route_name(self, path: str, method: str) -> str:
        return self._match(path, method)[0] or "unknown"

    def handle(self, request: Request) -> Response:
        name, args = self._match(request.path, request.method)
        if name is None:
            return _error(404, "not_found", f"emulator has no route {request.method} {request.path}")
        if name != "token":
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return Response(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        with self.lock:
            return getattr(self, "_" + name)(request, *args)

    # -- auth -----------------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        import urllib.parse

        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"), form.get("client_secret")) not in self.ccg_clients:
            return Response.json({"error": "invalid_client", "error_description": "bad client"}, 400)
        token = f"ccg-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Response.json({"access_token": token, "expires_in": 3600, "token_type": "bearer",
                              "restricted_to": [], "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})

    # -- folders --------------------------------------------------------------------------
    def _get_folder(self, request, folder_id):
        item = self.items.get(folder_id)
        if not item or item.type != "folder":
            return _error(404, "not_found", "Not Found")
        return Response.json(self._json(item))

    def _folder_items(self, request, folder_id):
        item = self.items.get(folder_id)
        if not item or item.type != "folder":
            return _error(404, "not_found", "Not Found")
        children = sorted((i for i in self.items.values() if i.parent == folder_id), key=lambda i: i.id)
        limit = min(int(request.query.get("limit", 100)), self.page_size)
        if request.query.get("usemarker", "").lower() == "true":  # the SDK sends "True"
            start = int(request.query.get("marker") or 0)
            page = children[start : start + limit]
            body = {"entries": [self._json(c) for c in page], "limit": limit}
            if start + limit < len(children):
                body["next_marker"] = str(start + limit)
            return Response.json(body)
        start = int(request.query.get("offset", 0))
        page = children[start : start + limit]
        return Response.json({"entries": [self._json(c) for c in page], "total_count": len(children),
                              "offset": start, "limit": limit})

    def _create_folder(self, request):
        body = request.json()
        parent = body["parent"]["id"]
        if parent not in self.items:
            return _error(404, "not_found", "parent not found")
        existing = self._child(parent, body["name"])
        if existing:
            return _error(409, "item_name_in_use", "Item with the same name already exists",
                          {"conflicts": [{"type": existing.type, "id": existing.id, "name": existing.name}]})
        return Response.json(self._json(self.items[self.make_folder(parent, body["name"])]), 201)

    # -- files ----------------------------------------------------------------------------
    def _get_file(self, request, file_id):
        item = self.items.get(file_id)
        if not item or item.type != "file":
            return _error(404, "not_found", "Not Found")
        return Response.json(self._json(item))

    def _download(self, request, file_id):
        item = self.items.get(file_id)
        if not item or item.type != "file":
            return _error(404, "not_found", "Not Found")
        self.downloads += 1
        return Response(200, item.data, {"Content-Type": "application/octet-stream"})

    @staticmethod
    def _multipart(request: Request) -> tuple[dict, bytes]:
        boundary = re.search(r'boundary="?([^";]+)"?', request.headers["content-type"]).group(1).encode()
        attributes, content = None, None
        for part in request.body.split(b"--" + boundary)[1:-1]:
            head, _, body = part.partition(b"\r\n\r\n")
            body = body[:-2]  # the CRLF before the next boundary
            if b'name="attributes"' in head:
                attributes = json.loads(body)
            elif b'name="file"' in head:
                if attributes is None:
                    raise ValueError("metadata_after_file_contents")
                content = body
        return attributes, content

    def _check_md5(self, request, content) -> Response | None:
        # Box's "content-md5" header carries a SHA-1
        expected = request.headers.get("content-md5")
        if expected and expected != hashlib.sha1(content).hexdigest():
            return _error(400, "bad_digest", "The digest does not match the content")
        return None

    def _upload(self, request):
        attributes, content = self._multipart(request)
        parent = attributes["parent"]["id"]
        if parent not in self.items:
            return _error(404, "not_found", "parent not found")
        existing = self._child(parent, attributes["name"])
        if existing:
            return _error(409, "item_name_in_use", "Item with the same name already exists",
                          {"conflicts": {"type": existing.type, "id": existing.id, "name": existing.name,
                                         "sha1": hashlib.sha1(existing.data).hexdigest()}})
        bad = self._check_md5(request, content)
        if bad:
            return bad
        self.uploads += 1
        file_id = self.put_file(parent, attributes["name"], content)
        self.items[file_id].content_modified = attributes.get("content_modified_at", "")
        return Response.json({"total_count": 1, "entries": [self._json(self.items[file_id])]}, 201)

    def _upload_version(self, request, file_id):
        item = self.items.get(file_id)
        if not item or item.type != "file":
            return _error(404, "not_found", "Not Found")
        attributes, content = self._multipart(request)
        bad = self._check_md5(request, content)
        if bad:
            return bad
        self.uploads += 1
        self.put_file(item.parent, item.name, content)
        item.content_modified = (attributes or {}).get("content_modified_at", "")
        return Response.json({"total_count": 1, "entries": [self._json(item)]}, 201)

    # -- chunked uploads ------------------------------------------------------------------
    def _session_json(self, session_id: str) -> dict:
        s = self.sessions[session_id]
        up = f"{self.base}/api/2.0/files/upload_sessions/{session_id}"
        total = max(1, -(-s["size"] // self.part_size))
        return {
            "type": "upload_session", "id": session_id, "part_size": self.part_size,
            "total_parts": total, "num_parts_processed": len(s["parts"]),
            "session_expires_at": "2099-01-01T00:00:00Z",
            "session_endpoints": {"upload_part": up, "commit": up + "/commit", "abort": up,
                                  "list_parts": up + "/parts", "status": up, "log_event": up + "/log"},
        }

    def _new_session(self, folder_id, name, size, file_id=None):
        session_id = uuid.uuid4().hex[:16].upper()
        self.sessions[session_id] = {"folder": folder_id, "name": name, "size": size,
                                     "file_id": file_id, "parts": {}}
        return Response.json(self._session_json(session_id), 201)

    def _create_session(self, request):
        body = request.json()
        if body["folder_id"] not in self.items:
            return _error(404, "not_found", "folder not found")
        if self._child(body["folder_id"], body["file_name"]):
            item = self._child(body["folder_id"], body["file_name"])
            return _error(409, "item_name_in_use", "Item with the same name already exists",
                          {"conflicts": {"type": item.type, "id": item.id, "name": item.name}})
        return self._new_session(body["folder_id"], body["file_name"], body["file_size"])

    def _create_version_session(self, request, file_id):
        item = self.items.get(file_id)
        if not item or item.type != "file":
            return _error(404, "not_found", "Not Found")
        body = request.json()
        return self._new_session(item.parent, body.get("file_name") or item.name, body["file_size"], file_id)

    def _upload_part(self, request, session_id):
        s = self.sessions.get(session_id)
        if s is None:
            return _error(404, "not_found", "session not found")
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", request.headers.get("content-range", ""))
        start, end, total = map(int, m.groups())
        body = request.body
        digest = base64.b64encode(hashlib.sha1(body).digest()).decode()
        if request.headers.get("digest") != f"sha={digest}":
            return _error(412, "precondition_failed", "digest mismatch")
        if end - start + 1 != len(body) or total != s["size"] or start % self.part_size:
            return _error(416, "range_not_satisfiable", "bad content-range")
        part = {"part_id": f"{start:08X}", "offset": start, "size": len(body),
                "sha1": hashlib.sha1(body).hexdigest()}
        s["parts"][start] = (part, body)
        return Response.json({"part": part})

    def _list_parts(self, request, session_id):
        s = self.sessions.get(session_id)
        if s is None:
            return _error(404, "not_found", "session not found")
        parts = [p for _, (p, _b) in sorted(s["parts"].items())]
        return Response.json({"entries": parts, "total_count": len(parts), "limit": 1000})

    def _commit(self, request, session_id):
        s = self.sessions.get(session_id)
        if s is None:
            return _error(404, "not_found", "session not found")
        listed = request.json()["parts"]
        data = b"".join(s["parts"][p["offset"]][1] for p in sorted(listed, key=lambda p: p["offset"]))
        whole = base64.b64encode(hashlib.sha1(data).digest()).decode()
        if request.headers.get("digest") != f"sha={whole}" or len(data) != s["size"]:
            return _error(422, "bad_digest", "whole-file digest does not match the parts")
        del self.sessions[session_id]
        self.uploads += 1
        file_id = self.put_file(s["folder"], s["name"], data)
        self.items[file_id].content_modified = (request.json().get("attributes") or {}).get("content_modified_at", "")
        return Response.json({"total_count": 1, "entries": [self._json(self.items[file_id])]}, 201)

    def _abort(self, request, session_id):
        self.sessions.pop(session_id, None)
        return Response(204)
