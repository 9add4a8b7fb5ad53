"""Profiles: loading TOML strictly, and checking images (written here with known tags) against them."""
from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL.TiffImagePlugin import IFDRational

from imgval.analysis.exif import ExifData
from imgval.analysis.profile import (
    ColorRules,
    DateRules,
    DimensionRules,
    ImageFacts,
    Profile,
    ResolutionRules,
    check,
)
from imgval.analysis.profile_toml import ProfileError, default_profile, load_profile

from .test_exif import extract, image_bytes

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 5, 1, 12, 0, 0)
RGB_8 = ImageFacts(width=4000, height=3000, format="JPEG", bit_depth=8, color_mode="RGB")


def issues_for(profile: Profile, facts: ImageFacts = RGB_8, **tags) -> list[str]:
    return check(extract(image_bytes(**tags)), facts, profile, now=NOW)


def rules(**sections) -> Profile:
    return Profile(name="test", **sections)


# --- required tags ----------------------------------------------------------------------------


def test_required_tags_present_pass():
    profile = rules(required_tags=("Make", "Model"))
    assert issues_for(profile, Make="Canon", Model="EOS R5") == []


def test_missing_and_blank_required_tags_are_named():
    profile = rules(required_tags=("Make", "Model", "Artist"))
    assert issues_for(profile, Make="Canon", Artist="  \x00") == [
        "missing required tags: Model, Artist"
    ]


def test_image_without_exif_says_so():
    profile = rules(required_tags=("Make",))
    assert issues_for(profile) == ["no EXIF metadata (required tags: Make)"]


def test_profile_without_rules_accepts_anything():
    assert issues_for(rules()) == []
    assert issues_for(rules(), DateTimeOriginal="0000:00:00 00:00:00", XResolution=IFDRational(1, 1)) == []


# --- DateTimeOriginal -------------------------------------------------------------------------

DATES = DateRules(required=True, valid=True, not_in_future=True, not_before=date(2000, 1, 1))


def test_good_date_passes():
    assert issues_for(rules(datetime_original=DATES), DateTimeOriginal="2023:12:24 18:00:00") == []


def test_missing_date_fails_only_when_required():
    assert issues_for(rules(datetime_original=DATES)) == ["DateTimeOriginal (date taken) is missing"]
    assert issues_for(rules(datetime_original=DateRules(valid=True, not_in_future=True))) == []


def test_date_required_twice_is_reported_once():
    profile = rules(required_tags=("Make", "DateTimeOriginal"), datetime_original=DATES)
    assert issues_for(profile, Make="Canon") == ["missing required tags: DateTimeOriginal"]


def test_blank_date_means_unknown_and_counts_as_missing():
    assert issues_for(rules(datetime_original=DATES), DateTimeOriginal="    :  :     :  :  ") == [
        "DateTimeOriginal (date taken) is missing"
    ]


@pytest.mark.parametrize("text", ["0000:00:00 00:00:00", "2023:02:30 10:00:00", "yesterday"])
def test_malformed_date_fails(text):
    assert issues_for(rules(datetime_original=DATES), DateTimeOriginal=text) == [
        f"DateTimeOriginal '{text}' is not a valid date (expected YYYY:MM:DD HH:MM:SS)"
    ]


def test_future_date_fails_but_a_few_hours_ahead_is_a_time_zone():
    profile = rules(datetime_original=DateRules(not_in_future=True))
    assert issues_for(profile, DateTimeOriginal="2024:05:02 08:00:00") == []  # NOW + 20 h
    assert issues_for(profile, DateTimeOriginal="2024:05:03 08:00:00") == [
        "DateTimeOriginal 2024-05-03 08:00:00 is in the future"
    ]


def test_now_with_a_time_zone_is_compared_as_local_time():
    profile = rules(datetime_original=DateRules(not_in_future=True))
    exif = extract(image_bytes(DateTimeOriginal="2030:01:01 00:00:00"))
    aware_now = datetime(2024, 5, 1, 12, 0).astimezone()
    assert check(exif, RGB_8, profile, now=aware_now) == [
        "DateTimeOriginal 2030-01-01 00:00:00 is in the future"
    ]


