"""BagIt bags (RFC 8493, BagIt 1.0): checked against the checksums a scan computed from its
one read of each file, and written from a scan's checksums without reading the files again.

Unlike bagit-python's validate(), which stops at the first kind of failure (a wrong
Payload-Oxum hides every checksum mismatch), a check here lists every problem: each checksum
mismatch, missing and unexpected file, bad tag file and the Payload-Oxum verdict. Memory is
one dict entry per manifest line (path -> digest), nothing per byte.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from imgval import __version__

ALGORITHMS = ("sha256", "md5")  # what a scan computes (analyze.CHECKSUMS)
PAYLOAD = "data"
BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
_MANIFEST = re.compile(r"^(tag)?manifest-([a-z0-9]+)\.txt$")
_CHUNK = 1 << 20


class BagError(Exception):
    """The folder cannot be checked or bagged as asked; the message says why."""


def is_bag(path: str) -> bool:
    return os.path.isfile(os.path.join(path, BAGIT_TXT))


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the bag, "/"-separated (data/... or a tag file)
    kind: str  # "checksum mismatch", "missing", "unexpected", "Payload-Oxum", "bad tag file"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


@dataclass
class Manifests:
    """What a bag's manifests list: algorithm -> {payload path -> digest}."""
    bag: str
    payload: dict[str, dict[str, str]]
    unsupported: list[str]  # manifest file names whose algorithm a scan does not compute
    oxum: str | None  # bag-info.txt's Payload-Oxum, as written
    problems: list[Problem] = field(default_factory=list)  # tag files that are wrong


def decode_path(text: str) -> str:
    """A manifest path as a file name: %0A, %0D and %25 decoded (RFC 8493 section 2.1.3)."""
    return re.sub(r"%(0A|0D|25)", lambda m: {"0A": "\n", "0D": "\r", "25": "%"}[m[1].upper()], text,
                  flags=re.IGNORECASE)


