"""imgval's reading of FIDO's PRONOM signatures gives FIDO's own matches, and its cache file."""
import copy
import io
import random
import zipfile

import cv2
import pytest
from PIL import Image

from imgval.analysis import pronom, signatures
from imgval.synthetic import natural_image


@pytest.fixture(scope="module")
def loaded() -> signatures.Signatures:
    return signatures.parse(signatures.fido_files())


@pytest.fixture(scope="module")
def fido():
    from fido.fido import Fido

    return Fido(quiet=True, handle_matches=lambda *args: None, format_files=signatures.fido_files())


def sample_files() -> list[bytes]:
    image = natural_image(96, 64, seed=3)
    files = [cv2.imencode(ext, image)[1].tobytes() for ext in (".jpg", ".png", ".tif", ".jp2", ".webp", ".bmp")]
    for save_format in ("GIF", "TIFF", "PDF", "ICO", "TGA"):
        buffer = io.BytesIO()
        Image.fromarray(image[..., ::-1]).save(buffer, save_format)
        files.append(buffer.getvalue())
    files.append(files[0][: len(files[0]) // 2])  # a truncated JPEG
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("notes.txt", "box list")
    files += [archive.getvalue(), b"box list: letters 1901-1905\n" * 50, b"<?xml version='1.0'?><a/>",
              b"%PDF-1.4\n%%EOF", b"\x00" * 300, bytes(random.Random(1).randrange(256) for _ in range(4000))]
    return files


def header_files(loaded: signatures.Signatures, count: int) -> list[bytes]:
    """Bytes made of one signature's literals (its start, what it searches for in the middle,
    its end), or of two formats' literals: every kind of pattern (BOF, EOF, VAR) is met, and
    most formats' regexes are tried on a near-miss."""
    rng = random.Random(7)
    signature_list = [s for f in loaded.formats for s in f.signatures]
    literals = [p.literal for s in signature_list for p in s if p.literal]
    files = []
    for index in range(count):
        chosen = rng.choice(signature_list)
        parts = {position: b"".join(p.literal for p in chosen if p.position == position)
                 for position in ("BOF", "VAR", "EOF")}
        start = parts["BOF"] if index % 2 else rng.choice(literals)
        end = parts["EOF"] if index % 2 else rng.choice(literals)
        # some longer than FIDO's two buffers, so that what only the tail has is told apart
        size = 300_000 if index % 10 == 1 else rng.choice((0, 16, 600))
        middle = rng.randbytes(size // 2) + parts["VAR"] + rng.randbytes(size // 2)
        files.append(start + middle + end)
    return files


def fido_puids(fido, head: bytes, tail: bytes) -> list[str]:
    return [fido.get_puid(element) for element, _ in fido.match_formats(head, tail)]


def test_matches_are_fidos_over_every_format(loaded, fido):
    matcher = signatures.Matcher(loaded.formats, loaded.priority)
    assert [f.puid for f in loaded.formats] == [fido.get_puid(e) for e in fido.formats]
    files = sample_files() + header_files(loaded, 150)
    identified = 0
    for data in files:
        head, tail = data[:pronom.BUFFER_BYTES], data[-pronom.BUFFER_BYTES:]
        ours = [f.puid for f in matcher.match(head, tail)]
        assert ours == fido_puids(fido, head, tail), data[:40]
        identified += bool(ours)
    assert identified > len(files) // 3  # the headers did meet signatures


def test_matches_are_fidos_over_the_image_formats(loaded, fido):
    images = tuple(f for f in loaded.formats if pronom._is_image_format(f))
    fido_images = copy.copy(fido)
    keep = {f.puid for f in images}
    fido_images.formats = [e for e in fido.formats if fido.get_puid(e) in keep]
    matcher = signatures.Matcher(images, loaded.priority)
    for data in sample_files() + header_files(loaded, 300):
        head, tail = data[:pronom.BUFFER_BYTES], data[-pronom.BUFFER_BYTES:]
        assert [f.puid for f in matcher.match(head, tail)] == fido_puids(fido_images, head, tail), data[:40]


def test_format_details_are_read_as_fido_reads_them(loaded, fido):
    jpeg = next(f for f in loaded.formats if f.puid == "fmt/43")
    element = fido.puid_format_map["fmt/43"]
    assert jpeg.name == element.findtext("name") and jpeg.mime == element.findtext("mime") == "image/jpeg"
    assert set(jpeg.extensions) == {"jpg", "jpeg", "jpe", "jfif", "jfi", "jif"}
    assert loaded.priority == fido.puid_has_priority_over_map


def test_literal_shortcuts_are_what_every_match_has():
    assert signatures._required_literal(rb"(?s)\A\xff\xd8\xff\xe0.{2}JFIF", "BOF") == b"\xff\xd8\xff\xe0"
    assert signatures._required_literal(rb"(?s)0(?:\r\n|\n)SECTION(?:\r\n|\n)", "VAR") == b"SECTION"
    assert signatures._required_literal(rb"(?s)\xff\xd9.{0,65536}\Z", "EOF") == b"\xff\xd9"
    assert signatures._required_literal(rb"(?i)\AGIF8", "BOF") == b""  # ignore case: not exact bytes
    assert signatures._required_literal(rb"\A(?:GIF|PNG)", "BOF") == b""
    assert signatures._required_literal(rb"(unclosed", "BOF") == b""  # FIDO's error must be met


def test_the_cache_file_is_written_once_and_read_back(tmp_path, loaded):
    files = signatures.fido_files()
    first = signatures.load(files, str(tmp_path))
    [cached] = tmp_path.glob("pronom-*.marshal")
    assert first == loaded
    stamp = cached.stat().st_mtime_ns
    assert signatures.load(files, str(tmp_path)) == loaded
    assert cached.stat().st_mtime_ns == stamp  # read, not written again


def test_a_damaged_or_unwritable_cache_costs_only_the_parse(tmp_path, loaded):
    files = signatures.fido_files()
    signatures.load(files, str(tmp_path))
    [cached] = tmp_path.glob("pronom-*.marshal")
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short (a full disk)
    assert signatures.load(files, str(tmp_path)) == loaded
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    assert signatures.load(files, str(blocked / "cache")) == loaded


def test_a_subset_is_cached_on_its_own_and_matches_as_the_whole_list_filtered(tmp_path, loaded):
    files = signatures.fido_files()
    subset = signatures.Subset("images-test", pronom._is_image_format)
    first = signatures.load(files, str(tmp_path), subset)
    images = tuple(f for f in loaded.formats if pronom._is_image_format(f))
    assert first.formats == images and 0 < len(images) < len(loaded.formats) // 5
    assert first.priority == {f.puid: loaded.priority[f.puid] for f in images}
    [cached] = tmp_path.glob("pronom-images-test-*.marshal")
    assert len(list(tmp_path.glob("pronom-*.marshal"))) == 2  # and the whole list's, it was made from
    stamp = cached.stat().st_mtime_ns
    again = signatures.load(files, str(tmp_path), subset)
    assert again == first and cached.stat().st_mtime_ns == stamp
    whole = signatures.Matcher(images, loaded.priority)
    mine = signatures.Matcher(again.formats, again.priority)
    for data in sample_files() + header_files(loaded, 100):
        head, tail = data[:pronom.BUFFER_BYTES], data[-pronom.BUFFER_BYTES:]
        assert mine.match(head, tail) == whole.match(head, tail)


def test_a_format_is_gated_by_its_signatures_literal_starts_only_when_all_have_one():
    P, F = signatures.Pattern, signatures.Format
    jpeg = (P("BOF", rb"(?s)\A\xff\xd8\xff", b"\xff\xd8\xff"), P("EOF", rb"(?s)\xff\xd9\Z", b"\xff\xd9"))
    exif = (P("VAR", rb"Exif", b"Exif"), P("BOF", rb"(?s)\A\xff\xd8", b"\xff\xd8"))
    anywhere = (P("VAR", rb"JFIF", b"JFIF"),)
    no_regex = (P("BOF", None, b"GIF"),)  # FIDO fails it: no gate from it
    assert signatures._bof_gates(F("x", "", "", (), (jpeg, exif))) == (b"\xff\xd8\xff", b"\xff\xd8")
    assert signatures._bof_gates(F("x", "", "", (), (jpeg, anywhere))) is None
    assert signatures._bof_gates(F("x", "", "", (), (no_regex,))) is None
    matcher = signatures.Matcher((F("x", "", "", (), (jpeg, exif)), F("y", "", "", (), (anywhere,))), {"x": frozenset(),
                                                                                                     "y": frozenset()})
    assert [f.puid for f in matcher.match(b"\xff\xd8\xff\xe0 JFIF \xff\xd9", b"\xff\xd9")] == ["x", "y"]
    assert [f.puid for f in matcher.match(b"\xff\xd9 JFIF Exif", b"")] == ["y"]
