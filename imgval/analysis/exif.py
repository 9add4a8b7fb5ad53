"""EXIF tag extraction: image bytes -> printable tags + spreadsheet-ready fields.

exifread is the primary reader (it understands JPEG, TIFF, PNG eXIf, HEIC, WebP and more
without decoding pixels). Where it finds nothing, Pillow's header parse of the already-opened
image is the fallback. Both paths produce the same tag names (exifread's vocabulary), so a
profile's ``required_tags`` means the same thing whichever reader found the tag.

Nothing here raises on bad input: corrupt or absent EXIF gives empty tags and fields.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from numbers import Rational
from typing import TYPE_CHECKING, Any

import exifread
from exifread.tags import exif as _exifread_tags

from imgval.analysis.filedata import byte_stream

if TYPE_CHECKING:
    from PIL import Image

# Report columns, in order. Values live in ExifData.fields ("" when absent).
EXIF_COLUMNS: tuple[str, ...] = (
    "make",
    "model",
    "software",
    "datetime_original",
    "x_resolution",
    "y_resolution",
    "resolution_unit",
    "color_space",
    "bits_per_sample",
    "orientation",
    "artist",
    "copyright",
)

# EXIF ResolutionUnit values, named in the words a profile uses.
RESOLUTION_UNITS: dict[int, str] = {1: "none", 2: "inch", 3: "cm"}

# EXIF ColorSpace values. 2 is not in the EXIF standard but several camera makers write it for
# Adobe RGB; the standard way (Uncalibrated + interoperability index "R03") is handled below.
COLOR_SPACES: dict[int, str] = {1: "sRGB", 2: "AdobeRGB", 0xFFFF: "Uncalibrated"}

# exifread names IFDs "Image" (IFD0), "Thumbnail" (IFD1), "IFD n", "EXIF", "GPS",
# "Interoperability", "MakerNote". Only the ones describing the main image are kept; IFD1 repeats
# XResolution etc. for the thumbnail and would otherwise shadow or contradict IFD0.
_MAIN_IMAGE_IFDS = ("Image", "EXIF", "GPS", "Interoperability")

# exifread only logs a warning for "no EXIF found"; on a batch of PNGs that is one log line per
# file for something the report already shows. Quieten it unless the application configured it.
_exifread_logger = logging.getLogger("exifread")
if _exifread_logger.level == logging.NOTSET:
    _exifread_logger.setLevel(logging.ERROR)

_EXIF_DATE = re.compile(
    r"(\d{4})[:\-](\d{2})[:\-](\d{2})"  # "YYYY:MM:DD" per EXIF; "YYYY-MM-DD" from some software
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?"
    r"(?:\.\d+)?(?:Z|[+\-]\d{2}:?\d{2})?"  # fractional seconds / zone some writers append
)


@dataclass(frozen=True)
class ExifData:
    """EXIF found in one image.

    tags: every tag, keyed by its EXIF name without IFD prefix ("Make", "DateTimeOriginal"),
    with printable values. fields: one value per EXIF_COLUMNS entry, "" when absent.
    """

    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=lambda: dict.fromkeys(EXIF_COLUMNS, ""))


def extract_exif(data: bytes, image: Image.Image | None = None) -> ExifData:
    """Read EXIF from the file bytes; fall back to ``image.getexif()`` when exifread finds none.

    Never raises: corrupt or absent EXIF gives empty tags and "" fields.
    """
    raw = _read_with_exifread(data)
    if not raw and image is not None:
        raw = _read_with_pillow(image)
    tags = {name: printable for name, (printable, _) in raw.items()}
    values = {name: value for name, (_, value) in raw.items()}
    return ExifData(tags=tags, fields=_fields(values))


def parse_exif_datetime(text: str) -> datetime | None:
    """EXIF date text -> naive datetime, or None if it is not a real date.

    Accepts "YYYY:MM:DD HH:MM:SS" (the EXIF format), "YYYY-MM-DD" separators, a "T" separator,
    a missing time, and trailing NULs/spaces, fractional seconds or a zone suffix (ignored:
    EXIF times are local). "0000:00:00 00:00:00" is None.
    """
    match = _EXIF_DATE.fullmatch(clean_text(text))
    if match is None:
        return None
    parts = [int(p) if p is not None else 0 for p in match.groups()]
    try:
        return datetime(*parts)
    except ValueError:  # month 0, 31 February, hour 25 ...
        return None


def is_blank_exif_date(text: str) -> bool:
    """EXIF says an unknown date may be written as blanks (spaces, colons kept)."""
    return clean_text(text).strip(" :") == ""


def clean_text(text: str) -> str:
    """Strip the NUL padding and spaces that EXIF ASCII fields often carry."""
    return text.replace("\x00", " ").strip()


# --- readers: each returns {tag name: (printable, value)} -----------------------------------
# value is a str for ASCII tags, else a list of numbers (int, Fraction) or a bytes object.


def _read_with_exifread(data: bytes) -> dict[str, tuple[str, Any]]:
    try:
        found = exifread.process_file(byte_stream(data), details=False, extract_thumbnail=False)
    except Exception:  # exifread can fail on any malformed structure; "no EXIF" is the answer
        return {}
    raw: dict[str, tuple[str, Any]] = {}
    for key, tag in found.items():
        ifd, _, name = str(key).partition(" ")
        if ifd not in _MAIN_IMAGE_IFDS or not name or name in raw:
            continue
        try:
            raw[name] = (clean_text(str(tag.printable)), tag.values)
        except Exception:  # a tag object without the usual attributes; skip that tag only
            continue
    return raw


# Tag id -> exifread name for the fallback, so both readers speak the same names.
_IFD0_AND_EXIF_NAMES = {tag_id: spec[0] for tag_id, spec in _exifread_tags.EXIF_TAGS.items()}
_GPS_NAMES = {tag_id: spec[0] for tag_id, spec in _exifread_tags.GPS_TAGS.items()}
_INTEROP_NAMES = {tag_id: spec[0] for tag_id, spec in _exifread_tags.INTEROP_TAGS.items()}
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_SKIPPED_BY_EXIFREAD = frozenset(exifread.tags.IGNORE_TAGS)
_PNG_EXIF_KEYS = {"exif", "Raw profile type exif"}  # where Pillow keeps EXIF found in a PNG header

# Every name a tag can have in ExifData.tags; tags exifread has no name for are "Tag 0x9999".
KNOWN_TAG_NAMES: frozenset[str] = frozenset(
    [*_IFD0_AND_EXIF_NAMES.values(), *_GPS_NAMES.values(), *_INTEROP_NAMES.values()]
)
_UNNAMED_TAG = re.compile(r"Tag 0x[0-9A-F]{4}")


def is_tag_name(name: str) -> bool:
    """True if a tag can appear in ExifData.tags under this name."""
    return name in KNOWN_TAG_NAMES or _UNNAMED_TAG.fullmatch(name) is not None


def unnamed_tag_alias(name: str) -> str | None:
    """A tag Pillow names but exifread does not ("CameraSerialNumber") -> "Tag 0xC62F"."""
    from PIL import ExifTags

    for tag_id, pillow_name in [*ExifTags.TAGS.items(), *ExifTags.GPSTAGS.items()]:
        if pillow_name == name and name not in KNOWN_TAG_NAMES:
            return f"Tag 0x{tag_id:04X}"
    return None


def _read_with_pillow(image: Image.Image) -> dict[str, tuple[str, Any]]:
    if image.format == "PNG" and not _PNG_EXIF_KEYS & image.info.keys():
        # Pillow's PNG getexif() decodes every pixel looking for a late eXIf chunk; exifread
        # has already walked all chunks, so there is nothing left to find that way.
        return {}
    try:
        with warnings.catch_warnings():  # Pillow warns about corrupt EXIF; empty is our answer
            warnings.simplefilter("ignore")
            exif = image.getexif()
            sections = [(dict(exif), _IFD0_AND_EXIF_NAMES)]
            for ifd_id, names in (
                (_EXIF_IFD, _IFD0_AND_EXIF_NAMES),
                (_GPS_IFD, _GPS_NAMES),
                (_INTEROP_IFD, _INTEROP_NAMES),
            ):
                sections.append((dict(exif.get_ifd(ifd_id)), names))
    except Exception:
        return {}
    raw: dict[str, tuple[str, Any]] = {}
    for entries, names in sections:
        for tag_id, value in entries.items():
            if tag_id in (_EXIF_IFD, _GPS_IFD, _INTEROP_IFD):
                continue  # pointers to sub-IFDs, read above
            if tag_id in _SKIPPED_BY_EXIFREAD:
                continue  # MakerNote, UserComment, XMP: exifread skips them too (details=False)
            name = names.get(tag_id, f"Tag 0x{tag_id:04X}")
            if name in raw:
                continue
            value = _pillow_value(value)
            raw[name] = (_printable(value), value)
    return raw


def _pillow_value(value: Any) -> Any:
    """Pillow's types -> the reader-neutral form (str, bytes, or list of numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value
    items = value if isinstance(value, tuple) else (value,)
    return [_number(item) for item in items]


def _number(item: Any) -> Any:
    if isinstance(item, Rational) and not isinstance(item, int):
        try:
            return Fraction(int(item.numerator), int(item.denominator))
        except (ZeroDivisionError, ValueError, TypeError):
            return float("nan")
    return item


def _printable(value: Any) -> str:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        if text.isascii() and text.decode("ascii").isprintable():
            return text.decode("ascii").strip()
        return f"<{len(value)} bytes>"
    if len(value) == 1:
        return str(value[0])
    return "[" + ", ".join(str(v) for v in value) + "]"


# --- fields ---------------------------------------------------------------------------------


def _fields(values: dict[str, Any]) -> dict[str, str]:
    unit = _first_int(values.get("ResolutionUnit"))
    return {
        "make": _text(values.get("Make")),
        "model": _text(values.get("Model")),
        "software": _text(values.get("Software")),
        "datetime_original": _datetime_field(values.get("DateTimeOriginal")),
        "x_resolution": _decimal(values.get("XResolution")),
        "y_resolution": _decimal(values.get("YResolution")),
        "resolution_unit": "" if unit is None else RESOLUTION_UNITS.get(unit, str(unit)),
        "color_space": _color_space(values),
        "bits_per_sample": _bits_per_sample(values.get("BitsPerSample")),
        "orientation": _orientation(values.get("Orientation")),
        "artist": _text(values.get("Artist")),
        "copyright": _text(values.get("Copyright")),
    }


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        return clean_text(value)
    return ""


