"""FIDO's PRONOM signatures as plain tuples, matched as FIDO matches them.

opf-fido keeps its ~2,250 formats as XML elements and looks every pattern up in them again for
each file (~2 ms of a thumbnail's ~3); importing it also imports `requests` (its signature
updater's), and parsing its XML takes ~0.2 s per run. Here the same files are read into tuples
once and kept in the user's cache folder (keyed by the files' paths, sizes and times, which a
new FIDO or `fido -sig update` changes, and by Python's version); each regex is compiled when
first needed; a pattern whose literal bytes (the start of a BOF pattern, a run of literals of
the others) the file lacks fails without its regex, and a format none of whose signatures
allows the file's first byte is not tried (a JPEG tries ~40 of the 150 image formats).
`match` gives FIDO's Fido.match_formats result for the same formats, in the same order
(tests/analysis/test_signatures.py compares them on hundreds of generated headers).
"""
from __future__ import annotations

import hashlib
import marshal
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.util import find_spec
from typing import NamedTuple

try:  # the regex parser re.compile itself uses (sre_parse before Python 3.11)
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse

CACHE_LAYOUT = 1  # bump when the tuples below change shape: old cache files are then ignored


class Pattern(NamedTuple):
    position: str | None  # BOF (matched at the start), EOF (in the tail), VAR / IFB (in the head); None: missing
    regex: bytes | None  # None: the signature file has no regex text (FIDO then skips the format)
    literal: bytes  # what the bytes must start with (BOF) or contain (the others) to match; b"" if unknown


class Format(NamedTuple):
    puid: str
    name: str
    mime: str  # the first <mime>, "" when none
    extensions: tuple[str, ...]  # lower case, no dot, in the file's order
    signatures: tuple[tuple[Pattern, ...], ...]


class Signatures(NamedTuple):
    formats: tuple[Format, ...]  # FIDO's self.formats, in its order
    priority: dict[str, frozenset[str]]  # puid -> the puids it has priority over


def fido_files() -> list[str]:
    """The signature files FIDO's own command line loads: versions.xml names them (opf-fido
    1.6.1's defaults name one it does not ship, formats-v104.xml)."""
    conf = os.path.join(os.path.dirname(find_spec("fido").origin), "conf")  # without importing fido (requests)
    versions = ET.parse(os.path.join(conf, "versions.xml")).getroot()
    return [os.path.join(conf, versions.findtext(tag)) for tag in ("pronomSignature", "fidoExtensionSignature")]


class Subset(NamedTuple):
    """Some of the formats, cached on their own (load): a run that needs only the image formats
    reads ~7% of the whole list (~3 ms, against ~35 ms for all ~2,250 formats)."""

    name: str  # in the cache file's name: it must change when what `keep` keeps can
    keep: Callable[[Format], bool]


def load(files: list[str], cache_dir: str | None, subset: Subset | None = None) -> Signatures:
    """The signatures of `files`, from the cache in `cache_dir` when it has them, else parsed
    (and saved there; a cache folder that cannot be written only costs the parse next time).
    With a subset: only its formats, in their order, and the priorities of those only (all
    Matcher looks up), from a cache file of their own (made from the whole list's)."""
    prefix = f"pronom-{subset.name}-" if subset else "pronom-"
    path = os.path.join(cache_dir, f"{prefix}{_key(files)}.marshal") if cache_dir else None
    if path:
        try:
            with open(path, "rb") as handle:
                return _from_plain(marshal.load(handle))
        except Exception:  # not there yet, unreadable or damaged (marshal's errors vary): parse again
            pass
    if subset:
        whole = load(files, cache_dir)
        formats = tuple(f for f in whole.formats if subset.keep(f))
        signatures = Signatures(formats, {f.puid: whole.priority[f.puid] for f in formats})
    else:
        signatures = parse(files)
    if path:
        _save(path, _to_plain(signatures))
    return signatures


def _key(files: list[str]) -> str:
    stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    described = repr((CACHE_LAYOUT, sys.version, stats))
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def _save(path: str, plain) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            marshal.dump(plain, out)
        os.replace(temporary, path)  # whole or not at all: a concurrent run never reads half
    except OSError:
        os.unlink(temporary)


def _to_plain(signatures: Signatures):
    """Built-in types only, which marshal (fast, and never runs code when reading) can write."""
    return (tuple((f.puid, f.name, f.mime, f.extensions, tuple(tuple(tuple(p) for p in sig) for sig in f.signatures))
                  for f in signatures.formats), signatures.priority)


def _from_plain(plain) -> Signatures:
    formats, priority = plain
    return Signatures(tuple(Format(puid, name, mime, extensions,
                                   tuple(tuple(Pattern(*p) for p in sig) for sig in sigs))
                            for puid, name, mime, extensions, sigs in formats), priority)


def parse(files: list[str]) -> Signatures:
    """As Fido.load_fido_xml reads them: a later file's format replaces an earlier one of the
    same PUID in its place."""
    formats: list[Format] = []
    where: dict[str, int] = {}
    priority: dict[str, frozenset[str]] = {}
    for file in files:
        for element in ET.parse(file).getroot().findall("./format"):
            found = _format(element)
            if found.puid in where:
                formats[where[found.puid]] = found
            else:
                where[found.puid] = len(formats)
                formats.append(found)
            priority[found.puid] = frozenset(e.text for e in element.findall("has_priority_over"))
    return Signatures(tuple(formats), priority)


