"""TIFF 6.0 (and BigTIFF): header, IFD chain, tags, image data locations, baseline rules.

Checked: the header; every IFD (the page chain, SubIFDs, the Exif and GPS IFDs) inside the file,
word-aligned and visited once (a chain that loops back is reported, not followed); each entry's
type known and its value inside the file; tags in ascending order, once each; the types and
counts of the baseline tags; ImageWidth, ImageLength, PhotometricInterpretation and the strip or
tile tags present; every strip and tile inside the file; strip and tile counts matching the
image size; PhotometricInterpretation consistent with SamplesPerPixel, ExtraSamples, BitsPerSample
and ColorMap; DateTime's form. Not checked: the compressed image data (the decoder reads it).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from imgval.analysis.conformance.issues import Issue, invalid, malformed

MAX_IFDS = 10_000  # pages + SubIFDs + Exif/GPS IFDs; beyond this the rest is not checked
MAX_ENTRIES = 4_096  # a real IFD has tens of entries
MAX_TOTAL_ENTRIES = 200_000  # over all IFDs: 10,000 pages of 20 tags; keeps a crafted file to ~1 s
MAX_DEPTH = 8  # IFDs inside IFDs (Exif in a SubIFD in a page ...): real files nest two or three

# field type -> (bytes per value, struct code); 13 is IFD, 16-18 are BigTIFF's 8-byte types
_TYPES = {1: (1, "B"), 2: (1, "B"), 3: (2, "H"), 4: (4, "I"), 5: (8, "I"), 6: (1, "b"), 7: (1, "B"),
          8: (2, "h"), 9: (4, "i"), 10: (8, "i"), 11: (4, "f"), 12: (8, "d"), 13: (4, "I"),
          16: (8, "Q"), 17: (8, "q"), 18: (8, "Q")}
_TYPE_NAMES = {1: "BYTE", 2: "ASCII", 3: "SHORT", 4: "LONG", 5: "RATIONAL", 6: "SBYTE", 7: "UNDEFINED",
               8: "SSHORT", 9: "SLONG", 10: "SRATIONAL", 11: "FLOAT", 12: "DOUBLE", 13: "IFD",
               16: "LONG8", 17: "SLONG8", 18: "IFD8"}
_INTEGER = {1, 3, 4, 13, 16, 18}
_SHORT_LONG = {3, 4, 16}
_OFFSET_TYPES = {4, 13, 16, 18}
# tag -> (name, allowed types, count rule: a number, or the name of what it must equal)
_BASELINE = {
    254: ("NewSubfileType", {4}, 1), 256: ("ImageWidth", _SHORT_LONG, 1), 257: ("ImageLength", _SHORT_LONG, 1),
    258: ("BitsPerSample", {3}, "samples"), 259: ("Compression", {3}, 1),
    262: ("PhotometricInterpretation", {3}, 1), 266: ("FillOrder", {3}, 1), 273: ("StripOffsets", _SHORT_LONG, "strips"),
    274: ("Orientation", {3}, 1), 277: ("SamplesPerPixel", {3}, 1), 278: ("RowsPerStrip", _SHORT_LONG, 1),
    279: ("StripByteCounts", _SHORT_LONG, "strips"), 282: ("XResolution", {5}, 1), 283: ("YResolution", {5}, 1),
    284: ("PlanarConfiguration", {3}, 1), 296: ("ResolutionUnit", {3}, 1), 306: ("DateTime", {2}, 20),
    320: ("ColorMap", {3}, "colormap"), 322: ("TileWidth", _SHORT_LONG, 1), 323: ("TileLength", _SHORT_LONG, 1),
    324: ("TileOffsets", {4, 16}, "strips"), 325: ("TileByteCounts", _SHORT_LONG, "strips"),
    338: ("ExtraSamples", {3}, "extra"), 339: ("SampleFormat", {3}, "samples"),
}
_SUB_IFDS = 330
_CHILD_IFDS = {_SUB_IFDS: "SubIFD", 34665: "Exif IFD", 34853: "GPS IFD", 40965: "Interoperability IFD"}
# PhotometricInterpretation -> (name, colour samples allowed)
_PHOTOMETRIC = {0: ("WhiteIsZero", {1}), 1: ("BlackIsZero", {1}), 2: ("RGB", {3}), 3: ("Palette", {1}),
                4: ("TransparencyMask", {1}), 5: ("Separated", None), 6: ("YCbCr", {3}), 8: ("CIELab", {1, 3}),
                9: ("ICCLab", {1, 3}), 10: ("ITULab", {1, 3}), 32844: ("LogL", {1}), 32845: ("LogLuv", {3})}


@dataclass
class _Entry:
    tag: int
    type: int
    count: int
    at: int  # where the value is: inline in the entry or at its offset


class _Reader:
    def __init__(self, data, order: str, big: bool):
        self.data, self.size, self.order, self.big = data, len(data), order, big
        self.offset_code, self.offset_size = ("Q", 8) if big else ("I", 4)

    def unpack(self, code: str, at: int):
        return struct.unpack_from(self.order + code, self.data, at)

    def values(self, entry: _Entry, limit: int | None = None):
        """The entry's values as a numpy array (rationals: numerator, denominator pairs)."""
        width, code = _TYPES[entry.type]
        count = entry.count * (2 if entry.type in (5, 10) else 1)
        if limit is not None:
            count = min(count, limit)
        dtype = np.dtype(self.order + code)
        return np.frombuffer(self.data, dtype, count=count, offset=entry.at)


