"""PRONOM format identification of a file's bytes with FIDO (opf-fido's signatures).

FIDO matches every one of PRONOM's ~2,250 formats' byte-pattern regexes against the first and
last 128 KiB of a file: ~11-17 ms per file. Nearly every file imgval sees is an image, so the
image formats' signatures (~10% of the list) are tried first and the whole list only when
none of them matches; benchmarks/bench_pronom.py measures both and checks they agree.
The signature files are loaded once per process (~0.3 s), on first use.
"""
from __future__ import annotations

import copy
import functools
import mimetypes
import os
from dataclasses import dataclass
from pathlib import PurePath

from imgval.image_names import IMAGE_EXTENSIONS

BUFFER_BYTES = 128 * 1024  # FIDO's own bufsize: how much of each end its patterns see


@dataclass(frozen=True)
class Identification:
    puid: str = ""  # e.g. fmt/43 (JPEG 1.01), fmt/353 (TIFF), x-fmt/392 (JP2); "" = unidentified
    mime: str = ""  # PRONOM's MIME type; "" when PRONOM gives none (WebP) or unidentified
    name: str = ""  # PRONOM's format name
    extensions: frozenset[str] = frozenset()  # the format's extensions, lower case, no dot


@dataclass(frozen=True)
class _Matchers:
    images: object  # a Fido whose format list holds only image formats
    everything: object  # the full PRONOM list


@functools.cache
def _matchers() -> _Matchers:
    from fido.fido import Fido
    from fido.versions import get_local_versions

    # opf-fido 1.6.1's defaults name a signature file it does not ship (formats-v104.xml); its
    # own command line asks versions.xml which one is installed, and so do we.
    versions = get_local_versions()
    everything = Fido(quiet=True, handle_matches=lambda *args: None,
                      format_files=[versions.pronom_signature, versions.fido_extension_signature])
    images = copy.copy(everything)
    images.formats = [f for f in everything.formats if _is_image_format(f)]
    return _Matchers(images, everything)


def preload() -> None:
    """Load the signatures now (a parent process about to fork its workers)."""
    _matchers()


def _is_image_format(element) -> bool:
    mime = element.findtext("mime") or ""
    extensions = {"." + (e.text or "").lower() for e in element.findall("extension")}
    return mime.startswith("image/") or bool(extensions & IMAGE_EXTENSIONS)


def identify(data) -> Identification:
    """The PRONOM format of these bytes (bytes or a mapped file), from their content alone."""
    if not len(data):
        return Identification()
    head = bytes(data[:BUFFER_BYTES])
    tail = head if len(data) <= BUFFER_BYTES else bytes(data[-BUFFER_BYTES:])
    matchers = _matchers()
    matches = matchers.images.match_formats(head, tail) or matchers.everything.match_formats(head, tail)
    if not matches:
        return Identification()
    element = matches[0][0]  # FIDO has already dropped matches another match has priority over
    extensions = [(e.text or "").lower() for e in element.findall("extension")]
    return Identification(
        puid=element.findtext("puid") or "",
        mime=element.findtext("mime") or _registered_mime(extensions),
        name=element.findtext("name") or "",
        extensions=frozenset(extensions),
    )


def _registered_mime(extensions: list[str]) -> str:
    """The MIME type Python's registry gives the format's extensions, for the formats PRONOM
    has none for (WebP: image/webp)."""
    for extension in extensions:
        guessed, _ = mimetypes.guess_type("x." + extension, strict=False)
        if guessed:
            return guessed
    return ""


def extension_mismatch(filepath: str, found: Identification) -> bool | None:
    """True when the file's extension is not one PRONOM lists for the identified format;
    None when that cannot be judged (nothing identified, no extension, or PRONOM lists none)."""
    suffix = PurePath(filepath.rstrip("/" + os.sep)).suffix.lower().lstrip(".")
    if not found.puid or not suffix or not found.extensions:
        return None
    return suffix not in found.extensions
