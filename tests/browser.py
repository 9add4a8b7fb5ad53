"""A real headless Chromium driven over the DevTools protocol, for tests of the HTML report.

Chromium is Debian's `chromium` package (.ci/run installs it). Without it the browser tests
skip on a developer's machine, and fail in CI (CI=true), where a skip would hide a broken
install step.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--remote-debugging-port=0"]
START_TIMEOUT = 60  # seconds: a cold start on a busy 2-core machine takes a few
CALL_TIMEOUT = 60


def chromium_or_skip() -> str:
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        return binary
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed: .ci/run must install Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium); the browser tests need it")


class BrowserError(Exception):
    pass


class Page:
    """One tab. Collects what a person would see in the console: console.error calls, uncaught
    exceptions and browser log errors (blocked or failed loads, CSP violations)."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=CALL_TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = CALL_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        for message in self.events:
            if message.get("method") == event:
                return message
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == event:
                return message
        raise BrowserError(f"no {event} within {timeout} s ({len(self.events) - seen} other events)")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, width: int = 1280, height: int = 4000) -> None:
        """Load the page in a tall viewport (so lazily loaded images load) and wait for it."""
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def console_errors(self) -> list[str]:
        errors = []
        for message in self.events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        return errors

    def screenshot(self, full_page: bool = False) -> bytes:
        result = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        return base64.b64decode(result["data"])

    def close(self) -> None:
        self.ws.close()


class Chromium:
    """A private headless Chromium (own profile folder, no network features), stopped on exit."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="imgval-chromium-")
        self.log = open(Path(self.profile) / "stderr.log", "wb")
        self.process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self._port()

    def _port(self) -> int:
        """Chromium writes the port it chose to DevToolsActivePort in the profile folder."""
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode}: {self._stderr()}")
            if marker.exists():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.1)
        raise BrowserError(f"chromium did not start within {START_TIMEOUT} s: {self._stderr()}")

    def _stderr(self) -> str:
        self.log.flush()
        return (Path(self.profile) / "stderr.log").read_text(errors="replace")[-2000:]

    def new_page(self) -> Page:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
        with direct.open(f"http://127.0.0.1:{self.port}/json/list", timeout=CALL_TIMEOUT) as reply:
            targets = json.load(reply)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise BrowserError(f"no page target in {targets}")
        return Page(pages[0]["webSocketDebuggerUrl"])

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
