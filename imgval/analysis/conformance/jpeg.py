"""JPEG (ITU T.81 interchange format, JFIF / Exif files): marker segment structure.

Checked: the SOI marker; every marker segment's length within the file and, for the frame
header (SOFn), scan headers (SOS), tables (DQT, DHT) and restart interval (DRI), consistent with
its contents; a frame header before the first scan and the tables it needs; the end of every
entropy-coded scan; the EOI marker; data after EOI; a JFIF (APP0), Exif (APP1) or Adobe (APP14,
CMYK files) header. Not
checked: the entropy-coded data itself (the decoder reads it strictly: a corrupt scan is the
`error` column's verdict).
"""
from __future__ import annotations

import numpy as np

from imgval.analysis.conformance.issues import Issue, invalid, malformed

MAX_IMAGES = 64  # of a Multi-Picture file (phones store two to ten)
MAX_SEGMENTS = 10_000  # real files have tens; a file of millions of tiny segments is not checked to the end

SOI, EOI, SOS, DHT, DQT, DRI, DHP, DAC = 0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xDD, 0xDE, 0xCC
APP0, APP1, APP2, APP14 = 0xE0, 0xE1, 0xE2, 0xEE
_SOF = set(range(0xC0, 0xD0)) - {DHT, 0xC8, DAC}  # C8 is reserved (JPG)
_LOSSLESS_SOF = {0xC3, 0xC7, 0xCB, 0xCF}  # no quantisation tables
_HUFFMAN_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7}  # the others are arithmetic-coded
_STANDALONE = {0x01} | set(range(0xD0, 0xD8))  # TEM, RST0-7: no length field
# bytes of entropy-coded data searched for a marker at a time: growing, as a progressive file's
# first scans are small and a baseline file's one scan is the whole file
_FIRST_BLOCK, _BLOCK = 1 << 16, 1 << 20


def check(data) -> list[Issue]:
    """Every issue of a JPEG file's marker structure, in file order (bytes or a buffer). A
    Multi-Picture file (CIPA DC-007: phones, MPO) stores further images after the first's EOI:
    each is checked the same way, its issues prefixed with its number."""
    if bytes(data[:2]) != b"\xff\xd8":
        return [malformed("does not start with the SOI marker (FF D8): not a JPEG stream")]
    issues: list[Issue] = []
    start, multi_picture = 0, False
    for number in range(1, MAX_IMAGES + 1):
        walk = _Walk(data, start)
        walk.run()
        found = walk.issues + walk.final_issues(interchange_header=number == 1)
        issues.extend(found if number == 1 else [Issue(i.level, f"image {number}: {i.message}") for i in found])
        multi_picture = multi_picture or walk.has_mpf
        if walk.eoi_at is None:
            break
        after = walk.eoi_at + 2
        if after == walk.size:
            break
        if not (multi_picture and bytes(data[after:after + 2]) == b"\xff\xd8"):
            issues.append(invalid(f"{walk.size - after} bytes after the EOI marker (byte {walk.eoi_at})"))
            break
        start = after
    return issues


