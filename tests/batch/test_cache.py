"""The result cache on its own (issue 5): what its key depends on, and a round trip through
SQLite. Run-level behaviour (reuse, invalidation, kills) is tested in test_rerun.py."""
from __future__ import annotations

import dataclasses
import os

import pytest

from imgval.analysis import sharpness
from imgval.analysis.analyze import BLUR_VERDICTS, MODES, Record, Settings
from imgval.batch.cache import ResultCache, file_state, fingerprint


def changed(settings: Settings, name: str):
    """Another valid value for one Settings field."""
    value = getattr(settings, name)
    if name == "mode":
        return next(m for m in MODES if m != value)
    if name == "blur_verdict":
        return next(v for v in BLUR_VERDICTS if v != value)
    if name == "checksums":
        return value + ("md5",)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if dataclasses.is_dataclass(value):  # the EXIF profile: one more rule
        return dataclasses.replace(value, required_tags=value.required_tags + ("Make",))
    pytest.fail(f"teach this test another value for Settings.{name} ({type(value).__name__})")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Settings)])
def test_every_settings_field_is_part_of_the_fingerprint(name):
    settings = Settings()
    other = dataclasses.replace(settings, **{name: changed(settings, name)})
    assert fingerprint(other) != fingerprint(settings)
    assert fingerprint(dataclasses.replace(settings)) == fingerprint(settings)  # equal settings, equal key


def test_results_of_an_earlier_sharpness_measure_are_measured_again(tmp_path, monkeypatch):
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x" * 10)
    state = file_state(str(image))
    cache = ResultCache(str(tmp_path / "c.sqlite"), Settings())
    cache.store(state, Record(str(image), sharpness=1.5, blurry=True))
    cache.close()
    assert ResultCache(str(tmp_path / "c.sqlite"), Settings()).lookup("a.jpg", state) is not None
    monkeypatch.setattr(sharpness, "VERSION", sharpness.VERSION + 1)  # the next release's measure
    assert ResultCache(str(tmp_path / "c.sqlite"), Settings()).lookup("a.jpg", state) is None


def test_a_record_survives_the_round_trip_and_takes_the_path_it_is_found_by(tmp_path):
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x" * 10)
    record = Record(str(image), score=123.456789012345, blurry=False, hash="00ff00ff00ff00ff", width=3,
                    height=2, format="JPEG", exif={"make": "Canon"}, exif_ok=False, exif_issues="no date")
    cache = ResultCache(str(tmp_path / "c.sqlite"), Settings())
    state = file_state(str(image))
    cache.store(state, record)
    cache.close()

    again = ResultCache(str(tmp_path / "c.sqlite"), Settings())
    assert again.lookup("a.jpg", state) == dataclasses.replace(record, filepath="a.jpg")
    assert again.lookup("a.jpg", file_state(str(image))) is not None
    os.utime(image, ns=(state.size, os.stat(image).st_mtime_ns + 1))
    assert again.lookup("a.jpg", file_state(str(image))) is None  # touched: analyse again
    assert ResultCache(str(tmp_path / "c.sqlite"), Settings(threshold=1.0)).lookup("a.jpg", state) is None
