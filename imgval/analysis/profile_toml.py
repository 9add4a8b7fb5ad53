"""Reading an EXIF validation profile (profile.py) from TOML, and the built-in default.

Loading is strict: an unknown key, a wrong type or an impossible value is a ProfileError naming
the file, the key and the fix, because a typo must never silently switch a rule off.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from imgval.analysis.exif import is_tag_name, unnamed_tag_alias
from imgval.analysis.profile import (
    COLOR_MODES, COLOR_SPACES, UNITS, ColorRules, DateRules, DimensionRules, Profile,
    ResolutionRules,
)
from imgval.tomlfile import parse_toml, read_toml

FORMAT_HINT = "see examples/profile.toml for the format"


class ProfileError(Exception):
    """A profile file that cannot be used; the message names the file, the problem and the fix."""


DEFAULT_PROFILE_RESOURCE = "default_profile.toml"


@functools.cache  # immutable, and every Settings() asks for it
def default_profile() -> Profile:
    """The built-in profile (imgval/analysis/default_profile.toml)."""
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