def check(data) -> list[Issue]:
    """Every issue of a TIFF file's structure, IFD by IFD (bytes or a buffer)."""
    head = bytes(data[:16])
    if head[:2] not in (b"II", b"MM"):
        return [malformed("does not start with a TIFF byte-order mark (II or MM)")]
    order = "<" if head[:2] == b"II" else ">"
    if len(head) < 8:
        return [malformed("the TIFF header is cut off (truncated)")]
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 43 and len(head) >= 16:
        reader = _Reader(data, order, big=True)
        first = struct.unpack(order + "Q", head[8:16])[0]
    elif magic == 42:
        reader = _Reader(data, order, big=False)
        first = struct.unpack(order + "I", head[4:8])[0]
    else:
        return [malformed(f"the TIFF header's version number is {magic} (42, or 43 for BigTIFF, required)")]
    walk = _Walk(reader)
    if first == 0:
        return [malformed("the header points to no IFD: the file holds no image")]
    walk.chain(first, "IFD", image=True)
    return walk.issues


class _Walk:
    def __init__(self, reader: _Reader):
        self.reader = reader
        self.issues: list[Issue] = []
        self.visited: set[int] = set()
        self.entries_seen = 0

    def chain(self, offset: int, kind: str, image: bool, depth: int = 0) -> None:
        """Follow a chain of IFDs from offset (image IFDs: pages, SubIFDs): checked once each,
        loops and bad offsets reported."""
        if depth > MAX_DEPTH:
            self.issues.append(invalid(f"{kind}: IFDs nested more than {MAX_DEPTH} deep: not checked"))
            return
        number = 0
        while offset:
            label = f"{kind} {number}" if kind == "IFD" else kind
            if offset in self.visited:
                self.issues.append(malformed(f"{label}: the IFD chain loops back to byte {offset}"))
                return
            if len(self.visited) >= MAX_IFDS or self.entries_seen > MAX_TOTAL_ENTRIES:
                self.issues.append(invalid(f"more than {MAX_IFDS} IFDs or {MAX_TOTAL_ENTRIES} IFD entries: the "
                                           f"rest was not checked"))
                return
            self.visited.add(offset)
            entries, offset = self.ifd(offset, label)
            if entries is None:
                return
            if image:
                _Image(self, entries, label).check()
            for entry in entries.values():
                self.follow(entry, label, depth)
            if not image:
                return  # Exif, GPS and Interoperability IFDs are single: cameras leave junk in "next"
            number += 1

    def ifd(self, offset: int, label: str) -> tuple[dict[int, _Entry] | None, int]:
        """The IFD's entries by tag, and the next IFD's offset (0: none)."""
        reader, size = self.reader, self.reader.size
        count_code, count_size, entry_size = ("Q", 8, 20) if reader.big else ("H", 2, 12)
        if offset % 2:
            self.issues.append(invalid(f"{label} at byte {offset} is not word-aligned"))
        if offset + count_size > size:
            self.issues.append(malformed(f"{label}: its offset {offset} is past the end of the file"))
            return None, 0
        count = reader.unpack(count_code, offset)[0]
        end = offset + count_size + count * entry_size
        if count == 0 or count > MAX_ENTRIES:
            self.issues.append(malformed(f"{label} at byte {offset} has {count} entries"))
            return None, 0
        if end + reader.offset_size > size:
            self.issues.append(malformed(f"{label} at byte {offset}: its {count} entries run past the end of the "
                                         f"file (truncated)"))
            return None, 0
        self.entries_seen += count
        entries: dict[int, _Entry] = {}
        previous = -1
        for position in range(offset + count_size, end, entry_size):
            entry = self.entry(position, label)
            if entry is None:
                continue
            if entry.tag <= previous:
                problem = "twice" if entry.tag in entries else f"out of order (after tag {previous})"
                self.issues.append(invalid(f"{label}: tag {entry.tag} {problem}"))
            previous = max(previous, entry.tag)
            entries.setdefault(entry.tag, entry)
        return entries, reader.unpack(reader.offset_code, end)[0]

    def entry(self, position: int, label: str) -> _Entry | None:
        reader = self.reader
        if reader.big:
            tag, kind, count, value = reader.unpack("HHQQ", position)
            inline = 8
        else:
            tag, kind, count, value = reader.unpack("HHII", position)
            inline = 4
        if kind not in _TYPES or (kind >= 16 and not reader.big):
            self.issues.append(invalid(f"{label}: tag {tag} has the unknown field type {kind}"))
            return None
        length = count * _TYPES[kind][0]
        at = position + 4 + reader.offset_size if length <= inline else value
        if at + length > reader.size:
            self.issues.append(malformed(f"{label}: tag {tag}'s value ({length} bytes at byte {at}) runs past the "
                                         f"end of the file"))
            return None
        return _Entry(tag, kind, count, at)

    def follow(self, entry: _Entry, label: str, depth: int) -> None:
        """IFDs the entry points to: SubIFDs are images; Exif, GPS, Interoperability are not."""
        if entry.tag not in _CHILD_IFDS or entry.type not in _OFFSET_TYPES:
            return
        for offset in self.reader.values(entry, limit=256):
            if int(offset):
                self.chain(int(offset), f"{label} {_CHILD_IFDS[entry.tag]}", entry.tag == _SUB_IFDS, depth + 1)