def test_date_before_not_before_fails():
    assert issues_for(rules(datetime_original=DATES), DateTimeOriginal="1999:12:31 23:59:59") == [
        "DateTimeOriginal 1999-12-31 23:59:59 is before 2000-01-01 (camera clock not set?)"
    ]


def test_semicolons_in_image_text_cannot_split_the_issue_list():
    issues = issues_for(rules(datetime_original=DATES), DateTimeOriginal="2023;01;01")
    assert len(issues) == 1 and ";" not in issues[0]


# --- resolution -------------------------------------------------------------------------------

PPI_300 = ResolutionRules(min_ppi=300)


def test_resolution_at_minimum_passes():
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(300, 1),
                      YResolution=IFDRational(600, 2), ResolutionUnit=2) == []  # fmt: skip


def test_low_resolution_fails_once_when_x_and_y_agree():
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(72, 1),
                      YResolution=IFDRational(72, 1), ResolutionUnit=2) == [
        "resolution 72 ppi is below the minimum 300 ppi"
    ]  # fmt: skip


def test_each_low_axis_is_named():
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(600, 1),
                      YResolution=IFDRational(599, 2)) == [
        "Y resolution 299.5 ppi is below the minimum 300 ppi"  # no unit tag: EXIF default inch
    ]  # fmt: skip


def test_pixels_per_cm_are_converted_to_ppi():
    # 118.11 px/cm is how scanners store 300 ppi; 100 px/cm is only 254 ppi.
    cm = dict(YResolution=IFDRational(11811, 100), ResolutionUnit=3)
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(11811, 100), **cm) == []
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(100, 1), **cm) == [
        "X resolution 100 pixels/cm (254 ppi) is below the minimum 300 ppi"
    ]


def test_resolution_without_a_unit_cannot_meet_a_ppi_minimum():
    assert issues_for(rules(resolution=PPI_300), XResolution=IFDRational(300, 1), ResolutionUnit=1) == [
        "resolution unit is 'none' (no physical size), so it cannot meet the minimum 300 ppi"
    ]


def test_resolution_rules_apply_only_to_stated_resolution():
    profile = rules(resolution=ResolutionRules(min_ppi=300, allowed_units=("inch",)))
    assert issues_for(profile, Make="Phone") == []


def test_disallowed_unit_fails():
    profile = rules(resolution=ResolutionRules(allowed_units=("inch",)))
    assert issues_for(profile, XResolution=IFDRational(300, 1), ResolutionUnit=2) == []
    assert issues_for(profile, XResolution=IFDRational(118, 1), ResolutionUnit=3) == [
        "resolution unit cm is not allowed (allowed: inch)"
    ]
    assert issues_for(profile, XResolution=IFDRational(118, 1), ResolutionUnit=7) == [
        "resolution unit '7' (not a known EXIF unit) is not allowed (allowed: inch)"
    ]


# --- colour -----------------------------------------------------------------------------------


def test_color_space_allowed_and_not():
    profile = rules(color=ColorRules(allowed_spaces=("sRGB",)))
    assert issues_for(profile, ColorSpace=1) == []
    assert issues_for(profile) == []  # not stated: add ColorSpace to required_tags to insist
    assert issues_for(profile, ColorSpace=0xFFFF) == [
        "color space 'Uncalibrated' is not allowed (allowed: sRGB)"
    ]


def test_bit_depth_comes_from_the_decoder():
    profile = rules(color=ColorRules(allowed_bit_depths=(16,)))
    sixteen = ImageFacts(width=10, height=10, format="PNG", bit_depth=16, color_mode="I;16")
    assert issues_for(profile, sixteen) == []
    assert issues_for(profile, RGB_8) == ["bit depth 8 is not allowed (allowed: 16)"]


def test_bit_depth_falls_back_to_exif_bits_per_sample():
    profile = rules(color=ColorRules(allowed_bit_depths=(16,)))
    unknown = ImageFacts(width=10, height=10, format="TIFF", bit_depth=None, color_mode="RGB")
    tiff = extract(image_bytes("TIFF", Make="Scanner"))  # 8-bit RGB: BitsPerSample 8, 8, 8
    assert check(tiff, unknown, profile) == ["bit depth 8 is not allowed (allowed: 16)"]
    assert check(ExifData(), unknown, profile) == []  # nobody knows: nothing to judge


