"""pytest fixtures: a moto S3 server, the Dropbox and Box emulators, and storages on them.

Import with ``from tests.emulators.fixtures import *`` from a conftest or test module.

The servers are started once per process: the dropbox SDK reads DROPBOX_API_HOST when it is
first imported, so the Dropbox emulator's address must never change within a run.
"""

from __future__ import annotations

import itertools
import os
import threading

import pytest
import trustme

from .base import EmulatorServer
from .box_api import BoxEmulator
from .dropbox_api import DropboxEmulator

_lock = threading.Lock()
_servers: dict[str, object] = {}
_unique = itertools.count(1)


def _ca() -> trustme.CA:
    with _lock:
        if "ca" not in _servers:
            import tempfile

            ca = trustme.CA()
            path = os.path.join(tempfile.mkdtemp(prefix="imgval-test-ca-"), "ca.pem")
            ca.cert_pem.write_to_path(path)
            _servers["ca"] = ca
            _servers["ca_path"] = path
        return _servers["ca"]


def ca_path() -> str:
    _ca()
    return _servers["ca_path"]


def dropbox_server() -> tuple[DropboxEmulator, EmulatorServer]:
    ca = _ca()
    with _lock:
        if "dropbox" not in _servers:
            emulator = DropboxEmulator()
            server = EmulatorServer(emulator, ca)
            # one emulator serves both the API and the content host, as the routes differ
            os.environ["DROPBOX_API_HOST"] = server.host
            os.environ["DROPBOX_API_CONTENT_HOST"] = server.host
            _servers["dropbox"] = (emulator, server)
        emulator, server = _servers["dropbox"]
    import dropbox.session

    assert dropbox.session.API_HOST == server.host, "dropbox SDK was imported before the emulator started"
    return emulator, server


def box_server() -> tuple[BoxEmulator, EmulatorServer]:
    ca = _ca()
    with _lock:
        if "box" not in _servers:
            emulator = BoxEmulator()
            server = EmulatorServer(emulator, ca)
            emulator.base = f"https://{server.host}"
            _servers["box"] = (emulator, server)
        return _servers["box"]


def s3_server_url() -> str:
    with _lock:
        if "s3" not in _servers:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _servers["s3"] = (server, f"http://{host}:{port}")
        return _servers["s3"][1]


@pytest.fixture
def tls_trust(monkeypatch):
    """The emulators' CA trusted through the standard variable users set."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path())
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return ca_path()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("IMGVAL_RETRY_BASE_DELAY", "0.01")


@pytest.fixture
def dropbox_emulator(monkeypatch, tls_trust, fast_retries):
    emulator, _server = dropbox_server()
    emulator.reset()
    for name in ("DROPBOX_REFRESH_TOKEN", "DROPBOX_APP_KEY", "DROPBOX_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "test-access-token")
    yield emulator
    emulator.reset()


BOX_CREDENTIAL_VARIABLES = ("BOX_DEVELOPER_TOKEN", "BOX_CLIENT_ID", "BOX_CLIENT_SECRET",
                            "BOX_ENTERPRISE_ID", "BOX_USER_ID", "BOX_JWT_CONFIG")


@pytest.fixture
def box_emulator(monkeypatch, tls_trust, fast_retries):
    emulator, server = box_server()
    emulator.reset()
    base = f"https://{server.host}"
    monkeypatch.setenv("IMGVAL_BOX_API_URL", base)
    monkeypatch.setenv("IMGVAL_BOX_UPLOAD_URL", base + "/api")
    monkeypatch.setenv("IMGVAL_BOX_OAUTH2_URL", base + "/oauth2")
    for name in BOX_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOX_DEVELOPER_TOKEN", "test-developer-token")
    yield emulator
    emulator.reset()


@pytest.fixture
def s3_endpoint(monkeypatch):
    url = s3_server_url()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return url


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh bucket name on the moto server."""
    from imgval.storage.s3 import make_client

    name = f"imgval-test-{next(_unique)}"
    make_client().create_bucket(Bucket=name)
    return name


def unique_dropbox_root() -> str:
    return f"/Test Root {next(_unique)}"


@pytest.fixture
def s3_proxy(s3_endpoint, monkeypatch):
    """moto behind the fault proxy: clients made from now on go through it."""
    from .s3_proxy import S3FaultProxy

    with _lock:
        if "s3_proxy" not in _servers:
            _servers["s3_proxy"] = S3FaultProxy(s3_endpoint)
        proxy = _servers["s3_proxy"]
    proxy.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield proxy
    proxy.reset()