class _Image:
    """The baseline rules of one image IFD."""

    def __init__(self, walk: _Walk, entries: dict[int, _Entry], label: str):
        self.walk, self.entries, self.label = walk, entries, label
        self.reader = walk.reader

    def report(self, issue: Issue) -> None:
        self.walk.issues.append(issue)

    def scalar(self, tag: int, default: int | None = None) -> int | None:
        entry = self.entries.get(tag)
        if entry is None or entry.type not in _INTEGER or entry.count < 1:
            return default
        return int(self.reader.values(entry, limit=1)[0])

    def array(self, tag: int) -> np.ndarray | None:
        entry = self.entries.get(tag)
        if entry is None or entry.type not in _INTEGER:
            return None
        return self.reader.values(entry).astype(np.int64)

    def check(self) -> None:
        label = self.label
        width, length = self.scalar(256), self.scalar(257)
        for tag, value in ((256, width), (257, length)):
            if not value:
                self.report(malformed(f"{label}: {_BASELINE[tag][0]} is missing or 0"))
        samples = self.scalar(277, 1)
        extra = self.entries[338].count if 338 in self.entries else 0
        bits = self.array(258)
        bits = bits if bits is not None and len(bits) else np.array([1])
        tiled = 322 in self.entries or 323 in self.entries or 324 in self.entries or 325 in self.entries
        planar = self.scalar(284, 1)
        parts = self.parts(width, length, samples, planar, tiled)
        self.types_and_counts(samples, extra, int(bits[0]), parts)
        if width and length:
            self.data_locations(tiled, parts, width, length, samples, bits)
        self.photometric(samples, extra, bits)
        if planar not in (1, 2):
            self.report(invalid(f"{label}: PlanarConfiguration {planar} (1 or 2 required)"))
        self.date_time()

    def parts(self, width, length, samples, planar, tiled) -> int | None:
        """How many strips or tiles the image size calls for (None: cannot tell)."""
        if not (width and length):
            return None
        per_plane = samples if planar == 2 else 1
        if tiled:
            tile_width, tile_length = self.scalar(322), self.scalar(323)
            if not (tile_width and tile_length):
                return None
            return -(-width // tile_width) * -(-length // tile_length) * per_plane
        rows = self.scalar(278, 2**32 - 1) or 2**32 - 1
        return -(-length // rows) * per_plane

    def types_and_counts(self, samples: int, extra: int, bits: int, parts: int | None) -> None:
        wanted_counts = {"samples": samples, "strips": parts, "colormap": 3 * 2 ** bits if bits <= 16 else None,
                         "extra": extra if extra < samples else samples - 1}  # at most spp - 1 extra samples
        for tag, entry in self.entries.items():
            if tag not in _BASELINE:
                continue
            name, types, count = _BASELINE[tag]
            allowed = types | ({16} if self.reader.big and 4 in types else set())
            if entry.type not in allowed:
                expected = " or ".join(_TYPE_NAMES[t] for t in sorted(allowed))
                self.report(invalid(f"{self.label}: {name} has type {_TYPE_NAMES[entry.type]} ({expected} required)"))
            want = wanted_counts[count] if isinstance(count, str) else count
            if count == "samples" and entry.count == 1:
                continue  # one value for every sample: writers do it, libtiff and JHOVE accept it
            if want is not None and entry.count != want:
                self.report(invalid(f"{self.label}: {name} has {entry.count} values ({want} required)"))

    def data_locations(self, tiled: bool, parts: int | None, width, length, samples, bits) -> None:
        label, size = self.label, self.reader.size
        names = ("TileOffsets", "TileByteCounts") if tiled else ("StripOffsets", "StripByteCounts")
        offsets, counts = self.array(324 if tiled else 273), self.array(325 if tiled else 279)
        if tiled and (323 in self.entries or 322 in self.entries):
            for tag in (322, 323):
                value = self.scalar(tag)
                if not value or value % 16:
                    self.report(invalid(f"{label}: {_BASELINE[tag][0]} {value} is not a multiple of 16"))
        if tiled and (273 in self.entries or 279 in self.entries):
            self.report(invalid(f"{label}: both strips and tiles are defined"))
        if offsets is None:
            self.report(malformed(f"{label}: {names[0]} is missing: the image data cannot be found"))
            return
        if counts is None:
            self.report(invalid(f"{label}: {names[1]} is missing"))
            return
        if len(offsets) != len(counts):
            self.report(invalid(f"{label}: {len(offsets)} {names[0]} but {len(counts)} {names[1]}"))
        number = min(len(offsets), len(counts))
        outside = np.flatnonzero(offsets[:number] + counts[:number] > size)
        kind = "tiles" if tiled else "strips"
        if len(outside):
            first = int(outside[0])
            self.report(malformed(f"{label}: {len(outside)} of {number} {kind} run past the end of the file "
                                  f"(the first: {kind[:-1]} {first}, {int(counts[first])} bytes at byte "
                                  f"{int(offsets[first])}): truncated"))
        if self.scalar(259, 1) == 1 and self.scalar(262) != 6 and not tiled and parts == number:
            # (YCbCr is left out: its subsampling shrinks the strips by a factor this does not read)
            # uncompressed strips hold exactly their rows' bytes; fewer means data is missing
            needed = length * -(-width * int(bits.sum() if self.scalar(284, 1) == 1 else bits[0]) // 8)
            needed *= 1 if self.scalar(284, 1) == 1 else samples
            if int(counts[:number].sum()) < needed:
                self.report(malformed(f"{label}: the uncompressed strips hold {int(counts[:number].sum())} bytes, "
                                      f"the image needs {needed}"))

    def photometric(self, samples: int, extra: int, bits: np.ndarray) -> None:
        label = self.label
        value = self.scalar(262)
        if value is None:
            self.report(invalid(f"{label}: PhotometricInterpretation is missing"))
            return
        if value not in _PHOTOMETRIC:
            self.report(invalid(f"{label}: unknown PhotometricInterpretation {value}"))
            return
        name, colour_samples = _PHOTOMETRIC[value]
        if value == 5:  # Separated: InkSet 1 (CMYK, the default) has four inks, else NumberOfInks
            inks = self.scalar(334, 4) if self.scalar(332, 1) != 1 else 4
            colour_samples = {inks}
        if samples - extra not in colour_samples:
            wanted = " or ".join(str(n) for n in sorted(colour_samples))
            self.report(invalid(f"{label}: PhotometricInterpretation {value} ({name}) needs {wanted} colour "
                                f"samples, the file has SamplesPerPixel {samples} with {extra} ExtraSamples"))
        if value == 3:
            if 320 not in self.entries:
                self.report(invalid(f"{label}: a palette image without a ColorMap"))
        if value == 4 and int(bits[0]) != 1:
            self.report(invalid(f"{label}: a transparency mask must have BitsPerSample 1"))
        if (value == 4) != bool(self.scalar(254, 0) & 4):
            self.report(invalid(f"{label}: PhotometricInterpretation and NewSubfileType disagree on being a "
                                f"transparency mask"))
        if (bits <= 0).any():
            self.report(invalid(f"{label}: BitsPerSample of 0"))

    def date_time(self) -> None:
        entry = self.entries.get(306)
        if entry is None or entry.type != 2:
            return
        text = bytes(self.reader.data[entry.at:entry.at + entry.count]).rstrip(b"\x00").decode("latin-1")
        digits = text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
        if len(text) != 19 or text[4::3][:2] != "::" or text[10] != " " or text[13::3] != "::" or not digits.isdigit():
            self.report(invalid(f"{self.label}: DateTime {text!r} is not in the form YYYY:MM:DD HH:MM:SS"))
