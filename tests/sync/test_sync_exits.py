"""Exits cron can rely on (issue 13, points 5, 6, 8): every failure is one clear line and a
documented code, never a traceback or a silent 0; waits are capped and interruptible; Ctrl-C
and SIGTERM stop a run at any stage with 130."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import unicodedata

import pytest
from click.testing import CliRunner

from imgval.cli.main import main
from imgval.sync.hashpairs import HashPairs
from imgval.storage import open_storage
from imgval.sync.syncer import Syncer
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)


def invoke(*args):
    result = CliRunner().invoke(main, ["sync", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def local_batch(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"img{i}.jpg").write_bytes(b"image %d" % i)
    return src


@pytest.mark.parametrize("kind", ["500", "403"])
def test_destination_listing_that_keeps_failing_fails_its_rows_and_writes_the_manifest(
        local_batch, s3_bucket, s3_proxy, fast_retries, tmp_path, kind, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore's own retries, without its pauses
    s3_proxy.inject(kind, "GET", "list-type=2", times=1000)
    manifest = tmp_path / "m.csv"
    result = invoke(str(local_batch), f"s3://{s3_bucket}/d", str(tmp_path / "out"), "--manifest", str(manifest))
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    s3_rows = [r for r in rows if r["destination"].startswith("s3://")]
    assert len(s3_rows) == 3 and all(r["action"] == "failed" and "cannot list" in r["error"] for r in s3_rows)
    assert sum(r["action"] == "copied" for r in rows) == 3  # the local destination is unaffected


def test_mistyped_s3_source_prefix_is_exit_2_even_with_q(s3_bucket, tmp_path):
    from imgval.storage.s3 import make_client

    make_client().put_object(Bucket=s3_bucket, Key="scans/2026/a.jpg", Body=b"x")
    result = invoke(f"s3://{s3_bucket}/scans/2062", str(tmp_path / "out"), "-q", "--manifest", str(tmp_path / "m"))
    assert result.exit_code == 2
    assert "scans/2062" in result.output and "nothing" in result.output


def test_bad_retry_delay_variable_is_exit_2(local_batch, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGVAL_RETRY_BASE_DELAY", "one second")
    result = invoke(str(local_batch), str(tmp_path / "out"), "--manifest", str(tmp_path / "m.csv"))
    assert result.exit_code == 2
    assert "IMGVAL_RETRY_BASE_DELAY" in result.output and "one second" in result.output


def test_wrong_box_client_secret_names_the_variables(local_batch, box_emulator, monkeypatch, tmp_path):
    monkeypatch.delenv("BOX_DEVELOPER_TOKEN")
    monkeypatch.setenv("BOX_CLIENT_ID", "test-client-id")
    monkeypatch.setenv("BOX_CLIENT_SECRET", "wrong-secret-value")
    monkeypatch.setenv("BOX_ENTERPRISE_ID", "1")
    result = invoke(str(local_batch), "box:0", "--manifest", str(tmp_path / "m.csv"))
    assert result.exit_code == 2
    assert "BOX_CLIENT_SECRET" in result.output and "wrong-secret-value" not in result.output


def test_dropbox_root_typed_in_another_unicode_form(dropbox_emulator, tmp_path):
    stored = unicodedata.normalize("NFD", "/Scans/Café Ré")
    dropbox_emulator.put_file(f"{stored}/day1/a.jpg", b"a")
    dropbox_emulator.put_file(f"{stored}/b.jpg", b"b")
    typed = unicodedata.normalize("NFC", "dropbox:/scans/café ré")
    result = Syncer(open_storage(typed), [open_storage(str(tmp_path / "out"))],
                    hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    assert sorted(o.path for o in result.outcomes) == ["b.jpg", "day1/a.jpg"]
    assert not result.failed, [o.error for o in result.outcomes]
    assert (tmp_path / "out" / "day1" / "a.jpg").read_bytes() == b"a"


# -- stopping: real signals to a real process ---------------------------------------------

def start_sync(*args) -> subprocess.Popen:
    code = "import sys; from imgval.cli.main import main; sys.argv[0] = 'imgval'; main()"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", code, "sync", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, text=True)


def stop_when_called(args, emulator, route, signum) -> tuple[int, str]:
    """Run `imgval sync ARGS`, send it ``signum`` once it has called ``route`` (and so is in
    the wait the server asked for); its exit code and output."""
    proc = start_sync(*args)
    try:
        deadline = time.monotonic() + 60
        while route not in emulator.calls:
            assert time.monotonic() < deadline, f"{route} was never called: {emulator.calls}"
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        time.sleep(0.3)  # the client is now inside its wait
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, output


def test_ctrl_c_while_listing_waits_on_retry_after_exits_130(dropbox_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGVAL_RETRY_BASE_DELAY", "1")
    for i in range(5):  # more than a page: the listing continues, and there the server says wait
        dropbox_emulator.put_file(f"/Slow/{i}.jpg", b"a")
    dropbox_emulator.inject("files/list_folder/continue", "429", times=100, retry_after=200)
    args = ["dropbox:/Slow", str(tmp_path / "out"), "--manifest", str(tmp_path / "m.csv")]
    code, output = stop_when_called(args, dropbox_emulator, "files/list_folder/continue", signal.SIGINT)
    assert code == 130, output
    assert "Traceback" not in output and "interrupted" in output


# -- waits --------------------------------------------------------------------------------

def test_retry_after_as_seconds_or_http_date():
    import datetime as dt

    from imgval.storage.retry import parse_retry_after

    now = dt.datetime(2026, 12, 2, 3, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Wed, 02 Dec 2026 03:01:30 GMT", now) == 90
    assert parse_retry_after("Wed, 02 Dec 2026 02:00:00 GMT", now) == 0  # in the past: now
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_box_retry_after_beyond_the_cap_fails_the_file_at_once_and_the_run_goes_on(
        local_batch, box_emulator, tmp_path):
    folder = box_emulator.make_folder("0", "patience")
    box_emulator.inject("upload", "429", times=1, retry_after=100000)  # about 28 hours
    result = Syncer(open_storage(str(local_batch)), [open_storage(f"box:{folder}")], jobs=1,
                    hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    failed = [o for o in result.outcomes if o.action == "failed"]
    assert len(failed) == 1 and "more than the 300 s cap" in failed[0].error
    assert len(box_emulator.files_under(folder)) == 2


def test_http_date_retry_after_is_obeyed_on_dropbox_and_box(dropbox_emulator, box_emulator, tmp_path):
    dropbox_emulator.put_file("/Dated/a.jpg", b"dated")
    dropbox_emulator.inject("files/download", "429_date", retry_after=1)
    folder = box_emulator.make_folder("0", "dated")
    box_emulator.inject("upload", "429_date", retry_after=1)
    result = Syncer(open_storage("dropbox:/Dated"), [open_storage(f"box:{folder}")],
                    hash_pairs=HashPairs(str(tmp_path / "p.sqlite"))).run()
    assert [o.action for o in result.outcomes] == ["copied"], result.outcomes
    assert dropbox_emulator.calls.count("files/download") == 2
    assert box_emulator.files_under(folder) == {"a.jpg": b"dated"}


def test_sigterm_during_a_transfers_backoff_exits_130(dropbox_emulator, tmp_path):
    dropbox_emulator.put_file("/Busy/a.jpg", b"a")
    dropbox_emulator.inject("files/download", "429", times=100, retry_after=200)
    args = ["dropbox:/Busy", str(tmp_path / "out"), "--manifest", str(tmp_path / "m.csv")]
    code, output = stop_when_called(args, dropbox_emulator, "files/download", signal.SIGTERM)
    assert code == 130, output
    assert "Traceback" not in output
    assert not list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


# -- SIGTERM is Ctrl-C: nothing half-written, nothing billed, nothing left behind -----------

def test_sigterm_during_multipart_upload_aborts_it(tmp_path, s3_bucket, s3_proxy):
    from imgval.storage.s3 import make_client

    src = tmp_path / "src"
    src.mkdir()
    (src / "master.tif").write_bytes(os.urandom(6 * 1024 * 1024))  # two parts of 5 MiB
    s3_proxy.inject("hang", "PUT", "partNumber=2", times=1)
    proc = start_sync(str(src), f"s3://{s3_bucket}/big", "--chunk-size", "5", "--manifest", str(tmp_path / "m.csv"))
    try:
        deadline = time.monotonic() + 60
        while not any("partNumber=2" in seen for seen in s3_proxy.seen):
            assert time.monotonic() < deadline and proc.poll() is None, s3_proxy.seen
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, output
    client = make_client()
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_partial_files_of_a_killed_run_are_removed_by_the_next(local_batch, tmp_path):
    from imgval.storage.local import PARTIAL_PREFIX

    out = tmp_path / "out"
    (out / "day").mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / "day" / f"{PARTIAL_PREFIX}{gone.stdout.strip()}-abc123"  # its writer was killed
    stale.write_bytes(b"half a file")
    live = out / f"{PARTIAL_PREFIX}{os.getpid()}-def456"  # another run, still writing
    live.write_bytes(b"being written")
    result = invoke(str(local_batch), str(out), "--manifest", str(tmp_path / "m.csv"))
    assert result.exit_code == 0, result.output
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")) == [
        "img0.jpg", "img1.jpg", "img2.jpg"]


def test_stopped_while_the_box_sdk_waits_on_retry_after_exits_130(local_batch, box_emulator, tmp_path):
    folder = box_emulator.make_folder("0", "slow box")
    box_emulator.inject("upload", "429", times=100, retry_after=200)  # under the cap: the SDK waits
    args = [str(local_batch), f"box:{folder}", "-j", "1", "--manifest", str(tmp_path / "m.csv")]
    code, output = stop_when_called(args, box_emulator, "upload", signal.SIGINT)
    assert code == 130, output
    assert box_emulator.files_under(folder) == {}