def test_color_mode():
    profile = rules(color=ColorRules(allowed_modes=("RGB", "L")))
    cmyk = ImageFacts(width=10, height=10, format="JPEG", bit_depth=8, color_mode="CMYK")
    assert issues_for(profile, RGB_8) == []
    assert issues_for(profile, cmyk) == ["color mode 'CMYK' is not allowed (allowed: RGB, L)"]


# --- dimensions -------------------------------------------------------------------------------


def test_dimensions():
    profile = rules(dimensions=DimensionRules(min_width=4000, min_height=3000))
    portrait = ImageFacts(width=3000, height=4000, format="TIFF", bit_depth=8, color_mode="RGB")
    assert issues_for(profile, RGB_8) == []
    assert issues_for(profile, portrait) == ["width 3000 px is below the minimum 4000 px"]


def test_edge_minimums_ignore_orientation():
    profile = rules(dimensions=DimensionRules(min_long_edge=4000, min_short_edge=3000))
    portrait = ImageFacts(width=3000, height=4000, format="TIFF", bit_depth=8, color_mode="RGB")
    small = ImageFacts(width=3999, height=2000, format="TIFF", bit_depth=8, color_mode="RGB")
    assert issues_for(profile, portrait) == []
    assert issues_for(profile, small) == [
        "long edge 3999 px is below the minimum 4000 px",
        "short edge 2000 px is below the minimum 3000 px",
    ]


# --- the shipped profiles ---------------------------------------------------------------------


def test_default_profile_passes_a_phone_photo_and_catches_broken_dates():
    profile = default_profile()
    phone = dict(Make="Apple", Model="iPhone 13", XResolution=IFDRational(72, 1), ResolutionUnit=2)
    small = ImageFacts(width=640, height=480, format="JPEG", bit_depth=8, color_mode="RGB")
    assert issues_for(profile, small, **phone, DateTimeOriginal="2023:07:14 09:12:44") == []
    assert issues_for(profile, small) == []  # no EXIF at all is not an error by default
    assert issues_for(profile, small, DateTimeOriginal="0000:00:00 00:00:00") != []
    assert issues_for(profile, small, DateTimeOriginal="2099:01:01 00:00:00") != []


def test_example_profile_loads_and_accepts_a_good_master():
    profile = load_profile(ROOT / "examples" / "profile.toml")
    master = dict(
        Make="Phase One", Model="iXH 150MP", DateTimeOriginal="2023:03:01 10:00:00",
        XResolution=IFDRational(400, 1), YResolution=IFDRational(400, 1), ResolutionUnit=2,
        Artist="Imaging Unit", Copyright="Example Archive", ColorSpace=0xFFFF,
    )  # fmt: skip
    assert profile.name == "Archival masters"
    assert issues_for(profile, **master) == []
    phone = ImageFacts(width=2000, height=4032, format="JPEG", bit_depth=8, color_mode="RGB")
    assert issues_for(profile, phone, Make="Apple", XResolution=IFDRational(72, 1),
                      YResolution=IFDRational(72, 1), DateTimeOriginal="2023:07:14 09:12:44") == [
        "missing required tags: Model, Artist, Copyright",
        "resolution 72 ppi is below the minimum 400 ppi",
        "short edge 2000 px is below the minimum 3000 px",
    ]  # fmt: skip


# --- loading errors ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, text))
    message = str(caught.value)
    assert str(tmp_path / "project.toml") in message  # every message names the file
    return message


