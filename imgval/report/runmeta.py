"""What a report was made with (when, imgval version, mode, threshold, profile, inputs and the
folder relative paths start from): the JSON report's `meta` object, and for a CSV a companion
file beside it (`results.meta.json`), so the CSV's columns stay exactly what pandas reads."""
from __future__ import annotations

import datetime as dt
import json
import os

from imgval import __version__

COMPANION_SUFFIX = ".meta.json"


def scan_meta(settings, inputs: list[str], dup_radius: int | None, report_path: str | None,
              command: str = "scan") -> dict:
    """The run's metadata. settings: analyze.Settings. `base` is the folder the scan ran in,
    relative to the report's folder, so a project folder moved as a whole still resolves."""
    report_folder = os.path.dirname(os.path.abspath(report_path or "."))
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "imgval": __version__,
        "command": command,
        "mode": settings.mode,
        "threshold": settings.threshold,
        "blur_verdict": settings.blur_verdict,
        "sharpness_threshold": settings.sharpness_threshold,
        "fix_size": settings.fix_size,
        "max_pixels": settings.max_pixels,
        "profile": settings.profile.name,
        "profile_file": settings.profile.source,
        "dup_radius": dup_radius,
        "inputs": list(inputs),
        "base": os.path.relpath(os.getcwd(), report_folder),  # where relative filepaths start
    }


def companion_path(report_path: str) -> str:
    """results.csv -> results.meta.json (beside it)."""
    return os.path.splitext(report_path)[0] + COMPANION_SUFFIX


def read_companion(report_path: str) -> dict:
    """The CSV's metadata, or {} when there is none (an older report, or the file was not kept)."""
    try:
        with open(companion_path(report_path), encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
