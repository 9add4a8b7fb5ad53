"""A fault-injecting HTTP proxy in front of moto's S3 server, for faults moto cannot make:
flipped or truncated bodies (with a Content-Length that matches), rewritten ETags (as SSE-KMS
and SSE-C buckets answer), error statuses and HTML error pages.

Point AWS_ENDPOINT_URL at ``proxy.url``; ``inject(kind, method, match)`` applies a fault to the
next ``times`` requests whose method is ``method`` and whose path (with the query) contains
``match``.
"""

from __future__ import annotations

import dataclasses
import http.client
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("corrupt", "truncate", "etag", "kms_etag", "500", "403", "html_401", "hang")
HANG_SECONDS = 3


@dataclasses.dataclass
class ProxyFault:
    kind: str
    method: str
    match: str
    times: int


class S3FaultProxy:
    def __init__(self, upstream: str):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.lock = threading.Lock()
        self.faults: list[ProxyFault] = []
        self.seen: list[str] = []
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def inject(self, kind: str, method: str, match: str = "", times: int = 1) -> None:
        assert kind in KINDS, kind
        with self.lock:
            self.faults.append(ProxyFault(kind, method, match, times))

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def take(self, method: str, path: str) -> str | None:
        with self.lock:
            self.seen.append(f"{method} {path}")
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.match in path:
                    fault.times -= 1
                    return fault.kind
        return None

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_real_etags: dict[str, str] = {}  # the ETags handed out -> moto's, to undo them in requests


def _other_etag(text: str) -> str:
    """An ETag of the same shape (32 hex, "-N" kept) that is not the MD5 of anything sent; the
    same one each time for the same object or part, as a real SSE-KMS bucket answers."""
    def swap(match):
        fake = uuid.uuid5(uuid.NAMESPACE_OID, match.group(0)).hex
        _real_etags[fake] = match.group(0)
        return fake

    return re.sub(r"[0-9a-f]{32}", swap, text)


def _undo_etags(body: bytes) -> bytes:
    return re.sub(rb"[0-9a-f]{32}", lambda m: _real_etags.get(m.group(0).decode(), m.group(0).decode()).encode(),
                  body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: S3FaultProxy

    def log_message(self, *args) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.proxy.take(self.command, self.path)
        if kind == "hang":  # a slow link: the request is in flight for a while
            import time

            time.sleep(HANG_SECONDS)
        if kind in ("500", "403", "html_401"):
            status = int(kind[:3])
            page = (b"<html><body>401 Unauthorized</body></html>" if kind == "html_401" else
                    f"<?xml version='1.0'?><Error><Code>{'InternalError' if status == 500 else 'AccessDenied'}"
                    f"</Code><Message>injected</Message></Error>".encode())
            self._reply(status, [("Content-Type", "text/html" if kind == "html_401" else "application/xml")], page)
            return
        if self.command == "POST" and b"<ETag>" in body:  # completing a multipart upload
            body = _undo_etags(body)
        upstream = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        dropped = ("connection", "transfer-encoding") if self.command == "HEAD" else (
            "content-length", "connection", "transfer-encoding")
        out_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in dropped]
        upstream.close()
        if kind == "corrupt" and data:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
        elif kind == "truncate" and data:
            data = data[: len(data) // 2]
        elif kind in ("etag", "kms_etag"):
            out_headers = [(k, _other_etag(v) if k.lower() == "etag" else v) for k, v in out_headers]
            data = re.sub(rb"<ETag>[^<]*</ETag>", lambda m: _other_etag(m.group(0).decode()).encode(), data)
            if kind == "kms_etag":
                out_headers.append(("x-amz-server-side-encryption", "aws:kms"))
                out_headers.append(("x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:us-east-1:1:key/x"))
        self._reply(response.status, out_headers, data)

    def _reply(self, status: int, headers, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward
