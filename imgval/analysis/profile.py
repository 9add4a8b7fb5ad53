"""EXIF validation profiles: the rules a project sets, and checking one image against them.

A profile states rules; every rule is optional and a profile without a rule does not check it.
Value rules (minimum resolution, allowed colour spaces, ...) apply to values an image states;
whether a tag must be present at all is said with ``required_tags``. That keeps one meaning per
key: a phone photo without a ColorSpace tag is not "the wrong colour space".

Reading a profile from TOML is profile_toml.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from imgval.analysis.exif import ExifData, clean_text, is_blank_exif_date, parse_exif_datetime

UNITS = ("none", "inch", "cm")
COLOR_SPACES = ("sRGB", "AdobeRGB", "Uncalibrated")
# Pillow mode names (Image.mode) a profile may allow.
COLOR_MODES = (
    "1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB",
    "HSV", "I", "F", "I;16", "I;16L", "I;16B", "I;16N",
)  # fmt: skip
CM_PER_INCH = 2.54
# EXIF times carry no zone: a photo taken east of here can look up to a day ahead.
FUTURE_TOLERANCE = timedelta(days=1)
DATE_FORMAT_HINT = "YYYY:MM:DD HH:MM:SS"


@dataclass(frozen=True)
class ImageFacts:
    """What the decoder knows about an image, independent of its EXIF."""

    width: int
    height: int
    format: str
    bit_depth: int | None  # bits per sample, None when the decoder cannot tell
    color_mode: str  # Pillow mode: "RGB", "L", "CMYK", "I;16", ...


@dataclass(frozen=True)
class ResolutionRules:
    min_ppi: float | None = None  # X and Y, after converting pixels/cm to pixels/inch
    allowed_units: tuple[str, ...] | None = None  # subset of UNITS; None allows any


@dataclass(frozen=True)
class DateRules:
    required: bool = False
    valid: bool = False  # when present, must be a real date
    not_in_future: bool = False  # later than now + FUTURE_TOLERANCE fails
    not_before: date | None = None


@dataclass(frozen=True)
class ColorRules:
    allowed_spaces: tuple[str, ...] | None = None  # EXIF ColorSpace, names from COLOR_SPACES
    allowed_bit_depths: tuple[int, ...] | None = None
    allowed_modes: tuple[str, ...] | None = None  # Pillow modes


@dataclass(frozen=True)
class DimensionRules:
    min_width: int | None = None
    min_height: int | None = None
    min_long_edge: int | None = None  # orientation-independent: portrait and landscape alike
    min_short_edge: int | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    required_tags: tuple[str, ...] = ()
    resolution: ResolutionRules = field(default_factory=ResolutionRules)
    datetime_original: DateRules = field(default_factory=DateRules)
    color: ColorRules = field(default_factory=ColorRules)
    dimensions: DimensionRules = field(default_factory=DimensionRules)
    source: str = "built-in"  # the file it came from, for messages



def check(
    exif: ExifData, facts: ImageFacts, profile: Profile, now: datetime | None = None
) -> list[str]:
    """Issues (plain words, no ';') where the image breaks the profile; [] when it conforms."""
    issues: list[str] = []
    missing = _check_required_tags(exif, profile.required_tags, issues)
    _check_datetime_original(exif, profile.datetime_original, now, missing, issues)
    _check_resolution(exif, profile.resolution, issues)
    _check_color(exif, facts, profile.color, issues)
    _check_dimensions(facts, profile.dimensions, issues)
    return issues


def _is_present(exif: ExifData, name: str) -> bool:
    # Blank-filled values (and EXIF's "    :  :     :  :  " for an unknown date) say nothing.
    return clean_text(exif.tags.get(name, "")).strip(" :") != ""


def _check_required_tags(exif: ExifData, required: tuple[str, ...], issues: list[str]) -> set[str]:
    missing = [name for name in required if not _is_present(exif, name)]
    if missing and not exif.tags:
        issues.append(f"no EXIF metadata (required tags: {', '.join(missing)})")
    elif missing:
        issues.append(f"missing required tags: {', '.join(missing)}")
    return set(missing)


def _check_datetime_original(
    exif: ExifData, rules: DateRules, now: datetime | None, missing: set[str], issues: list[str]
) -> None:
    text = exif.tags.get("DateTimeOriginal", "")
    if not text or is_blank_exif_date(text):
        if rules.required and "DateTimeOriginal" not in missing:
            issues.append("DateTimeOriginal (date taken) is missing")
        return
    if not (rules.valid or rules.not_in_future or rules.not_before):
        return
    taken = parse_exif_datetime(text)
    if taken is None:
        issues.append(
            f"DateTimeOriginal {_quote(text)} is not a valid date (expected {DATE_FORMAT_HINT})"
        )
        return
    if rules.not_in_future:
        now = _local_naive(now or datetime.now())
        if taken > now + FUTURE_TOLERANCE:
            issues.append(f"DateTimeOriginal {taken.isoformat(sep=' ')} is in the future")
    if rules.not_before and taken.date() < rules.not_before:
        issues.append(
            f"DateTimeOriginal {taken.isoformat(sep=' ')} is before {rules.not_before.isoformat()}"
            " (camera clock not set?)"
        )


def _local_naive(moment: datetime) -> datetime:
    # EXIF times are local wall-clock times, so compare with local wall-clock now.
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def _check_resolution(exif: ExifData, rules: ResolutionRules, issues: list[str]) -> None:
    stated = {
        axis: exif.fields.get(column, "")
        for axis, column in (("X", "x_resolution"), ("Y", "y_resolution"))
        if _is_present(exif, f"{axis}Resolution")
    }
    unit = exif.fields.get("resolution_unit", "")
    if not unit and not stated:
        return
    unit = unit or "inch"  # EXIF: ResolutionUnit defaults to inches when absent
    if rules.allowed_units and unit not in rules.allowed_units:
        issues.append(
            f"resolution unit {_unit_words(unit)} is not allowed"
            f" (allowed: {', '.join(rules.allowed_units)})"
        )
    if rules.min_ppi is None or not stated:
        return
    minimum = f"the minimum {_number(rules.min_ppi)} ppi"
    if unit not in ("inch", "cm"):
        issues.append(f"resolution unit is {_unit_words(unit)}, so it cannot meet {minimum}")
        return
    below = {}
    for axis, value in stated.items():
        try:
            per_unit = float(value)
        except ValueError:
            issues.append(f"{axis} resolution is not a number")
            continue
        # Scanners store 300 ppi as 118.11 pixels/cm = 299.9994 ppi; compare to 0.1 ppi.
        ppi = round(per_unit * CM_PER_INCH, 1) if unit == "cm" else per_unit
        if ppi < rules.min_ppi:
            shown = f"{value} pixels/cm ({_number(ppi)} ppi)" if unit == "cm" else f"{value} ppi"
            below[axis] = shown
    if len(below) == 2 and below["X"] == below["Y"]:
        issues.append(f"resolution {below['X']} is below {minimum}")
    else:
        issues.extend(f"{axis} resolution {shown} is below {minimum}" for axis, shown in below.items())


def _unit_words(unit: str) -> str:
    return {"none": "'none' (no physical size)", "inch": "inch", "cm": "cm"}.get(
        unit, f"{_quote(unit)} (not a known EXIF unit)"
    )


def _check_color(exif: ExifData, facts: ImageFacts, rules: ColorRules, issues: list[str]) -> None:
    space = exif.fields.get("color_space", "")
    if rules.allowed_spaces and space and space not in rules.allowed_spaces:
        issues.append(
            f"color space {_quote(space)} is not allowed (allowed: {', '.join(rules.allowed_spaces)})"
        )
    if rules.allowed_bit_depths:
        depths = _bit_depths(exif, facts)
        wrong = sorted(d for d in depths if d not in rules.allowed_bit_depths)
        if wrong:
            allowed = ", ".join(map(str, rules.allowed_bit_depths))
            issues.append(f"bit depth {wrong[0]} is not allowed (allowed: {allowed})")
    if rules.allowed_modes and facts.color_mode not in rules.allowed_modes:
        issues.append(
            f"color mode {_quote(facts.color_mode)} is not allowed"
            f" (allowed: {', '.join(rules.allowed_modes)})"
        )


def _bit_depths(exif: ExifData, facts: ImageFacts) -> set[int]:
    # The decoder is the authority; EXIF BitsPerSample only when it cannot tell.
    if facts.bit_depth is not None:
        return {facts.bit_depth}
    return {int(d) for d in exif.fields.get("bits_per_sample", "").split() if d.isdigit()}


def _check_dimensions(facts: ImageFacts, rules: DimensionRules, issues: list[str]) -> None:
    long_edge, short_edge = max(facts.width, facts.height), min(facts.width, facts.height)
    for label, value, minimum in (
        ("width", facts.width, rules.min_width),
        ("height", facts.height, rules.min_height),
        ("long edge", long_edge, rules.min_long_edge),
        ("short edge", short_edge, rules.min_short_edge),
    ):
        if minimum is not None and value < minimum:
            issues.append(f"{label} {value} px is below the minimum {minimum} px")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _quote(text: str) -> str:
    # Issues are joined with "; " in one cell: keep image-supplied text short and separator-free.
    text = clean_text(text).replace(";", ",")
    return repr(text if len(text) <= 40 else text[:37] + "...")
