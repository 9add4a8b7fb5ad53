"""EXIF extraction from images written here with known tags."""
from __future__ import annotations

import io
import random

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

from imgval.analysis.exif import EXIF_COLUMNS, ExifData, extract_exif, parse_exif_datetime

EXIF_IFD = 0x8769  # pointer to the Exif sub-IFD, where DateTimeOriginal and ColorSpace live
EXIF_IFD_TAGS = {"DateTimeOriginal", "DateTimeDigitized", "ColorSpace", "ExifImageWidth"}


def exif_block(**tags) -> Image.Exif:
    """Tags by EXIF name; each goes to IFD0 or the Exif sub-IFD where the standard puts it."""
    exif = Image.Exif()
    for name, value in tags.items():
        target = exif.get_ifd(EXIF_IFD) if name in EXIF_IFD_TAGS else exif
        target[ExifTags.Base[name].value] = value
    return exif


def image_bytes(fmt: str = "JPEG", size=(64, 48), mode: str = "RGB", **tags) -> bytes:
    """An image in ``fmt`` carrying the given EXIF tags (none when no tags are given)."""
    buffer = io.BytesIO()
    options = {"exif": exif_block(**tags).tobytes()} if tags else {}
    Image.new(mode, size, "gray" if mode != "RGB" else (120, 80, 40)).save(buffer, fmt, **options)
    return buffer.getvalue()


def extract(data: bytes) -> ExifData:
    """What the lead's analyser does: pass the bytes and the lazily opened image."""
    with Image.open(io.BytesIO(data)) as image:
        return extract_exif(data, image)


CAMERA_TAGS = dict(
    Make="Canon\x00",
    Model="EOS R5  ",
    Software="Capture One 23",
    Artist="Digitisation Unit",
    Copyright="(c) Example Archive",
    DateTimeOriginal="2021:06:30 14:05:09",
    XResolution=IFDRational(600, 2),
    YResolution=IFDRational(599, 2),
    ResolutionUnit=2,
    ColorSpace=1,
    Orientation=6,
)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF", "PNG"])
def test_common_fields_are_normalised_for_a_spreadsheet(fmt):
    exif = extract(image_bytes(fmt, **CAMERA_TAGS))

    assert exif.fields == {
        "make": "Canon",  # trailing NUL padding removed
        "model": "EOS R5",
        "software": "Capture One 23",
        "datetime_original": "2021-06-30 14:05:09",
        "x_resolution": "300",  # 600/2
        "y_resolution": "299.5",  # 599/2
        "resolution_unit": "inch",
        "color_space": "sRGB",
        "bits_per_sample": "8" if fmt == "TIFF" else "",  # only TIFF carries it in IFD0
        "orientation": "6",
        "artist": "Digitisation Unit",
        "copyright": "(c) Example Archive",
    }
    assert tuple(exif.fields) == EXIF_COLUMNS


def test_tags_are_keyed_by_exif_name_without_ifd_prefix():
    exif = extract(image_bytes(**CAMERA_TAGS))

    assert exif.tags["Make"] == "Canon"
    assert exif.tags["DateTimeOriginal"] == "2021:06:30 14:05:09"
    assert exif.tags["ColorSpace"] == "sRGB"
    assert not any(" " in name for name in exif.tags if not name.startswith("Tag 0x"))


def test_pixels_per_centimetre_unit_is_reported_as_cm():
    exif = extract(image_bytes(XResolution=IFDRational(11811, 100), ResolutionUnit=3))

    assert exif.fields["x_resolution"] == "118.11"
    assert exif.fields["resolution_unit"] == "cm"


def test_uncalibrated_with_r03_interoperability_index_is_adobe_rgb():
    exif = exif_block(ColorSpace=0xFFFF)
    exif.get_ifd(EXIF_IFD)[0xA005] = {0x0001: "R03"}  # InteroperabilityIndex, the DCF way
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif.tobytes())

    assert extract(buffer.getvalue()).fields["color_space"] == "AdobeRGB"
    assert extract(image_bytes(ColorSpace=0xFFFF)).fields["color_space"] == "Uncalibrated"


def test_orientation_outside_1_to_8_is_blank():
    assert extract(image_bytes(Orientation=9)).fields["orientation"] == ""


