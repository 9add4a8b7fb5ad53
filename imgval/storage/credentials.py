"""Credentials from the environment, cleaned and checked, and the redaction of their values.

A ``credentials.env`` saved with Windows line endings gives every value a trailing carriage
return, which the SDKs put into an HTTP header, and the HTTP library then quotes the whole
header (the secret) in its error. Surrounding whitespace is stripped; a control character
inside a value is refused by the variable's name, never by its value.
"""

from __future__ import annotations

import os

from imgval.storage import CredentialsError

SECRET_VARIABLES = (
    "DROPBOX_ACCESS_TOKEN", "DROPBOX_REFRESH_TOKEN", "DROPBOX_APP_SECRET",
    "BOX_DEVELOPER_TOKEN", "BOX_CLIENT_SECRET",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
)
OTHER_VARIABLES = ("DROPBOX_APP_KEY", "BOX_CLIENT_ID", "BOX_ENTERPRISE_ID", "BOX_USER_ID")
SHORTEST_REDACTED = 6  # shorter values would blank out ordinary words


def env_value(name: str) -> str | None:
    """The variable's value without surrounding whitespace; None when unset or blank."""
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CredentialsError(f"{name} contains a control character (a line break or escape) inside its "
                               "value; set it again without one")
    return value or None


def check_environment() -> None:
    """Fail fast, by name, on any credential variable that has a control character inside."""
    for name in SECRET_VARIABLES + OTHER_VARIABLES:
        env_value(name)


def secrets() -> list[str]:
    """Every secret the environment holds, as set and as stripped, longest first."""
    found = set()
    for name in SECRET_VARIABLES:
        raw = os.environ.get(name) or ""
        for value in (raw, raw.strip(), *raw.split()):
            if len(value) >= SHORTEST_REDACTED:
                found.add(value)
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret of the environment replaced by ``***``."""
    for secret in secrets():
        text = text.replace(secret, "***")
    return text