def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _manifest_lines(path: str, name: str, problems: list[Problem]) -> Iterator[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                parts = line.split(None, 1)
                if len(parts) != 2:
                    problems.append(Problem(name, "bad tag file", f"line {number} is not 'checksum path'"))
                    continue
                yield parts[0].lower(), decode_path(parts[1].lstrip("*"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, "bad tag file", f"cannot read it: {exc}"))


def read_manifests(bag: str) -> Manifests:
    """The bag's payload manifests, Payload-Oxum and the problems of its tag files (bagit.txt,
    tag manifests). Raises BagError when it is not a bag at all or has no manifest a scan can
    check."""
    if not is_bag(bag):
        raise BagError(f"{bag!r} is not a BagIt bag: it has no {BAGIT_TXT}")
    problems: list[Problem] = []
    _check_bagit_txt(bag, problems)
    if not os.path.isdir(os.path.join(bag, PAYLOAD)):
        problems.append(Problem(PAYLOAD, "missing", "a bag's payload folder data/ is missing"))
    payload: dict[str, dict[str, str]] = {}
    unsupported = []
    tag_manifests = []
    for name in sorted(os.listdir(bag)):
        match = _MANIFEST.match(name)
        if not match:
            continue
        tag, algorithm = bool(match[1]), match[2]
        if algorithm not in ALGORITHMS:
            unsupported.append(name)
        elif tag:
            tag_manifests.append((name, algorithm))
        else:
            entries = payload.setdefault(algorithm, {})
            for digest, path in _manifest_lines(os.path.join(bag, name), name, problems):
                if not _is_safe(path):
                    problems.append(Problem(name, "bad tag file", f"unsafe path {path!r} (outside data/)"))
                elif entries.setdefault(path, digest) != digest:
                    problems.append(Problem(name, "bad tag file", f"{path} listed twice with different checksums"))
    if not payload:
        raise BagError(f"{bag!r} has no manifest imgval can check: it computes "
                       f"{' and '.join(ALGORITHMS)} (manifest-sha256.txt, manifest-md5.txt)"
                       + (f"; found {', '.join(unsupported)}" if unsupported else ""))
    for name, algorithm in tag_manifests:
        _check_tag_manifest(bag, name, algorithm, problems)
    return Manifests(bag, payload, unsupported, _read_oxum(bag, problems), problems)


def _check_bagit_txt(bag: str, problems: list[Problem]) -> None:
    tags = _read_tags(os.path.join(bag, BAGIT_TXT))
    if not tags.get("BagIt-Version"):
        problems.append(Problem(BAGIT_TXT, "bad tag file", "no BagIt-Version"))
    if tags.get("Tag-File-Character-Encoding", "").upper() not in ("UTF-8", "UTF8"):
        problems.append(Problem(BAGIT_TXT, "bad tag file", "Tag-File-Character-Encoding is not UTF-8"))


def _read_tags(path: str) -> dict[str, str]:
    """Label: value lines (first value of each label); continuation lines are ignored."""
    tags: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line in handle:
                if ":" in line and not line[:1].isspace():
                    label, value = line.split(":", 1)
                    tags.setdefault(label.strip(), value.strip())
    except (OSError, UnicodeDecodeError):
        pass
    return tags


def _read_oxum(bag: str, problems: list[Problem]) -> str | None:
    oxum = _read_tags(os.path.join(bag, BAG_INFO)).get("Payload-Oxum")
    if oxum is not None and not re.fullmatch(r"\d+\.\d+", oxum):
        problems.append(Problem(BAG_INFO, "Payload-Oxum", f"malformed value {oxum!r} (want OCTETS.FILES)"))
        return None
    return oxum


def _check_tag_manifest(bag: str, name: str, algorithm: str, problems: list[Problem]) -> None:
    for digest, path in _manifest_lines(os.path.join(bag, name), name, problems):
        full = os.path.join(bag, path)
        if not _is_safe(path, payload=False):
            problems.append(Problem(name, "bad tag file", f"unsafe path {path!r}"))
        elif not os.path.isfile(full):
            problems.append(Problem(path, "missing", f"listed in {name} but not in the bag"))
        elif file_digests(full, (algorithm,))[algorithm] != digest:
            problems.append(Problem(path, "checksum mismatch", f"{algorithm} differs from {name}"))


def _is_safe(path: str, payload: bool = True) -> bool:
    parts = path.split("/")
    return (not path.startswith("/") and ".." not in parts
            and (not payload or (parts[0] == PAYLOAD and len(parts) > 1)))


def file_digests(path: str, algorithms: Iterable[str]) -> dict[str, str]:
    """Checksums of one file, read once (files a scan did not read: tag files, non-images)."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(block)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def payload_files(bag: str) -> Iterator[tuple[str, str]]:
    """(path relative to the bag with "/", full path) of every file under data/, sorted."""
    root = os.path.join(bag, PAYLOAD)
    for folder, folders, files in os.walk(root):
        folders.sort()
        # string slicing, not os.path.relpath: that was half the time of checking 100,000 files
        relative = PAYLOAD + folder[len(root):].replace(os.sep, "/") + "/"
        for name in sorted(files):
            yield relative + name, folder + os.sep + name


class BagCheck:
    """A bag being checked as a scan goes: each payload file's checksums are compared with
    the manifests as its record arrives (`file_issue`), and what was never seen is missing."""

    def __init__(self, bag: str):
        self.given = bag  # as the user named it: rows for files the scan did not see use it
        self.bag = os.path.abspath(bag)
        self.manifests = read_manifests(bag)
        self.problems: list[Problem] = list(self.manifests.problems)
        self.seen: set[str] = set()
        self.octets = self.files = 0

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self.manifests.payload)

    def relative(self, path: str) -> str | None:
        """The payload path of a scanned file ("data/..."), or None when it is outside data/."""
        full = os.path.abspath(path)
        if not full.startswith(self.bag + os.sep):
            return None
        relative = full[len(self.bag) + 1:].replace(os.sep, "/")
        return relative if _is_safe(relative) else None

    def file_issue(self, path: str, digests: Mapping[str, str], size: int) -> str:
        """The bag verdict of one payload file: "ok", or each problem, "; "-separated."""
        relative = self.relative(path)
        if relative is None:
            return ""
        self.seen.add(relative)
        self.octets += size
        self.files += 1
        unlisted, wrong = [], []
        for algorithm, entries in self.manifests.payload.items():
            name = f"manifest-{algorithm}.txt"
            expected = entries.get(relative)
            if expected is None:
                unlisted.append(name)
            elif not digests.get(algorithm):
                wrong.append(f"could not be read to check {name}")
            elif digests[algorithm] != expected:
                wrong.append(f"{algorithm} {digests[algorithm]}, {name} has {expected}")
        issues = ([Problem(relative, "unexpected", "not listed in " + ", ".join(unlisted))] if unlisted else []) + (
            [Problem(relative, "checksum mismatch", "; ".join(wrong))] if wrong else [])
        self.problems += issues
        return "; ".join(f"{p.kind}: {p.detail}" for p in issues) or "ok"

    def finish(self) -> list[Problem]:
        """The problems only the end can tell: files listed but never found, Payload-Oxum."""
        missing = sorted({path for entries in self.manifests.payload.values() for path in entries} - self.seen)
        for path in missing:
            listed = [f"manifest-{a}.txt" for a, entries in self.manifests.payload.items() if path in entries]
            self.problems.append(Problem(path, "missing", f"listed in {', '.join(listed)} but not in the bag"))
        found = f"{self.octets}.{self.files}"
        if self.manifests.oxum is not None and self.manifests.oxum != found:
            self.problems.append(Problem(BAG_INFO, "Payload-Oxum",
                                         f"states {self.manifests.oxum} (bytes.files), the payload is {found}"))
        return self.problems

    @property
    def oxum_found(self) -> str:
        return f"{self.octets}.{self.files}"

    def shown_path(self, relative: str) -> str:
        return os.path.join(self.given, *relative.split("/"))


def write_bag(folder: str, digests: Mapping[str, Mapping[str, str]], algorithms: tuple[str, ...],
              info: Mapping[str, str] | None = None) -> str:
    """Turn `folder` into a BagIt 1.0 bag in place, as bagit-python does: its contents move into
    folder/data/, and the tag files are written from `digests` (payload path "data/..." ->
    algorithm -> hex digest, one entry per file), so no payload file is read. Returns the
    Payload-Oxum."""
    folder = os.path.abspath(folder)
    if is_bag(folder):
        raise BagError(f"{folder!r} is already a bag (it has {BAGIT_TXT})")
    entries = os.listdir(folder)
    staging = os.path.join(folder, f".imgval-data-{os.getpid()}")
    os.mkdir(staging)
    for name in entries:
        os.rename(os.path.join(folder, name), os.path.join(staging, name))
    os.rename(staging, os.path.join(folder, PAYLOAD))
    octets = sum(os.stat(os.path.join(folder, *path.split("/"))).st_size for path in digests)
    oxum = f"{octets}.{len(digests)}"
    for algorithm in algorithms:
        _write_text(os.path.join(folder, f"manifest-{algorithm}.txt"),
                    "".join(f"{d[algorithm]}  {encode_path(p)}\n" for p, d in sorted(digests.items())))
    _write_text(os.path.join(folder, BAGIT_TXT), "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    tags = {"Bag-Software-Agent": f"imgval {__version__}",
            "Bagging-Date": datetime.date.today().isoformat(), **(info or {}), "Payload-Oxum": oxum}
    _write_text(os.path.join(folder, BAG_INFO), "".join(f"{k}: {v}\n" for k, v in tags.items()))
    tag_files = [BAGIT_TXT, BAG_INFO] + [f"manifest-{a}.txt" for a in algorithms]
    for algorithm in algorithms:
        _write_text(os.path.join(folder, f"tagmanifest-{algorithm}.txt"),
                    "".join(f"{file_digests(os.path.join(folder, t), (algorithm,))[algorithm]}  {t}\n"
                            for t in tag_files))
    return oxum


def _write_text(path: str, text: str) -> None:
    temporary = path + ".part"
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(temporary, path)
