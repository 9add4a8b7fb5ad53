"""Which CA bundle to trust: the standard variables institutions behind inspecting proxies set.

requests (Dropbox, Box SDKs) reads REQUESTS_CA_BUNDLE itself but not SSL_CERT_FILE; botocore
reads AWS_CA_BUNDLE only. We pass the first one set to every SDK so one variable works.
"""

from __future__ import annotations

import os

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


def ca_bundle() -> str | None:
    for name in CA_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None
