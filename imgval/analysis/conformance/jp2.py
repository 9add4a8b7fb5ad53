"""JPEG 2000 (JP2 files, ISO/IEC 15444-1, and raw codestreams): validated by jpylyzer, in-process.

jpylyzer checks every box of the JP2 file and the codestream's marker segments and tile-parts
(not the compressed data). Each test it fails becomes an issue; the tests that mean the
structure itself is broken (boxes or markers missing or cut off) make the file not well-formed,
the others not valid.
"""
from __future__ import annotations

import contextlib
import io

from jpylyzer import boxvalidator

from imgval.analysis.conformance.issues import Issue, invalid, malformed

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
CODESTREAM_SIGNATURE = b"\xff\x4f\xff\x51"  # SOC then SIZ
# jpylyzer tests whose failure means a reader cannot rely on the file's structure
_STRUCTURAL = {
    "containsSignatureBox", "containsFileTypeBox", "containsJP2HeaderBox", "containsContiguousCodestreamBox",
    "firstBoxIsSignatureBox", "secondBoxIsFileTypeBox", "containsImageHeaderBox", "boxLengthIsValid",
    "codestreamStartsWithSOCMarker", "foundSIZMarker", "foundCODMarker", "foundQCDMarker", "foundEOCMarker",
    "foundNextTilePartOrEOC", "foundExpectedNumberOfTiles", "foundExpectedNumberOfTileParts",
    "tilePartLengthIsValid", "psotIsValid",
}
_OPTIONS = {"validationFormat": "jp2", "verboseFlag": False, "nullxmlFlag": False, "packetmarkersFlag": False}


def check(data) -> list[Issue]:
    """Every test jpylyzer fails on a JP2 file or a raw JPEG 2000 codestream."""
    codestream = bytes(data[:4]) == CODESTREAM_SIGNATURE
    options = dict(_OPTIONS, validationFormat="j2c" if codestream else "jp2")
    root = "contiguousCodestreamBox" if codestream else "JP2"
    # jpylyzer raises on some damaged files (2.2: an unknown Rsiz capability); check_conformance
    # turns that into "not checked", as jpylyzer gives no verdict on them either
    with contextlib.redirect_stderr(io.StringIO()):  # jpylyzer prints its warnings
        result = boxvalidator.BoxValidator(options, root, data).validate()
    failed: dict[tuple[str, ...], int] = {}  # a test repeated per component or tile is one issue
    for path in _failed_tests(result.tests, ()):
        failed[path] = failed.get(path, 0) + 1
    issues = [_issue(path, times) for path, times in failed.items()]
    if not result.isValid and not issues:
        issues.append(malformed("jpylyzer found the file not valid without naming a test"))
    return issues


def _failed_tests(element, path: tuple[str, ...]):
    """jpylyzer's tests element lists only failed tests (without verbose): its leaves."""
    for child in element:
        if len(child):
            yield from _failed_tests(child, path + (child.tag,))
        else:
            yield path + (child.tag,)


def _issue(path: tuple[str, ...], times: int) -> Issue:
    text = f"jpylyzer test {' / '.join(path)} failed" + (f" ({times} times)" if times > 1 else "")
    return malformed(text) if path[-1] in _STRUCTURAL else invalid(text)