def _datetime_field(value: Any) -> str:
    """ISO-like "YYYY-MM-DD HH:MM:SS" (spreadsheets parse it) or the raw text when not a date."""
    text = _text(value)
    parsed = parse_exif_datetime(text)
    return parsed.isoformat(sep=" ") if parsed else text


def _first_number(value: Any) -> float | None:
    if isinstance(value, (str, bytes)) or not value:
        return None
    try:
        number = float(value[0])
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None
    return number if math.isfinite(number) else None


def _first_int(value: Any) -> int | None:
    number = _first_number(value)
    return int(number) if number is not None and number == int(number) else None


def _decimal(value: Any) -> str:
    """600/2 -> "300", 599/2 -> "299.5": a number a spreadsheet can sort and compare."""
    number = _first_number(value)
    if number is None:
        return ""
    if number == int(number):
        return str(int(number))
    return f"{number:.4f}".rstrip("0")


def _color_space(values: dict[str, Any]) -> str:
    code = _first_int(values.get("ColorSpace"))
    if code is None:
        return ""
    # DCF: Adobe RGB cameras write "Uncalibrated" plus interoperability index R03.
    if code == 0xFFFF and _text(values.get("InteroperabilityIndex")) == "R03":
        return "AdobeRGB"
    return COLOR_SPACES.get(code, str(code))


def _bits_per_sample(value: Any) -> str:
    """[8, 8, 8] -> "8"; mixed depths keep every sample: "5 6 5"."""
    if isinstance(value, (str, bytes)) or not value:
        return ""
    try:
        depths = [int(v) for v in value]
    except (TypeError, ValueError):
        return ""
    if len(set(depths)) == 1:
        return str(depths[0])
    return " ".join(str(d) for d in depths)


def _orientation(value: Any) -> str:
    code = _first_int(value)
    return str(code) if code is not None and 1 <= code <= 8 else ""
