"""Well-formed and valid, in JHOVE's words: one check per format, pure functions on the file's
bytes (the bytes the scan already read) returning every issue found, not just the first.

Every parser here is bounded: it advances through the file at every step, follows each TIFF IFD
once, and stops at a fixed number of segments, chunks or blocks, so no file can make it loop.
"""
from __future__ import annotations

from dataclasses import dataclass

from imgval.analysis.conformance import bmp, gif, jp2, jpeg, png, tiff, webp
from imgval.analysis.conformance.issues import (NOT_WELL_FORMED, WELL_FORMED_AND_VALID, WELL_FORMED_NOT_VALID, Issue,
                                               verdict)

__all__ = ["Conformance", "check_conformance", "format_of", "NOT_WELL_FORMED", "WELL_FORMED_AND_VALID",
           "WELL_FORMED_NOT_VALID", "Issue"]

# signature -> (format, check); the first the file starts with decides. Deliberately loose where a
# damaged signature is itself the defect to report: any marker after FF (a JPEG missing its SOI),
# a TIFF byte-order mark with any version number, PNG's first four bytes.
_SIGNATURES = (
    (b"\x89PNG", "PNG", png.check),
    (b"II", "TIFF", tiff.check), (b"MM", "TIFF", tiff.check),
    (jp2.JP2_SIGNATURE, "JPEG2000", jp2.check), (jp2.CODESTREAM_SIGNATURE, "JPEG2000", jp2.check),
    (b"GIF8", "GIF", gif.check),
    (b"BM", "BMP", bmp.check),
)
CHECKED_FORMATS = "JPEG, TIFF, PNG, JPEG 2000, WebP, GIF and BMP"
MAX_LISTED = 100  # issues written into the report cell


@dataclass(frozen=True)
class Conformance:
    verdict: str  # one of the three verdicts; "" when the format is not checked
    issues: tuple[str, ...]  # every issue, in plain words (or why nothing was checked)

    @property
    def summary(self) -> str:
        """The issues as one report cell, `; `-separated. Past MAX_LISTED (a damaged 10,000-page
        TIFF can have thousands) the cell says how many more there are: spreadsheets cut cells
        at 32,767 characters."""
        if len(self.issues) <= MAX_LISTED:
            return "; ".join(self.issues)
        more = len(self.issues) - MAX_LISTED
        return "; ".join(self.issues[:MAX_LISTED] + (f"... and {more} more issues ({len(self.issues)} in all)",))


def format_of(data) -> str | None:
    """The checked format the file's first bytes announce (None: not one imgval checks)."""
    return _checker(data)[0]


def check_conformance(data) -> Conformance:
    """The file's verdict and every issue. Never raises: a parser failure is reported as the
    reason no verdict was given."""
    name, check = _checker(data)
    if check is None:
        return Conformance("", (f"not checked: imgval checks the conformance of {CHECKED_FORMATS} files",))
    try:
        issues = check(data)
    except Exception as exc:  # a parser bug must cost a verdict, never the row
        return Conformance("", (f"not checked: the {name} check stopped with an error ({type(exc).__name__}: {exc})",))
    return Conformance(verdict(issues), tuple(issue.message for issue in issues))


def _checker(data):
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP", webp.check
    if head[:1] == b"\xff" and head[1:2] >= b"\xc0" and head[1:2] != b"\xff":
        return "JPEG", jpeg.check
    for signature, name, check in _SIGNATURES:
        if head.startswith(signature):
            return name, check
    return None, None