def test_unparseable_date_is_shown_as_written():
    exif = extract(image_bytes(DateTimeOriginal="0000:00:00 00:00:00"))

    assert exif.tags["DateTimeOriginal"] == "0000:00:00 00:00:00"
    assert exif.fields["datetime_original"] == "0000:00:00 00:00:00"


def test_image_without_exif_gives_empty_tags_and_blank_fields():
    exif = extract(image_bytes("JPEG"))

    assert exif.tags == {}
    assert exif.fields == dict.fromkeys(EXIF_COLUMNS, "")


def test_png_exif_in_legacy_text_chunk_is_read_through_pillow():
    # ImageMagick and older tools store EXIF as hex in a "Raw profile type exif" text chunk,
    # which exifread does not read; Pillow's header parse does.
    payload = b"Exif\x00\x00" + exif_block(Make="Nikon", Orientation=3).tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(payload):8d}\n{payload.hex()}\n")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "PNG", pnginfo=info)
    data = buffer.getvalue()

    assert extract_exif(data).tags == {}  # exifread alone finds nothing ...
    exif = extract(data)  # ... so the opened image is asked
    assert exif.fields["make"] == "Nikon"
    assert exif.fields["orientation"] == "3"


def test_fallback_uses_the_same_tag_names_and_fields_as_exifread():
    data = image_bytes("WEBP", **CAMERA_TAGS)
    with Image.open(io.BytesIO(data)) as image:
        from_pillow = extract_exif(b"", image)  # no bytes for exifread: Pillow only
    from_exifread = extract(image_bytes("JPEG", **CAMERA_TAGS))

    assert from_pillow.fields == from_exifread.fields
    assert {"Make", "Model", "DateTimeOriginal", "XResolution", "ColorSpace"} <= from_pillow.tags.keys()


def test_png_without_exif_is_not_decoded_to_look_for_it():
    data = image_bytes("PNG")
    with Image.open(io.BytesIO(data)) as image:
        assert extract_exif(data, image).tags == {}
        assert image.tile  # Pillow empties .tile once pixels are decoded: still header-only


def random_bytes(count: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(count)


CORRUPT_EXIF = [
    pytest.param(b"Exif\x00\x00" + random_bytes(300, 1), id="random-after-header"),
    pytest.param(b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", id="ifd-offset-past-end"),
    pytest.param(b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 20, id="huge-entry-count"),
    pytest.param(b"Exif\x00\x00II", id="truncated-header"),
]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own, on Image.open
@pytest.mark.parametrize("payload", CORRUPT_EXIF)
def test_corrupt_exif_never_raises(payload):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "JPEG", exif=payload)
    data = buffer.getvalue()

    for exif in (extract_exif(data), extract(data)):
        assert isinstance(exif, ExifData)
        assert set(exif.fields) == set(EXIF_COLUMNS)


@pytest.mark.parametrize("data", [b"", b"not an image at all", random_bytes(2000, 7)])
def test_bytes_that_are_not_an_image_give_empty_exif(data):
    assert extract_exif(data) == ExifData()


def test_truncated_file_keeps_what_was_readable_or_nothing():
    data = image_bytes(**CAMERA_TAGS)
    for cut in (10, 40, 120, 200):
        exif = extract_exif(data[:cut])
        assert set(exif.fields) == set(EXIF_COLUMNS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021:06:30 14:05:09", (2021, 6, 30, 14, 5, 9)),
        ("2021-06-30 14:05:09", (2021, 6, 30, 14, 5, 9)),
        ("2021-06-30T14:05:09", (2021, 6, 30, 14, 5, 9)),
        ("2021:06:30 14:05:09\x00\x00  ", (2021, 6, 30, 14, 5, 9)),
        ("2021:06:30 14:05:09.123+02:00", (2021, 6, 30, 14, 5, 9)),
        ("2021:06:30", (2021, 6, 30, 0, 0, 0)),
        ("0000:00:00 00:00:00", None),
        ("2021:02:30 10:00:00", None),
        ("2021:06:30 25:00:00", None),
        ("    :  :     :  :  ", None),
        ("30/06/2021", None),
        ("", None),
    ],
)
def test_parse_exif_datetime(text, expected):
    parsed = parse_exif_datetime(text)
    assert (parsed.timetuple()[:6] if parsed else None) == expected