def test_toml_file_loads_every_rule(tmp_path):
    profile = load_profile(
        write(
            tmp_path,
            """
            required_tags = ["Make"]
            [resolution]
            min_ppi = 300
            allowed_units = ["INCH", "cm"]
            [datetime_original]
            required = true
            not_before = 1990-06-01T00:00:00
            [color]
            allowed_spaces = ["srgb"]
            allowed_bit_depths = [8]
            allowed_modes = ["RGB"]
            [dimensions]
            min_width = 1000
            min_height = 1000.0
            """,
        )
    )
    assert profile.name == "project"  # from the file name when not stated
    assert profile.resolution == ResolutionRules(min_ppi=300.0, allowed_units=("inch", "cm"))
    assert profile.datetime_original == DateRules(required=True, not_before=date(1990, 6, 1))
    assert profile.color == ColorRules(("sRGB",), (8,), ("RGB",))
    assert profile.dimensions == DimensionRules(min_width=1000, min_height=1000)


def test_empty_file_is_a_profile_without_rules(tmp_path):
    assert load_profile(write(tmp_path, "")) == Profile(name="project", source=str(tmp_path / "project.toml"))


def test_syntax_error_gives_the_line(tmp_path):
    message = load_error(tmp_path, 'name = "x"\n[resolution]\nmin_ppi = \n')
    assert "not valid TOML" in message and "line 3" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[resolution]\nmin_dpi = 300", "[resolution] unknown key 'min_dpi'; did you mean 'min_ppi'?"),
        ("colour = {}", "unknown key 'colour'; did you mean 'color'?"),
        ("[datetime_original]\nrequried = true", "did you mean 'required'?"),
    ],
)
def test_unknown_keys_are_errors_with_a_suggestion(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[resolution]\nmin_ppi = "300"',
         "min_ppi must be a number greater than 0, without quotes (got the text '300')"),
        ("[resolution]\nmin_ppi = true", "min_ppi must be a number greater than 0"),
        ("[resolution]\nmin_ppi = 0", "min_ppi must be a number greater than 0"),
        ("[dimensions]\nmin_width = 99.5", "min_width must be a whole number greater than 0"),
        ('[datetime_original]\nrequired = "yes"', "required must be true or false (got the text 'yes')"),
        ('[datetime_original]\nnot_before = "2000-01-01"', "not_before must be a TOML date without quotes"),
        ('required_tags = "Make"', "required_tags must be a list in square brackets"),
        ("resolution = 300", "resolution must be a table; write it as a [resolution] section"),
        ("name = 5", "name must be non-empty text in quotes"),
    ],
)
def test_wrong_types_are_errors(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[resolution]\nallowed_units = ["inches"]',
         "allowed_units: the text 'inches' is not one of 'none', 'inch', 'cm'; did you mean 'inch'?"),
        ("[resolution]\nallowed_units = []", "allowed_units is empty; list at least one value or remove the key"),
        ('[color]\nallowed_spaces = ["Adobe RGB"]', "did you mean 'AdobeRGB'?"),
        ('[color]\nallowed_modes = ["rgb"]', "did you mean 'RGB'?"),
        ("[color]\nallowed_bit_depths = [8, 0]", "allowed_bit_depths must list whole numbers from 1 to 64"),
        ('required_tags = ["DateTimeOrignal"]',
         "'DateTimeOrignal' is not an EXIF tag name; did you mean 'DateTimeOriginal'?"),
        ('required_tags = ["make"]', "did you mean 'Make'?"),
        ('required_tags = ["CameraSerialNumber"]', "imgval reports that tag as 'Tag 0xC62F'"),
    ],
)
def test_bad_values_are_errors(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_unknown_exif_tags_can_be_required_by_number(tmp_path):
    assert load_profile(write(tmp_path, 'required_tags = ["Tag 0xC62F"]')).required_tags == ("Tag 0xC62F",)


def test_missing_file_and_directory_are_clear(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.toml")
    with pytest.raises(ProfileError, match="is a directory"):
        load_profile(tmp_path)


def test_non_utf8_file_is_a_profile_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Arch\u00e4ologie"'.encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(path)


def test_default_profile_file_is_a_valid_user_profile(tmp_path):
    # Users copy the default as a starting point; it must load through the same strict path.
    copy = tmp_path / "copy.toml"
    shutil.copy(ROOT / "imgval" / "analysis" / "default_profile.toml", copy)
    loaded = load_profile(copy)
    assert loaded.datetime_original == default_profile().datetime_original
