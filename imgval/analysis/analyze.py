"""One image file -> one Record. Never raises: every failure becomes the record's error."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from imgval.analysis import blur, decode, fileinfo, pronom, sharpness
from imgval.analysis.conformance import check_conformance
from imgval.analysis.exif import ExifData, extract_exif
from imgval.analysis.filedata import MAP_FROM_BYTES, read_input
from imgval.analysis.phash import hash_of, low_frequencies, oriented_hashes, to_hex
from imgval.analysis.phash_rotated import rotated_hashes
from imgval.analysis.profile import ImageFacts, Profile, check
from imgval.analysis.profile_toml import default_profile
from imgval.defaults import (BLUR_VERDICTS, CHECKSUMS, DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS,  # noqa: F401
                             MODE_THRESHOLDS, MODES, SHARPNESS_THRESHOLD)


# What the `hash` column is, by mode (docs/performance.md, "Hash versions"): 2 takes the pHash of
# an image smaller than the normalised size as stored, 1 (exact mode: the earlier values) of its
# upscale. Larger images are hashed alike by both.
HASH_VERSIONS = {"default": 2, "fast": 2, "exact": 1}


@dataclass(frozen=True)
class Settings:
    """How images are analysed; the same for every image of a run."""

    threshold: float | None = None  # None: the mode's default (MODE_THRESHOLDS)
    mode: str = "default"
    blur_verdict: str = "sharpness"  # what `blurry` says: sharpness < sharpness_threshold, or classic
    sharpness_threshold: float = SHARPNESS_THRESHOLD
    fix_size: bool = True  # normalise to ~2 MP before scoring (the original's default)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_memory: int = DEFAULT_MAX_MEMORY  # bytes of decoded pixels one image may take
    profile: Profile = field(default_factory=default_profile)
    keep_pixels: bool = False  # attach the scored image and blur map to the record (single process only)
    checksums: tuple[str, ...] = ("sha256",)  # of CHECKSUMS; sha256 is computed whatever this says

    def __post_init__(self):
        unknown = set(self.checksums) - set(CHECKSUMS)
        if unknown:
            raise ValueError(f"unknown checksum {', '.join(sorted(unknown))}: choose from {', '.join(CHECKSUMS)}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.blur_verdict not in BLUR_VERDICTS:
            raise ValueError(f"unknown blur verdict {self.blur_verdict!r}: choose one of {', '.join(BLUR_VERDICTS)}")
        if self.threshold is None:
            object.__setattr__(self, "threshold", MODE_THRESHOLDS[self.mode])


@dataclass
class Record:
    """One row of the report."""

    filepath: str
    score: float | None = None  # the original's blur score (variance of the Laplacian), lower is blurrier
    blurry: bool | None = None  # the active verdict (Settings.blur_verdict); None: no verdict (blur_status)
    sharpness: float | None = None  # sharpness.measure's value, higher is sharper; None: too small or blank
    blur_status: str = ""  # blurry in words (blurry, sharp) or why there is no verdict (too small, blank)
    blurry_classic: bool | None = None  # the original's verdict: score < threshold
    hash: str = ""
    hash_oriented: str = ""  # pHash(es) in the standard orientation (phash.oriented_hashes), space-separated
    hash_rotated: str = ""  # the same turned a few degrees (phash_rotated.rotated_hashes), space-separated
    width: int | None = None
    height: int | None = None
    format: str = ""
    sha256: str = ""  # of the file's bytes: byte-identical copies share it, readable or not
    file_size: int | None = None  # bytes
    mode: str = ""  # Pillow's colour mode: RGB, L, CMYK, I;16, P, ...
    channels: int | None = None  # samples per pixel
    bit_depth: int | None = None  # bits per sample
    compression: str = ""  # as the format names it: JPEG baseline, LZW, Deflate, none, ...
    icc_profile: str = ""  # the embedded ICC profile's description
    md5: str = ""  # of the file's bytes, only when Settings.checksums asks for it
    puid: str = ""  # PRONOM format identifier of the bytes (FIDO), "" when unidentified
    mime: str = ""  # PRONOM's MIME type for that format
    ext_mismatch: bool | None = None  # the extension is not one of the identified format's
    bag: str = ""  # scanning a BagIt bag: "ok" or what is wrong with this file (bags.BagCheck)
    exif: dict[str, str] = field(default_factory=dict)
    exif_ok: bool | None = None
    exif_issues: str = ""
    conformance: str = ""  # JHOVE's verdict: well-formed and valid / well-formed, not valid / not well-formed
    conformance_issues: str = ""  # every conformance issue found, "; "-separated
    error: str = ""
    # the error is about the environment, not the file's content (permission denied, out of
    # memory, a killed worker, a timeout): never cached, so the next run tries again
    transient: bool = False
    pixels: BlurResult | None = field(default=None, repr=False)  # only with Settings.keep_pixels


@dataclass
class BlurResult:
    """The pixels behind a score, for callers that show or save the blur map."""

    score: float
    image: np.ndarray  # the (normalised) image that was scored
    blur_map: np.ndarray | None  # its Laplacian (only with Settings.keep_pixels)
    # the luminance the pHash is taken of, when not `image`: default and fast modes hash an image
    # smaller than the normalised size as stored, not its upscale (docs/performance.md, hash version)
    hashed: np.ndarray | None = None
    sharpness: sharpness.Sharpness | None = None  # always set by measure_blur
    viewed: np.ndarray | None = None  # the luminance at viewing size the sharpness was measured on


def measure_blur(data: bytes, header: decode.Header, image, settings: Settings) -> BlurResult:
    """Decode and score in the settings' mode.

    exact:   as the original did: colour decode, resize to ~2 MP, grayscale, Laplacian variance
             (the reference's scores within 0.1%).
    default: luminance decoded directly (no colour planes), resize to ~2 MP, Laplacian variance;
             the same score up to rounding (docs/performance.md has the measured differences).
    fast:    luminance decoded at 1/2, 1/4 or 1/8 size (libjpeg DCT scaling), resized to ~0.5 MP,
             Laplacian variance: a score on its own scale, with its own threshold.
    default and fast hash and score small images without upscaling them (_scored).

    The sharpness is measured on the same decode, never on an upscaled image: its view
    (sharpness.viewing_size) of a large 8-bit image is made from the ~2 MP image the default
    mode scores (shared, not resized twice), of the fast mode's reduced decode bilinear (it is
    low-passed already); otherwise it is a box average of the luminance (in exact mode, of the
    colour decode's).
    """
    if settings.mode == "fast":
        # normalised (by _scored) and viewed bilinear: the DCT-scaled decode is already low-passed,
        # and INTER_AREA at these non-integer ratios costs ~4 ms each of the fast mode's ~55
        full, viewed = fast_decode(data, header, image)
        result = _scored(full, settings, blur.FAST_TARGET_PIXELS)
    elif settings.mode == "exact":
        colour = decode.decode_bgr(data, header, image)
        viewed = sharpness.viewing_size(blur.to_gray(colour))
        result = _scored(blur.to_gray(blur.normalise_size(colour) if settings.fix_size else colour), settings)
    else:
        full = decode.decode_gray(data, header, image)
        # one bilinear ~2 MP resize serves the score and the sharpness's view (viewing_size)
        normalised = (blur.normalise_size(full) if settings.fix_size and full.size > blur.TARGET_PIXELS
                      else None)
        viewed = sharpness.viewing_size(full, normalised)
        result = _scored(full, settings, blur.TARGET_PIXELS) if normalised is None else _scored(normalised, settings)
    result.sharpness, result.viewed = sharpness.measure(viewed), viewed
    return result


def fast_decode(data: bytes, header: decode.Header, image) -> tuple[np.ndarray, np.ndarray]:
    """(luminance, its sharpness view) as the fast mode decodes them: reduced by 1/2, 1/4 or 1/8
    (decode.decode_gray_reduced), and viewed bilinearly when it was (it is low-passed already)."""
    full = decode.decode_gray_reduced(data, header, image, blur.FAST_MIN_DECODED_PIXELS)
    reduced = decode.reduction_factor(header.width, header.height, blur.FAST_MIN_DECODED_PIXELS) > 1
    return full, sharpness.viewing_size(full, low_passed=reduced)


def _scored(gray, settings: Settings, target: float | None = None) -> BlurResult:
    """Score the luminance, normalised to `target` pixels first (None: it already is, or the
    settings say not to). An image smaller than the target is hashed as stored: an upscale adds
    nothing to its pHash but the cost; a small one is scored in closed form, without the upscale
    (blur.upscaled_laplacian_variance, within the default mode's tolerance)."""
    stored = None
    if target is not None and settings.fix_size:
        if gray.shape[0] * gray.shape[1] < target:
            stored = gray
            if not settings.keep_pixels and blur.scored_in_closed_form(gray.shape, target):
                return BlurResult(blur.upscaled_laplacian_variance(gray, target), gray, None, stored)
        gray = blur.normalise_size(gray, target)
    if settings.keep_pixels:  # the caller shows or saves the map: build it once
        blur_map = blur.laplacian(gray)
        return BlurResult(blur.blur_score(blur_map), gray, blur_map, stored)
    return BlurResult(blur.laplacian_variance(gray), gray, None, stored)


def blur_verdicts(record: Record, result: BlurResult, settings: Settings) -> None:
    """Fill the record's score, sharpness and both verdicts; `blurry` is the one the settings
    choose, and blur_status says it in words or why there is none."""
    record.score = result.score
    record.blurry_classic = blur.is_blurry(result.score, settings.threshold)
    record.sharpness = result.sharpness.value
    if settings.blur_verdict == "classic":
        record.blurry = record.blurry_classic
    elif result.sharpness.value is not None:
        record.blurry = result.sharpness.value < settings.sharpness_threshold
    if record.blurry is None:
        record.blur_status = result.sharpness.status
    else:
        record.blur_status = "blurry" if record.blurry else "sharp"


def enforce_limits(header: decode.Header, max_pixels: int, max_memory: int) -> None:
    """Refuse decompression bombs before any pixel is decoded: by pixel count, and by the memory
    decoding would take (channels and bit depth counted, every layer of a container)."""
    if header.pixels > max_pixels:
        raise decode.DecodeError(
            f"image too large: {header.width}x{header.height} is {header.pixels / 1e6:.0f} MP, over the "
            f"limit of {max_pixels / 1e6:.0f} MP (raise it with --max-pixels if this is a real image)"
        )
    if header.decoded_bytes > max_memory:
        what = (header.largest_layer if header.largest_layer
                else f"{header.width}x{header.height} {header.mode} ({header.bit_depth or 8}-bit)")
        raise decode.DecodeError(
            f"image too large to decode: {what} would take about {header.decoded_bytes / 1e6:,.0f} MB of memory, "
            f"over the limit of {max_memory / 1e6:,.0f} MB (raise it with --max-memory if this is a real image)"
        )


def file_facts(filepath: str, data: bytes, settings: Settings, sums: dict[str, str] | None = None) -> Record:
    """A record with what the bytes alone tell, readable image or not: checksums (computed
    unless given) and format.

    Computed from the bytes already in memory (no second read), before decoding, so
    byte-identical broken files are still found as exact duplicates and still identified."""
    found = pronom.identify(data)
    return Record(filepath, **(checksums(data, settings) if sums is None else sums), file_size=len(data),
                  puid=found.puid, mime=found.mime, ext_mismatch=pronom.extension_mismatch(filepath, found))


def checksums(data: bytes, settings: Settings) -> dict[str, str]:
    """sha256 always, md5 when asked: Record fields of the same name."""
    sums = {"sha256": hashlib.sha256(data).hexdigest()}
    if "md5" in settings.checksums:
        sums["md5"] = hashlib.md5(data).hexdigest()
    return sums


# A file this large is hashed on a second thread while it is checked and decoded, when a core
# is free for it: hashlib lets go of the GIL while it hashes, as the decoders do while they
# decode, so the checksums then cost no wall time (4 MB: ~3 ms of SHA-256).
HASH_BESIDE_FROM_BYTES = 4 << 20
_core_is_free: Callable[[], bool] = lambda: False


def hash_beside_when(core_is_free: Callable[[], bool]) -> None:
    """Say how this process tells that a core is free for a second thread now (the engine that
    runs the analysis knows: batch/pool.py counts its busy workers). Until told, never: beside
    a worker on every core the thread can gain nothing (docs/performance.md, item 14)."""
    global _core_is_free
    _core_is_free = core_is_free


def checksums_beside(data: bytes, settings: Settings) -> Callable[[], dict[str, str]]:
    """checksums(data, settings), begun now on a second thread for a file of HASH_BESIDE_FROM_BYTES
    or more while a core is free (hash_beside_when); the returned function waits for them (and
    raises what hashing raised). Otherwise they are computed when it is called."""
    if len(data) < HASH_BESIDE_FROM_BYTES or not _core_is_free():
        return lambda: checksums(data, settings)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["sums"] = checksums(data, settings)
        except BaseException as exc:  # raised again in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="imgval-checksums", daemon=True)
    thread.start()

    def result() -> dict[str, str]:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["sums"]
    return result


def analyze_bytes(filepath: str, data: bytes, settings: Settings) -> Record:
    sums = checksums_beside(data, settings)
    try:
        record = _analyze_bytes(filepath, data, settings)
    finally:
        computed = sums()  # waited for even when the analysis failed: nothing goes on reading the bytes
    for name, value in computed.items():
        setattr(record, name, value)
    return record


def _analyze_bytes(filepath: str, data: bytes, settings: Settings) -> Record:
    """analyze_bytes without the checksums (the caller fills them in)."""
    record = file_facts(filepath, data, settings, sums={})
    # from the same bytes, before decoding: a file the decoders refuse still gets its verdict
    conformance = check_conformance(data)
    record.conformance, record.conformance_issues = conformance.verdict, conformance.summary
    try:
        header, image = decode.probe(data, settings.max_pixels)
    except decode.DecodeError as exc:
        record.error = str(exc)
        return record
    record.width, record.height, record.format = header.width, header.height, header.format
    record.mode, record.channels, record.bit_depth = header.mode, fileinfo.channels(header.mode), header.bit_depth
    record.compression, record.icc_profile = fileinfo.compression(image, data), fileinfo.icc_description(image, data)
    _check_exif(record, extract_exif(data, image), header, settings.profile)
    try:
        enforce_limits(header, settings.max_pixels, settings.max_memory)
        result = measure_blur(data, header, image, settings)
    except decode.DecodeError as exc:
        record.error = str(exc)
        return record
    blur_verdicts(record, result, settings)
    # one DCT for both: the flips and turns are sign flips of it
    low = low_frequencies(result.image if result.hashed is None else result.hashed)
    record.hash = to_hex(hash_of(low))
    record.hash_oriented = " ".join(to_hex(h) for h in oriented_hashes(low))
    record.hash_rotated = " ".join(to_hex(h) for h in rotated_hashes(result.image, low))
    if settings.keep_pixels:
        record.pixels = result
    return record


def analyze_path(filepath: str, settings: Settings, *, mapped: bool = False, map_from: int = 1) -> Record:
    """Analyse one file; whatever goes wrong is written into the record, never raised.
    mapped: read a local file of `map_from` bytes or more through a memory map
    (filedata.read_input says when that is safe)."""
    try:
        data = read_input(filepath, mapped=mapped, map_from=map_from)
    except OSError as exc:
        return Record(filepath, error=f"cannot read file: {exc.strerror or exc}", transient=True)
    try:
        return analyze_bytes(filepath, data, settings)
    except MemoryError:
        return _failed(filepath, data, settings, "not enough memory to decode this image", transient=True)
    except Exception as exc:  # a decoder bug must cost one row, not the run
        return _failed(filepath, data, settings,
                       " ".join(f"unexpected error while analysing: {type(exc).__name__}: {exc}".split()))


def _failed(filepath: str, data: bytes, settings: Settings, error: str, transient: bool = False) -> Record:
    """The row of a file whose analysis broke: still with its checksums (and format, if that
    is not what broke)."""
    try:
        record = file_facts(filepath, data, settings)
    except Exception:
        record = Record(filepath, **checksums(data, settings), file_size=len(data))
    record.error, record.transient = error, transient
    return record


def analyze_mapped(filepath: str, settings: Settings) -> Record:
    """analyze_path for the runner's worker processes, which may map the files they read (those
    of filedata.MAP_FROM_BYTES or more: a smaller one is cheaper read)."""
    return analyze_path(filepath, settings, mapped=True, map_from=MAP_FROM_BYTES)


def _check_exif(record: Record, exif: ExifData, header: decode.Header, profile: Profile) -> None:
    facts = ImageFacts(header.width, header.height, header.format, header.bit_depth, header.mode)
    issues = check(exif, facts, profile)
    record.exif = exif.fields
    record.exif_ok = not issues
    record.exif_issues = "; ".join(issues)
