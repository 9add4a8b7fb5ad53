"""Failures about the environment (permission denied, out of memory, a killed worker, a
timeout) are not verdicts about a file: they are marked transient, never cached, and retried by
the next run."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from imgval.batch.engine import make_engine
from imgval.analysis.analyze import Record, Settings, analyze_path
from imgval.batch.cache import ResultCache, file_state

from tests.conftest import ROOT, write_image
from tests.batch.test_runner import engine, fake_analyze  # noqa: F401 (fixture: every engine)


def scan_without_root_powers(*args: str, cwd) -> subprocess.CompletedProcess:
    """process.py as a user whose permissions are checked: root keeps its uid but loses the
    capabilities that ignore file modes, so chmod 000 means unreadable for it too."""
    command = [sys.executable, str(ROOT / "process.py"), *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)


def test_a_cached_permission_error_is_retried_after_chmod(tmp_path, sharp_image):
    folder = tmp_path / "in"
    image = write_image(folder / "locked.jpg", sharp_image)
    mtime = image.stat().st_mtime_ns
    image.chmod(0)
    args = ("-i", str(folder), "-s", str(tmp_path / "r.csv"), "--cache", str(tmp_path / "c.sqlite"), "-j", "1")
    first = scan_without_root_powers(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Permission denied" in (tmp_path / "r.csv").read_text()

    image.chmod(0o644)  # what fixes it: the mtime, size and content stay the same
    assert image.stat().st_mtime_ns == mtime
    second = scan_without_root_powers(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert re.search(r"1 analysed, 0 reused", second.stdout), second.stdout
    text = (tmp_path / "r.csv").read_text()
    assert "Permission denied" not in text and ",JPEG," in text


def test_read_failures_and_memory_errors_are_transient_content_verdicts_are_not(tmp_path, monkeypatch):
    assert analyze_path(str(tmp_path / "gone.jpg"), Settings()).transient
    (tmp_path / "text.jpg").write_text("not a picture")
    content = analyze_path(str(tmp_path / "text.jpg"), Settings())
    assert content.error and not content.transient

    def out_of_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr("imgval.analysis.analyze.analyze_bytes", out_of_memory)
    starved = analyze_path(str(tmp_path / "text.jpg"), Settings())
    assert "memory" in starved.error and starved.transient


def test_a_worker_killed_twice_gives_a_transient_row(tmp_path, engine):  # noqa: F811
    paths = [str(tmp_path / "ok.jpg"), str(tmp_path / "segv.jpg")]
    ok, crashed = engine(1, fake_analyze).run(paths, Settings())
    assert "died" in crashed.error and crashed.transient and not ok.transient


def test_the_cache_stores_verdicts_only(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x")
    cache = ResultCache(str(tmp_path / "c.sqlite"), Settings())
    state = file_state(str(path))
    cache.store(state, Record(str(path), error="cannot read file: Permission denied", transient=True))
    cache.flush()
    assert not cache.has(state) and cache.lookup(str(path), state) is None
    cache.store(state, Record(str(path), error="not an image"))
    cache.flush()
    assert cache.lookup(str(path), state).error == "not an image"
    cache.close()
