"""EXIF validation profiles: the rules a project sets, read from TOML, and checking one image.

A profile states rules; every rule is optional and a profile without a rule does not check it.
Value rules (minimum resolution, allowed colour spaces, ...) apply to values an image states;
whether a tag must be present at all is said with ``required_tags``. That keeps one meaning per
key: a phone photo without a ColorSpace tag is not "the wrong colour space".

Loading is strict: an unknown key, a wrong type or an impossible value is a ProfileError naming
the file, the key and the fix, because a typo must never silently switch a rule off.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from imgval.analysis.exif import (
    ExifData,
    clean_text,
    is_blank_exif_date,
    is_tag_name,
    parse_exif_datetime,
    unnamed_tag_alias,
)

from imgval.tomlfile import parse_toml, read_toml

FORMAT_HINT = "see examples/profile.toml for the format"

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


class ProfileError(Exception):
    """A profile file that cannot be used; the message names the file, the problem and the fix."""


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


# --- loading ----------------------------------------------------------------------------------

DEFAULT_PROFILE_RESOURCE = "default_profile.toml"


@functools.cache  # immutable, and every Settings() asks for it
def default_profile() -> Profile:
    """The built-in profile (imgval/default_profile.toml)."""
    text = resources.files("imgval.analysis").joinpath(DEFAULT_PROFILE_RESOURCE).read_text("utf-8")
    return parse_profile(text, source="built-in default profile", default_name="default")


def load_profile(path: str | os.PathLike) -> Profile:
    """Read a profile file; any problem is a ProfileError with a message a user can act on."""
    path = Path(path)
    document = read_toml(path, "profile", "--profile", ProfileError, FORMAT_HINT)
    return _Reader(str(path)).profile(document, path.stem)


def parse_profile(text: str, source: str, default_name: str) -> Profile:
    """TOML text -> Profile. ``source`` names the text in error messages."""
    document = parse_toml(text, source, ProfileError, FORMAT_HINT)
    return _Reader(source).profile(document, default_name)


class _Reader:
    """Typed, strict access to the TOML tables; every error names source and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.source}: {where}{problem}")

    def profile(self, doc: dict[str, Any], default_name: str) -> Profile:
        sections = {
            "resolution": self.resolution,
            "datetime_original": self.datetime_original,
            "color": self.color,
            "dimensions": self.dimensions,
        }
        self.no_unknown_keys(doc, "", ["name", "required_tags", *sections])
        name = self.text(doc, "", "name", default_name)
        required = self.tag_list(doc, "required_tags")
        parsed = {}
        for key, read in sections.items():
            table = doc.get(key, {})
            if not isinstance(table, dict):
                raise self.fail("", f"{key} must be a table; write it as a [{key}] section")
            parsed[key] = read(table, f"[{key}] ")
        return Profile(name=name, required_tags=required, source=self.source, **parsed)

    def resolution(self, table: dict[str, Any], where: str) -> ResolutionRules:
        self.no_unknown_keys(table, where, ["min_ppi", "allowed_units"])
        return ResolutionRules(
            min_ppi=self.positive(table, where, "min_ppi", float),
            allowed_units=self.choices(table, where, "allowed_units", UNITS, case_sensitive=False),
        )

    def datetime_original(self, table: dict[str, Any], where: str) -> DateRules:
        self.no_unknown_keys(table, where, ["required", "valid", "not_in_future", "not_before"])
        not_before = table.get("not_before")
        if not_before is not None:
            # TOML has a date type; a datetime is accepted and its date used.
            if isinstance(not_before, datetime):
                not_before = not_before.date()
            elif not isinstance(not_before, date):
                raise self.fail(
                    where,
                    f"not_before must be a TOML date without quotes, e.g. not_before = 1990-01-01"
                    f" (got {_describe(not_before)})",
                )
        return DateRules(
            required=self.flag(table, where, "required"),
            valid=self.flag(table, where, "valid"),
            not_in_future=self.flag(table, where, "not_in_future"),
            not_before=not_before,
        )

    def color(self, table: dict[str, Any], where: str) -> ColorRules:
        self.no_unknown_keys(table, where, ["allowed_spaces", "allowed_bit_depths", "allowed_modes"])
        depths = self.int_list(table, where, "allowed_bit_depths", low=1, high=64)
        return ColorRules(
            allowed_spaces=self.choices(
                table, where, "allowed_spaces", COLOR_SPACES, case_sensitive=False
            ),
            allowed_bit_depths=depths,
            # Pillow modes differ by case ("La" vs "LA"), so match them exactly.
            allowed_modes=self.choices(
                table, where, "allowed_modes", COLOR_MODES, case_sensitive=True
            ),
        )

    def dimensions(self, table: dict[str, Any], where: str) -> DimensionRules:
        keys = ["min_width", "min_height", "min_long_edge", "min_short_edge"]
        self.no_unknown_keys(table, where, keys)
        return DimensionRules(**{key: self.positive(table, where, key, int) for key in keys})

    # -- typed getters --

    def no_unknown_keys(self, table: dict[str, Any], where: str, allowed: list[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    where,
                    f"unknown key {key!r}{_did_you_mean(key, allowed)}"
                    f" (allowed here: {', '.join(allowed)})",
                )

    def text(self, table: dict[str, Any], where: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key} must be non-empty text in quotes (got {_describe(value)})")
        return value.strip()

    def flag(self, table: dict[str, Any], where: str, key: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(where, f"{key} must be true or false (got {_describe(value)})")
        return value

    def positive(
        self, table: dict[str, Any], where: str, key: str, kind: Callable[[Any], Any]
    ) -> Any:
        if key not in table:
            return None
        value = table[key]
        # bool is an int in Python; "min_ppi = true" is a mistake, not 1.
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        whole = kind is float or (is_number and float(value).is_integer())
        if not is_number or not whole or not math.isfinite(value) or value <= 0:
            what = "a whole number" if kind is int else "a number"
            raise self.fail(
                where, f"{key} must be {what} greater than 0, without quotes (got {_describe(value)})"
            )
        return kind(value)

    def int_list(
        self, table: dict[str, Any], where: str, key: str, low: int, high: int
    ) -> tuple[int, ...] | None:
        values = self.list_of(table, where, key)
        if values is None:
            return None
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise self.fail(
                    where,
                    f"{key} must list whole numbers from {low} to {high}, e.g. {key} = [8, 16]"
                    f" (got {_describe(value)})",
                )
        return tuple(values)

    def choices(
        self,
        table: dict[str, Any],
        where: str,
        key: str,
        options: tuple[str, ...],
        case_sensitive: bool,
    ) -> tuple[str, ...] | None:
        values = self.list_of(table, where, key)
        if values is None:
            return None
        canonical = {(o if case_sensitive else o.lower()): o for o in options}
        chosen = []
        for value in values:
            found = None
            if isinstance(value, str):
                found = canonical.get(value if case_sensitive else value.lower())
            if found is None:
                raise self.fail(
                    where,
                    f"{key}: {_describe(value)} is not one of {', '.join(map(repr, options))}"
                    + (_did_you_mean(value, options) if isinstance(value, str) else ""),
                )
            chosen.append(found)
        return tuple(chosen)

    def tag_list(self, table: dict[str, Any], key: str) -> tuple[str, ...]:
        values = self.list_of(table, "", key)
        if values is None:
            return ()
        for value in values:
            if not isinstance(value, str):
                raise self.fail("", f"{key} must list tag names in quotes (got {_describe(value)})")
            if not is_tag_name(value):
                alias = unnamed_tag_alias(value)
                hint = (
                    f"; imgval reports that tag as {alias!r}, write that"
                    if alias
                    else _did_you_mean(value, _tag_names())
                )
                raise self.fail(
                    "", f"{key}: {value!r} is not an EXIF tag name{hint} (names are case-sensitive)"
                )
        return tuple(values)

    def list_of(self, table: dict[str, Any], where: str, key: str) -> list[Any] | None:
        if key not in table:
            return None
        values = table[key]
        if not isinstance(values, list):
            raise self.fail(
                where,
                f"{key} must be a list in square brackets, e.g. {key} = [...]"
                f" (got {_describe(values)})",
            )
        if not values:
            # An empty allow-list would reject every image; leaving the key out allows any.
            raise self.fail(where, f"{key} is empty; list at least one value or remove the key")
        return values


def _tag_names() -> list[str]:
    from imgval.analysis.exif import KNOWN_TAG_NAMES

    return sorted(KNOWN_TAG_NAMES)


def _did_you_mean(word: str, options: Any) -> str:
    options = list(options)
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:
        return f"; did you mean {lowered[word.lower()]!r}?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


# --- checking ---------------------------------------------------------------------------------


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
