"""Reading a finished report (results.csv or .json) back: the rows `imgval dupes` and
`imgval report` work from, with typed values and only the columns they use."""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field

from imgval.report.runmeta import read_companion
from imgval.report.spreadsheet import unneutralise
from imgval.storage import is_remote


class ResultsError(Exception):
    """The file is not a report imgval can read; the message says why."""


@dataclass(slots=True)
class Row:
    filepath: str
    score: float | None
    blurry: bool | None
    hash: str
    width: int | None
    height: int | None
    format: str
    sha256: str
    dup_group: int | None
    exif_ok: bool | None
    exif_issues: str
    error: str
    md5: str = ""  # columns added later: older reports lack them
    hash_oriented: str = ""
    sharpness: float | None = None
    blur_status: str = ""
    blurry_classic: bool | None = None
    hash_rotated: str = ""

    @property
    def pixels(self) -> int | None:
        return self.width * self.height if self.width and self.height else None


@dataclass
class Results:
    rows: list[Row]
    threshold: float | None  # stored in JSON reports and CSV companions; an older CSV does not say
    has_groups: bool  # the report has a dup_group column (older reports do not)
    meta: dict = field(default_factory=dict)  # what the scan was made with (runmeta.scan_meta), {} if unknown
    base: str | None = None  # the folder the report's relative filepaths start from

    def locate(self, filepath: str) -> str:
        """Where a row's file is, seen from here: relative paths are taken from the folder the
        scan ran in (recorded in its metadata), else from the report's own folder."""
        if is_remote(filepath) or os.path.isabs(filepath) or not self.base:
            return filepath
        return os.path.join(self.base, filepath)


def load_results(path: str) -> Results:
    try:
        results = _load_json(path) if path.lower().endswith(".json") else _load_csv(path)
    except OSError as exc:
        raise ResultsError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, csv.Error) as exc:
        raise ResultsError(f"{path!r} is not an imgval report ({exc}); give the results.csv or "
                           f"results.json that `imgval scan` wrote") from None
    if results.threshold is None and isinstance(results.meta.get("threshold"), (int, float)):
        results.threshold = float(results.meta["threshold"])
    folder = os.path.dirname(os.path.abspath(path))
    base = results.meta.get("base")
    results.base = os.path.normpath(os.path.join(folder, base)) if isinstance(base, str) else folder
    return results


def _load_csv(path: str) -> Results:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "filepath" not in columns:
            raise ValueError("no filepath column")
        rows = [_row({k: unneutralise(v) for k, v in values.items()}) for values in reader]
    return Results(rows, None, "dup_group" in columns, read_companion(path))


def _load_json(path: str) -> Results:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    results = data["results"]
    rows = [_row(values) for values in results]
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    return Results(rows, data.get("threshold"), bool(results) and "dup_group" in results[0], meta)


UNJUDGED_BLUR = ("too small", "blank")  # blur_status of an image with no blur verdict (sharpness.Sharpness)


def _row(values: dict) -> Row:
    score = _float(values.get("score"))
    # Reports write False for a verdict that could not be made (pandas-safe booleans) and 0 for
    # an unknown size or no group; read back, they are unknown again.
    judged_exif = values.get("exif_status", "pass") not in ("", None)
    blur_status = _text(values.get("blur_status"))
    judged_blur = score is not None and blur_status not in UNJUDGED_BLUR
    return Row(
        filepath=str(values["filepath"]),
        score=score,
        blurry=_bool(values.get("blurry")) if judged_blur else None,
        sharpness=_float(values.get("sharpness")),
        blur_status=blur_status,
        blurry_classic=_bool(values.get("blurry_classic")) if score is not None else None,
        hash=_text(values.get("hash")),
        hash_oriented=_text(values.get("hash_oriented")),
        hash_rotated=_text(values.get("hash_rotated")),
        width=_int(values.get("width")) or None,
        height=_int(values.get("height")) or None,
        format=_text(values.get("format")),
        sha256=_text(values.get("sha256")),
        md5=_text(values.get("md5")),
        dup_group=_int(values.get("dup_group")) or None,
        exif_ok=_bool(values.get("exif_ok")) if judged_exif else None,
        exif_issues=_text(values.get("exif_issues")),
        error=_text(values.get("error")),
    )


def _text(value) -> str:
    return "" if value is None else str(value)


def _float(value) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _int(value) -> int | None:
    if value is None or value == "":
        return None
    return int(float(value))


def _bool(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if value in ("True", "true", "1"):
        return True
    if value in ("False", "false", "0"):
        return False
    raise ValueError(f"{value!r} is not True or False")


@dataclass(frozen=True)
class BlurVerdict:
    """What a report's blurry column means: `sharpness` below a threshold, or the original's
    blur `score` below one (classic)."""

    kind: str  # "sharpness" or "classic" (defaults.BLUR_VERDICTS)
    threshold: float
    inferred: bool = False  # the report does not record the threshold: it was worked out from the rows

    def value(self, row: Row) -> float | None:
        return row.sharpness if self.kind == "sharpness" else row.score

    @property
    def measure(self) -> str:
        return "sharpness" if self.kind == "sharpness" else "blur score"


def verdict_of(results: Results) -> BlurVerdict:
    """The verdict a report was made with: recorded in its metadata; else classic when its rows
    have no sharpness (an older report) or their blurry flags are the classic ones, else the
    sharpness verdict at the default threshold."""
    from imgval.defaults import SHARPNESS_THRESHOLD

    meta = results.meta
    if meta.get("blur_verdict") == "sharpness" and isinstance(meta.get("sharpness_threshold"), (int, float)):
        return BlurVerdict("sharpness", float(meta["sharpness_threshold"]))
    judged = [r for r in results.rows if r.blurry is not None]
    if meta.get("blur_verdict") == "classic" or all(r.blurry == r.blurry_classic or r.sharpness is None
                                                    for r in judged):
        return BlurVerdict("classic", threshold_of(results), results.threshold is None)
    return BlurVerdict("sharpness", SHARPNESS_THRESHOLD, inferred=True)


def threshold_of(results: Results) -> float:
    """The classic blur threshold the report was made with: stored in JSON; for a CSV, the default of
    the scan mode whose threshold agrees with every row's blurry flag, else the lowest score
    not flagged blurry (the threshold lies between the blurry and the sharp scores)."""
    from imgval.analysis.blur import DEFAULT_THRESHOLD, FAST_DEFAULT_THRESHOLD

    if results.threshold is not None:
        return float(results.threshold)
    flags = [(r.score, r.blurry if r.blurry_classic is None else r.blurry_classic)  # older reports: blurry
             for r in results.rows if r.score is not None]
    scored = [(score, blurry) for score, blurry in flags if blurry is not None]
    for candidate in (DEFAULT_THRESHOLD, FAST_DEFAULT_THRESHOLD):
        if all((score < candidate) == blurry for score, blurry in scored):
            return candidate
    sharp = [score for score, blurry in scored if not blurry]
    blurry = [score for score, blurry in scored if blurry]
    return min(sharp) if sharp else max(blurry)
