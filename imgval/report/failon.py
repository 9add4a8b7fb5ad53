"""--fail-on: which kinds of findings make a finished run exit with FLAGGED (so cron mails someone)."""
from __future__ import annotations

from imgval.report.summary import Summary

# kind -> (how many images of the run are of that kind, how to say it)
FAIL_KINDS = {
    "blurry": (lambda s: s.blurry, "blurry"),
    "exif": (lambda s: s.exif_failed, "failing the EXIF rules"),
    "duplicate": (lambda s: s.duplicates, "duplicates (images with a dup_group)"),
    "error": (lambda s: s.errors, "unreadable or broken"),
}


def parse_fail_on(values) -> tuple[str, ...]:
    """`blurry,exif` or ['blurry', 'exif'] -> ('blurry', 'exif'); ValueError names a bad kind."""
    if isinstance(values, str):
        values = [values]
    kinds: list[str] = []
    for value in values:
        for kind in (k.strip().lower() for k in value.split(",")):
            if not kind:
                continue
            if kind not in FAIL_KINDS:
                raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(FAIL_KINDS)} "
                                 f"(comma-separated, e.g. blurry,error)")
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


def findings(summary: Summary, kinds: tuple[str, ...]) -> list[str]:
    """What the run found of the given kinds, e.g. ['3 blurry', '1 unreadable or broken']."""
    found = []
    for kind in kinds:
        count, words = FAIL_KINDS[kind]
        if count(summary):
            found.append(f"{count(summary)} {words}")
    return found