class _Walk:
    """One pass over the marker segments, collecting what later checks need."""

    def __init__(self, data, start: int):
        self.data, self.size, self.start = data, len(data), start
        self.issues: list[Issue] = []
        self.frame: dict | None = None  # SOF marker and component ids
        self.has_dqt = self.has_dht = self.has_dhp = False
        self.has_jfif = self.has_exif = self.has_adobe = self.has_mpf = False
        self.scans = 0
        self.eoi_at: int | None = None
        self.capped = False  # stopped at MAX_SEGMENTS: what the rest holds is unknown

    def run(self) -> None:
        data, pos = self.data, self.start + 2
        for count in range(1, MAX_SEGMENTS + 1):
            if pos + 2 > self.size:
                self.issues.append(malformed(f"no EOI marker (FF D9): the file ends at byte {self.size} "
                                             f"inside its marker structure (truncated)"))
                return
            if data[pos] != 0xFF:
                self.issues.append(malformed(f"expected a marker at byte {pos}, found 0x{data[pos]:02X}: "
                                             f"the segment structure is broken"))
                return
            while pos + 2 < self.size and data[pos + 1] == 0xFF:  # fill bytes before a marker
                pos += 1
            marker = data[pos + 1]
            if marker == EOI:
                self.eoi_at = pos
                return
            if marker in _STANDALONE:
                self.issues.append(invalid(f"marker FF {marker:02X} at byte {pos} outside a scan"))
                pos += 2
                continue
            if marker == SOI:
                self.issues.append(malformed(f"a second SOI marker at byte {pos}"))
                pos += 2
                continue
            if marker == 0x00:
                self.issues.append(malformed(f"FF 00 at byte {pos} where a marker should be: the segment "
                                             f"structure is broken"))
                return
            if pos + 4 > self.size:
                self.issues.append(malformed(f"segment FF {marker:02X} at byte {pos} is cut off (truncated)"))
                return
            length = data[pos + 2] << 8 | data[pos + 3]
            end = pos + 2 + length
            if length < 2:
                self.issues.append(malformed(f"segment FF {marker:02X} at byte {pos} has length {length} (at least 2)"))
                return
            if end > self.size:
                self.issues.append(malformed(f"segment FF {marker:02X} at byte {pos}: its length {length} runs "
                                             f"past the end of the file (truncated)"))
                return
            pos = self._segment(marker, pos, pos + 4, end, count)
            if pos is None:
                return
        self.issues.append(invalid(f"more than {MAX_SEGMENTS} marker segments: the rest was not checked"))
        self.capped = True

    def _segment(self, marker: int, at: int, body: int, end: int, count: int) -> int | None:
        """Check one segment; return where the next marker is expected (None: stop)."""
        data = self.data
        content = bytes(data[body:min(end, body + 64)])  # headers only: never copy a big segment
        if marker == APP0 and content.startswith(b"JFIF\x00"):
            self.has_jfif = True
            if count != 1:
                self.issues.append(invalid(f"the JFIF APP0 segment (byte {at}) does not follow SOI directly"))
        elif marker == APP1 and content.startswith(b"Exif\x00"):
            self.has_exif = True
        elif marker == APP14 and content.startswith(b"Adobe"):
            self.has_adobe = True
        elif marker == APP2 and content.startswith(b"MPF\x00"):
            self.has_mpf = True
        elif marker in _SOF:
            self._frame(marker, at, body, end)
        elif marker == DQT:
            self.has_dqt = True
            self._tables(at, body, end, "DQT", lambda p: 1 + 64 * (2 if data[p] >> 4 else 1))
        elif marker == DHT:
            self.has_dht = True
            self._tables(at, body, end, "DHT", lambda p: 17 + sum(data[p + 1:p + 17]) if p + 17 <= end else 17)
        elif marker == DRI and end - body != 2:
            self.issues.append(invalid(f"DRI segment at byte {at} has length {end - body + 2} (4 required)"))
        elif marker == DHP:
            self.has_dhp = True
        elif marker == SOS:
            return self._scan(at, body, end)
        elif 0x02 <= marker <= 0xBF:
            self.issues.append(invalid(f"reserved marker FF {marker:02X} at byte {at}"))
        return end

    def _frame(self, marker: int, at: int, body: int, end: int) -> None:
        data = self.data
        if self.frame is not None and not self.has_dhp:
            self.issues.append(invalid(f"a second frame header (SOF) at byte {at}"))
            return
        if end - body < 6:
            self.issues.append(malformed(f"frame header (SOF) at byte {at} is too short"))
            return
        height, width = data[body + 1] << 8 | data[body + 2], data[body + 3] << 8 | data[body + 4]
        components = data[body + 5]
        if end - body != 6 + 3 * components:
            self.issues.append(malformed(f"frame header (SOF) at byte {at}: length {end - body + 2} does not fit "
                                         f"its {components} components ({8 + 3 * components} required)"))
        if components == 0 or width == 0:
            self.issues.append(malformed(f"frame header (SOF) at byte {at} gives {components} components and "
                                         f"width {width}: no image"))
        ids = {data[body + 6 + 3 * i] for i in range(components) if body + 6 + 3 * i < end}
        self.frame = {"marker": marker, "ids": ids, "height": height}

    def _tables(self, at: int, body: int, end: int, name: str, table_size) -> None:
        """DQT and DHT hold one or more tables whose sizes must add up to the segment length."""
        pos = body
        while pos < end:  # each table is at least 17 bytes (DHT) or 65 (DQT): bounded by the length
            pos += table_size(pos)
        if pos != end:
            self.issues.append(malformed(f"{name} segment at byte {at}: its tables do not add up to its length"))

    def _scan(self, at: int, body: int, end: int) -> int | None:
        data = self.data
        count = data[body] if body < end else 0
        if end - body != 1 + 2 * count + 3 or not 1 <= count <= 4:
            self.issues.append(malformed(f"scan header (SOS) at byte {at}: length {end - body + 2} does not fit "
                                         f"its {count} components"))
        if self.frame is None:
            self.issues.append(malformed(f"scan (SOS) at byte {at} before any frame header (SOF)"))
        else:
            ids = {data[body + 1 + 2 * i] for i in range(count) if body + 1 + 2 * i < end}
            if not ids <= self.frame["ids"]:
                self.issues.append(malformed(f"scan (SOS) at byte {at} names components the frame does not have"))
            if self.scans == 0:
                self._tables_present(at)
        self.scans += 1
        following = self._next_marker(end)
        if following is None:
            self.issues.append(malformed(f"no EOI marker (FF D9): the file ends inside the scan that starts at "
                                         f"byte {at} (truncated)"))
        return following

    def _tables_present(self, at: int) -> None:
        marker = self.frame["marker"]
        if marker not in _LOSSLESS_SOF and not self.has_dqt:
            self.issues.append(invalid(f"no quantisation table (DQT) before the first scan (byte {at})"))
        if marker in _HUFFMAN_SOF and not self.has_dht:
            self.issues.append(invalid(f"no Huffman table (DHT) before the first scan (byte {at}): an "
                                       f"abbreviated stream, not an interchange file"))

    def _next_marker(self, start: int) -> int | None:
        """The first marker at or after start in entropy-coded data: FF followed by anything but
        00 (a stuffed FF), D0-D7 (restart markers) or FF (fill). Found with numpy a block at a
        time (~0.3 ms per MB; the blocks' temporaries stay in cache), not byte by byte."""
        array = np.frombuffer(self.data, np.uint8)
        last = self.size - 1  # a marker needs a byte after its FF
        block_start, block = start, _FIRST_BLOCK
        while block_start < last:
            block_end = min(block_start + block, last)
            ff = np.flatnonzero(array[block_start:block_end] == 0xFF) + block_start
            following = array[ff + 1]
            hits = ff[(following != 0) & ((following < 0xD0) | (following > 0xD7)) & (following != 0xFF)]
            if len(hits):
                return int(hits[0])
            block_start, block = block_end, min(2 * block, _BLOCK)
        return None

    def final_issues(self, interchange_header: bool) -> list[Issue]:
        issues = []
        if self.capped:
            return issues
        if self.frame is None:
            issues.append(malformed("no frame header (SOF): no image is described"))
        elif self.eoi_at is not None and self.scans == 0:
            issues.append(malformed("no scan (SOS) before EOI: the file has no image data"))
        if interchange_header and not (self.has_jfif or self.has_exif or self.has_adobe):
            issues.append(invalid("no JFIF (APP0), Exif (APP1) or Adobe (APP14) header: not an interchange file "
                                  "of any of these conventions"))
        return issues
