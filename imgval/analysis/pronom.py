"""PRONOM format identification of a file's bytes with FIDO (opf-fido's signatures).

FIDO matches every one of PRONOM's ~2,250 formats' byte-pattern regexes against the first and
last 128 KiB of a file: ~11-17 ms per file. Nearly every file imgval sees is an image, so the
image formats' signatures (~10% of the list) are tried first and the whole list only when
none of them matches; benchmarks/bench_pronom.py measures both and checks they agree.
The signatures are loaded once per process, on first use, from the user's cache folder
(analysis/signatures.py: FIDO's files parsed once, matched without FIDO's per-file XML lookups).
"""
from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import PurePath

from imgval.analysis import signatures
from imgval.defaults import user_cache_folder
from imgval.image_names import IMAGE_EXTENSIONS

BUFFER_BYTES = 128 * 1024  # FIDO's own bufsize: how much of each end its patterns see


@dataclass(frozen=True)
class Identification:
    puid: str = ""  # e.g. fmt/43 (JPEG 1.01), fmt/353 (TIFF), x-fmt/392 (JP2); "" = unidentified
    mime: str = ""  # PRONOM's MIME type; "" when PRONOM gives none (WebP) or unidentified
    name: str = ""  # PRONOM's format name
    extensions: frozenset[str] = frozenset()  # the format's extensions, lower case, no dot


@functools.cache
def _signatures() -> signatures.Signatures:
    return signatures.load(signatures.fido_files(), user_cache_folder())


@functools.cache
def _images() -> signatures.Matcher:
    """The image formats' signatures only (cached on their own: the whole list is read only
    when a file is not an image)."""
    loaded = signatures.load(signatures.fido_files(), user_cache_folder(), _IMAGE_FORMATS)
    return signatures.Matcher(loaded.formats, loaded.priority)


@functools.cache
def _everything() -> signatures.Matcher:
    """The full PRONOM list (built when a file is not an image)."""
    loaded = _signatures()
    return signatures.Matcher(loaded.formats, loaded.priority)


def preload() -> None:
    """Load the signatures now (a parent process about to fork its workers)."""
    _images()


def _is_image_format(found: signatures.Format) -> bool:
    return found.mime.startswith("image/") or any("." + e in IMAGE_EXTENSIONS for e in found.extensions)


# named by what _is_image_format depends on besides its code (change the "images-1" if that changes)
_IMAGE_FORMATS = signatures.Subset(
    "images-1-" + hashlib.sha256(" ".join(sorted(IMAGE_EXTENSIONS)).encode()).hexdigest()[:8], _is_image_format)


def identify(data) -> Identification:
    """The PRONOM format of these bytes (bytes or a mapped file), from their content alone."""
    if not len(data):
        return Identification()
    head = bytes(data[:BUFFER_BYTES])
    tail = head if len(data) <= BUFFER_BYTES else bytes(data[-BUFFER_BYTES:])
    matches = _images().match(head, tail) or _everything().match(head, tail)
    if not matches:
        return Identification()
    found = matches[0]  # matches another match has priority over are already dropped
    return Identification(puid=found.puid, mime=found.mime or _registered_mime(found.extensions),
                          name=found.name, extensions=frozenset(found.extensions))


def _registered_mime(extensions: tuple[str, ...]) -> str:
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
