"""A small threaded HTTPS server for API emulators, with fault injection.

http.server rather than a WSGI framework because dropping a connection halfway through a
body (the fault users hit on long transfers) needs the raw socket.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body or b"{}")


@dataclasses.dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, obj, status: int = 200, headers: dict | None = None) -> "Response":
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


@dataclasses.dataclass
class Fault:
    """Injected on the next ``times`` requests whose route name matches ``route``.

    kinds: ``"429"`` (with Retry-After), ``"500"``, ``"drop_download"`` (headers and half the
    body, then the connection closes), ``"drop_upload"`` (half the request body is read, then
    the connection closes without an answer), ``"drop_response"`` (the request is carried out,
    then the connection closes without an answer), ``"corrupt_download"`` (one byte flipped),
    ``"truncate_download"`` (the body cut short, with a Content-Length that matches the cut),
    ``"html_401"`` (a 401 answered by an HTML page, as a proxy or gateway does),
    ``"429_date"`` (429 with Retry-After as an HTTP date, ``retry_after`` seconds ahead).
    """

    route: str
    kind: str
    times: int = 1
    retry_after: int = 1


class FaultyEmulator:
    """Base for an API emulator: subclasses implement ``route_name`` and ``handle``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.calls: list[str] = []  # route names, in order: lets tests see retries happened

    def inject(self, route: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(route, kind, times, retry_after))

    def take_fault(self, route: str) -> Fault | None:
        with self.lock:
            self.calls.append(route)
            for fault in self.faults:
                if fault.route == route and fault.times > 0:
                    fault.times -= 1
                    return fault
            return None

    def route_name(self, request_line_path: str, method: str) -> str:
        raise NotImplementedError

    def handle(self, request: Request) -> Response:
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: FaultyEmulator  # set on the subclass per server

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        route = self.emulator.route_name(path, self.command)
        fault = self.emulator.take_fault(route)
        headers = {k.lower(): v for k, v in self.headers.items()}

        if fault and fault.kind == "drop_upload":
            length = int(headers.get("content-length", "0") or 0)
            self.rfile.read(length // 2)
            self._drop()
            return
        body = self._read_body(headers)
        if fault and fault.kind == "html_401":
            self._send(Response(401, b"<html><body><h1>401 Unauthorized</h1></body></html>",
                                {"Content-Type": "text/html"}))
            return
        if fault and fault.kind == "429_date":
            import email.utils
            import time

            when = email.utils.formatdate(time.time() + fault.retry_after, usegmt=True)
            self._send(Response(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": when}))
            return
        if fault and fault.kind in ("429", "500"):
            status = int(fault.kind)
            extra = {"Retry-After": str(fault.retry_after)} if status == 429 else {}
            self._send(Response(status, b"injected fault", {"Content-Type": "text/plain", **extra}))
            return
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        try:
            response = self.emulator.handle(Request(self.command, path, query, headers, body))
        except Exception as exc:  # an emulator bug should fail the test loudly, not hang it
            import traceback

            traceback.print_exc()
            response = Response(599, f"emulator error: {exc}".encode())
        if fault and fault.kind == "drop_download":
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self._drop()
            return
        if fault and fault.kind == "drop_response":  # done, but the client never hears so
            self._drop()
            return
        if fault and fault.kind == "truncate_download" and response.body:
            response = dataclasses.replace(response, body=response.body[: len(response.body) // 2])
        if fault and fault.kind == "corrupt_download" and response.body:
            flipped = bytes([response.body[0] ^ 0xFF]) + response.body[1:]
            response = dataclasses.replace(response, body=flipped)
        self._send(response)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", ""):
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(headers.get("content-length", "0") or 0))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _dispatch


class EmulatorServer:
    """Serves an emulator over HTTPS on 127.0.0.1 with a certificate from ``ca`` (trustme)."""

    def __init__(self, emulator: FaultyEmulator, ca) -> None:
        handler = type("Handler", (_Handler,), {"emulator": emulator})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.host = f"localhost:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
