"""Secrets never reach the user's screen, log or report (issue 13, point 2): a credential saved
with Windows line endings works, one with a control character inside is refused by name, and
whatever fails, no output contains a secret."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

DROPBOX_SECRET = "sl.dbxSECRETvalue-0123456789"
AWS_KEY_ID = "AKIASECRETKEYID0123"
AWS_SECRET = "awsSECRETsecretValue/0123456789abcdef"


@pytest.fixture
def crlf_credentials(dropbox_emulator, s3_endpoint, monkeypatch):
    """credentials.env saved on Windows: every value ends in a carriage return."""
    dropbox_emulator.access_tokens.add(DROPBOX_SECRET)
    dropbox_emulator.put_file("/Scans/a.jpg", b"first")
    dropbox_emulator.put_file("/Scans/sub/b.png", b"second")
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", DROPBOX_SECRET + "\r")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID + "\r")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET + "\r\n")
    return dropbox_emulator


def run(args, tmp_path):
    log = tmp_path / "run.log"
    result = CliRunner().invoke(main, [*args, "--log-file", str(log)])
    texts = [result.output, log.read_text(encoding="utf-8") if log.exists() else ""]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in tmp_path.glob("*.csv")]
    return result, texts


def assert_no_secret(result, texts):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for text in texts:
        for secret in (DROPBOX_SECRET, AWS_KEY_ID, AWS_SECRET, "Bearer"):
            assert secret not in text


def test_trailing_carriage_return_is_stripped_and_sync_works(crlf_credentials, s3_bucket, tmp_path):
    result, texts = run(["sync", "dropbox:/Scans", f"s3://{s3_bucket}/x", "--manifest",
                         str(tmp_path / "m.csv")], tmp_path)
    assert result.exit_code == 0, result.output
    assert_no_secret(result, texts)


def test_trailing_carriage_return_in_a_scan_in_place(crlf_credentials, tmp_path):
    result, texts = run(["scan", "--no-cache", "-i", "dropbox:/Scans", "-s", str(tmp_path / "r.csv")], tmp_path)
    assert result.exit_code == 0, result.output
    assert_no_secret(result, texts)


@pytest.mark.parametrize("variable,value", [("DROPBOX_ACCESS_TOKEN", "sl.dbxSECRET\x1bvalue-0123456789"),
                                            ("AWS_SECRET_ACCESS_KEY", "awsSECRET\rsecretValue/0123456789")])
def test_control_character_inside_is_refused_by_name(crlf_credentials, s3_bucket, tmp_path, monkeypatch,
                                                     variable, value):
    monkeypatch.setenv(variable, value)
    result, texts = run(["sync", "dropbox:/Scans", f"s3://{s3_bucket}/x", "--manifest",
                         str(tmp_path / "m.csv")], tmp_path)
    assert result.exit_code == 2, result.output
    assert variable in result.output and "control character" in result.output
    assert_no_secret(result, texts)
    assert value not in result.output


def test_rejected_credentials_answered_as_html_exit_2_without_secret(crlf_credentials, tmp_path):
    crlf_credentials.inject("files/list_folder", "html_401", times=100)
    result, texts = run(["sync", "dropbox:/Scans", str(tmp_path / "out"), "--manifest",
                         str(tmp_path / "m.csv")], tmp_path)
    assert result.exit_code == 2, result.output
    assert "Dropbox" in result.output
    assert_no_secret(result, texts)


def test_an_sdk_error_quoting_a_header_is_told_without_the_secret(monkeypatch):
    from imgval.storage import unexpected

    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", DROPBOX_SECRET + "\r")
    error = ValueError(f"Invalid header value b'Bearer {DROPBOX_SECRET}\\r'")
    told = unexpected(error)
    assert DROPBOX_SECRET not in told and "ValueError" in told and "Invalid header value" in told


def test_box_401_answered_as_html_exit_2(box_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("BOX_DEVELOPER_TOKEN", "bxSECRETdeveloperToken0123\r")
    box_emulator.tokens.add("bxSECRETdeveloperToken0123")
    box_emulator.inject("get_folder", "html_401", times=100)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"a")
    result, texts = run(["sync", str(src), "box:0", "--manifest", str(tmp_path / "m.csv")], tmp_path)
    assert result.exit_code == 2, result.output
    assert "Box" in result.output and "Traceback" not in result.output
    assert all("bxSECRETdeveloperToken0123" not in text for text in texts)