def _format(element) -> Format:
    signatures = []
    for signature in element.findall("signature"):
        patterns = []
        for pattern in signature.findall("pattern"):
            text, position = pattern.findtext("regex"), pattern.findtext("position")
            regex = text.encode("utf8") if text else None
            patterns.append(Pattern(position, regex, _required_literal(regex, position)))
        signatures.append(tuple(patterns))
    return Format(element.find("puid").text, element.findtext("name") or "", element.findtext("mime") or "",
                  tuple((e.text or "").lower() for e in element.findall("extension")), tuple(signatures))


def _required_literal(regex: bytes | None, position: str | None) -> bytes:
    """Bytes every match of `regex` has, from its parse (its top-level literals are concatenated,
    so each run of them is in every match): for BOF, the run it starts with (after a \\A), which
    the file must start with; elsewhere the longest run, which the searched bytes must contain.
    b"" when there is none, when its flags make literals inexact (ignore case), or when it does
    not compile (FIDO's error on it must not be skipped by the shortcut)."""
    if regex is None:
        return b""
    try:
        re.compile(regex)
        parsed = _sre_parse.parse(regex)
    except (re.error, OverflowError, RecursionError, ValueError, TypeError):
        return b""
    if parsed.state.flags & (re.IGNORECASE | re.LOCALE):
        return b""
    runs, run = [], bytearray()
    for op, argument in parsed:
        if op == _sre_parse.LITERAL:
            run.append(argument)
            continue
        if op == _sre_parse.AT and argument == _sre_parse.AT_BEGINNING_STRING and not runs and not run:
            continue
        runs.append(bytes(run))
        if position == "BOF":
            break
        run = bytearray()
    runs.append(bytes(run))
    return runs[0] if position == "BOF" else max(runs, key=len)


class Matcher:
    """Fido.match_formats over some of the formats (FIDO's priority rules over all of them).

    Only the formats that could match are tried, in their order: most signatures start with a
    BOF pattern whose literal start fixes the file's first byte, so a format all of whose
    signatures start so is a candidate only for files beginning with one of those bytes. The
    others could not add a match, and the priority rules look only at matches: same result."""

    def __init__(self, formats: tuple[Format, ...], priority: dict[str, frozenset[str]]):
        self.formats = formats
        self.priority = priority
        self._compiled: dict[bytes, re.Pattern] = {}
        self._gates = [_bof_gates(f) for f in formats]
        self._always, self._by_byte = _first_byte_index(self._gates)
        # first byte -> (format, its gates) to try, in order
        self._candidates: dict[int, tuple[tuple[Format, tuple[bytes, ...] | None], ...]] = {}

    def match(self, head: bytes, tail: bytes) -> list[Format]:
        """The formats whose signature matches, inferior ones (by priority) dropped; a format
        appears once per signature that matched, as in FIDO."""
        result: list[Format] = []
        for format_, gates in self._candidates_for(head[0] if head else None):
            if gates is not None and not head.startswith(gates):
                continue  # no signature of it can match (one C call instead of a pattern each)
            if result and not self._as_good_as_any(format_, result):
                continue
            try:
                for signature in format_.signatures:
                    if all(self._matches(pattern, head, tail) for pattern in signature):
                        result.append(format_)
            except Exception:  # FIDO skips the rest of a format whose pattern fails (no regex, a bad one)
                continue
        return [f for f in result if self._as_good_as_any(f, result)]

    def _candidates_for(self, first: int | None) -> tuple[Format, ...]:
        found = self._candidates.get(first)
        if found is None:
            indices = self._always | self._by_byte.get(first, set())
            found = self._candidates[first] = tuple((self.formats[i], self._gates[i]) for i in sorted(indices))
        return found

    def _as_good_as_any(self, candidate: Format, result: list[Format]) -> bool:
        return not any(other is not candidate and candidate.puid in self.priority[other.puid] for other in result)

    def _matches(self, pattern: Pattern, head: bytes, tail: bytes) -> bool:
        position, regex, literal = pattern
        if regex is None or position is None:
            raise ValueError("a pattern without its regex or position")  # FIDO: an AttributeError
        if position == "BOF":
            return head.startswith(literal) and self._regex(regex).match(head) is not None
        if position == "EOF":
            return literal in tail and self._regex(regex).search(tail) is not None
        if position == "VAR" or position == "IFB":
            return literal in head and self._regex(regex).search(head) is not None
        return True  # FIDO ignores other positions

    def _regex(self, regex: bytes) -> re.Pattern:
        compiled = self._compiled.get(regex)
        if compiled is None:
            compiled = self._compiled[regex] = re.compile(regex)
        return compiled


def _bof_gates(format_: Format) -> tuple[bytes, ...] | None:
    """What a file must start with for one of the format's signatures to match: each
    signature's first BOF pattern with a literal start (the pattern fails without it, so its
    signature does: a failure, or an error, which FIDO takes as one too); None when a signature
    has no such pattern (any file may match it)."""
    gates = []
    for signature in format_.signatures:
        gate = next((p.literal for p in signature if p.position == "BOF" and p.literal and p.regex), None)
        if gate is None:
            return None
        gates.append(gate)
    return tuple(gates)


def _first_byte_index(gates: list[tuple[bytes, ...] | None]) -> tuple[set[int], dict[int, set[int]]]:
    """(indices of formats any file may match, first byte -> indices of formats only a file
    starting with that byte may match), from each format's _bof_gates."""
    always: set[int] = set()
    by_byte: dict[int, set[int]] = {}
    for index, starts in enumerate(gates):
        if starts is None:
            always.add(index)
            continue
        for first in {start[0] for start in starts}:
            by_byte.setdefault(first, set()).add(index)
    return always, by_byte
