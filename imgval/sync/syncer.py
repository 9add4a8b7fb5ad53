"""Sync: storage A -> plan -> copy -> verify -> storage B, written once for every pair.

Decisions are by content hash, never by name or date: a destination file with the same
content is skipped, anything else is copied again. Nothing is ever deleted. Each copy is
hashed while it streams, checked against the source's hash before the destination commits
it, and read back from the destination's own record afterwards before it counts as done.
Two source files that are one name at a destination are both failed, never copied over each
other. Which files take part: selection.py; the manifest of what was done: manifest.py.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import logging
import os
import threading
from typing import BinaryIO, Callable, Iterable

from imgval.storage import Cancelled, Entry, Storage, StorageError, TransientError, name_key, unexpected
from imgval.storage import retry as retries
from imgval.storage.hashing import SHA256, hash_stream
from imgval.storage.retry import RetryPolicy, call_with_retries
from imgval.sync.hashpairs import HashPairs
from imgval.sync.selection import Selection

log = logging.getLogger(__name__)

COPIED, SKIPPED, FAILED, WOULD_COPY = "copied", "skipped", "failed", "would copy"


@dataclasses.dataclass
class Outcome:
    path: str
    size: int
    source_hash: str
    destination: str
    action: str
    error: str = ""
    sha256: str = ""  # of the content, when known without a download (always for a copy)


@dataclasses.dataclass
class SyncResult:
    outcomes: list[Outcome]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def failed(self) -> bool:
        return any(o.action == FAILED for o in self.outcomes)

    def bytes_copied(self) -> int:
        return sum(o.size for o in self.outcomes if o.action == COPIED)


def describe_hashes(hashes: dict[str, str]) -> str:
    for kind in ("content_hash", "sha1"):
        if kind in hashes:
            return f"{kind}:{hashes[kind]}"
    return ""


class _Cancellable(io.RawIOBase):
    """A source stream that stops at the next read once the run is cancelled."""

    def __init__(self, stream: BinaryIO, cancelled: threading.Event, on_bytes: Callable[[int], None]):
        self._stream = stream
        self._cancelled = cancelled
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._cancelled.is_set():
            raise Cancelled("sync interrupted")
        data = self._stream.read(size)
        self._on_bytes(len(data))
        return data

    def close(self) -> None:
        self._stream.close()
        super().close()


class Syncer:
    def __init__(
        self,
        source: Storage,
        destinations: list[Storage],
        selection: Selection | None = None,
        jobs: int = 4,
        dry_run: bool = False,
        hash_pairs: HashPairs | None = None,
        retry: RetryPolicy | None = None,
        on_bytes: Callable[[int], None] = lambda n: None,
        on_done: Callable[[Outcome], None] = lambda o: None,
    ):
        self.source = source
        self.destinations = destinations
        self.selection = selection or Selection()
        self.jobs = max(1, jobs)
        self.dry_run = dry_run
        self.hash_pairs = hash_pairs or HashPairs()
        # whole-file attempts, on top of each backend's per-request retries
        self.retry = retry or dataclasses.replace(RetryPolicy.from_env(), attempts=3)
        self.on_bytes = on_bytes
        self.on_done = on_done
        self.cancelled = retries.stopping  # process-wide: a signal stops every wait and transfer

    # -- planning -------------------------------------------------------------------------
    def source_files(self) -> list[Entry]:
        return sorted((e for e in self.source.list() if self.selection(e.path)), key=lambda e: e.path)

    def run(self, files: list[Entry] | None = None) -> SyncResult:
        files = self.source_files() if files is None else files
        self.cancelled.clear()
        outcomes: list[Outcome] = []
        tasks = []
        for dest in self.destinations:
            try:
                listing = index_by_name(list_or_empty(dest), dest.caseless)
            except StorageError as exc:  # this destination fails its rows; the others go on
                outcomes += [Outcome(e.path, e.size, describe_hashes(e.hashes), dest.url, FAILED,
                                     f"cannot list the destination: {exc}") for e in files]
                continue
            clear, colliding = _split_collisions(files, dest.caseless)
            outcomes += [Outcome(e.path, e.size, describe_hashes(e.hashes), dest.url, FAILED, reason)
                         for e, reason in colliding]
            tasks += [(entry, dest, listing.get(name_key(entry.path, dest.caseless))) for entry in clear]
        for outcome in outcomes:
            self.on_done(outcome)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futures = [pool.submit(self._one, *task) for task in tasks]
            for future in concurrent.futures.as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                self.on_done(outcome)
        except BaseException:
            # Ctrl-C: running transfers stop at their next read; their backends abort the
            # upload (nothing half-written becomes visible), queued ones never start
            self.cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        outcomes.sort(key=lambda o: (o.path, o.destination))
        return SyncResult(outcomes)

    def _one(self, entry: Entry, dest: Storage, existing: Entry | None) -> Outcome:
        outcome = Outcome(entry.path, entry.size, describe_hashes(entry.hashes), dest.url, FAILED)
        try:
            source_hashes = dict(entry.hashes)
            if existing is not None and self.same_content(entry, source_hashes, dest, existing):
                outcome.action = SKIPPED
                outcome.sha256 = source_hashes.get(SHA256, "")
            elif self.dry_run:
                outcome.action = WOULD_COPY
            else:
                if not source_hashes and self.source.scheme == "local":
                    # a local read is cheap, and the hashes known up front are the ones a
                    # multipart upload can record (S3 metadata) for the next run to compare
                    source_hashes = self._read_hashes(self.source, entry.path)
                computed = call_with_retries(
                    lambda: self._copy(entry, source_hashes, dest), self.retry, f"{entry.path} -> {dest.url}"
                )
                outcome.source_hash = describe_hashes(computed)
                outcome.sha256 = computed.get(SHA256, "")
                outcome.action = COPIED
        except Cancelled:
            outcome.error = "interrupted"
        except StorageError as exc:
            outcome.error = str(exc)
        except Exception as exc:  # one bad file must not end the run; its row says why
            outcome.error = unexpected(exc)
        return outcome

    # -- deciding -------------------------------------------------------------------------
    def same_content(self, entry: Entry, source_hashes: dict[str, str], dest: Storage, existing: Entry) -> bool:
        """Whether the destination already holds the source's content (may read content).
        ``source_hashes`` gains every hash learnt on the way (the destination's too, when equal)."""
        if existing.size != entry.size:
            return False
        dest_hashes = dict(existing.hashes)
        if not dest_hashes and dest.hash_kinds:
            stat = dest.stat(existing.path)  # e.g. S3: the hashes live in object metadata
            if stat is None:
                return False
            dest_hashes = dict(stat.hashes)
        source_hashes.update(self.hash_pairs.complete(source_hashes))
        dest_hashes = self.hash_pairs.complete(dest_hashes)
        if not _common(source_hashes, dest_hashes):
            # nothing comparable recorded: read a side, the local one when there is one
            if self.source.scheme == "local" or dest_hashes:
                source_hashes.update(self._read_hashes(self.source, entry.path))
            if not _common(source_hashes, dest_hashes):
                dest_hashes = self._read_hashes(dest, existing.path)
        kinds = _common(source_hashes, dest_hashes)
        same = bool(kinds) and all(source_hashes[k] == dest_hashes[k] for k in kinds)
        if same:
            source_hashes.update({**dest_hashes, **source_hashes})
        return same

    def _read_hashes(self, storage: Storage, path: str) -> dict[str, str]:
        def read():
            with storage.open_read(path) as stream:
                return hash_stream(_Cancellable(stream, self.cancelled, lambda n: None))[1]

        hashes = call_with_retries(read, self.retry, f"hashing {storage.url_for(path)}")
        self.hash_pairs.remember(hashes)
        return hashes

    # -- copying --------------------------------------------------------------------------
    def _copy(self, entry: Entry, source_hashes: dict[str, str], dest: Storage) -> dict[str, str]:
        with self.source.open_read(entry.path) as stream:
            # a download may know the time better than the listing did (S3's mtime metadata)
            modified = getattr(stream, "modified", None) or entry.modified
            written = dest.write(entry.path, _Cancellable(stream, self.cancelled, self.on_bytes), entry.size,
                                 source_hashes, modified)
        self.hash_pairs.remember(written.hashes)
        # verify from the destination's own record, not from what we believe we sent
        after = dest.stat(entry.path)
        if after is None or after.size != entry.size:
            raise TransientError(f"{dest.url_for(entry.path)}: missing or wrong size after upload")
        for kind in _common(after.hashes, written.hashes):
            if after.hashes[kind] != written.hashes[kind]:
                raise TransientError(f"{dest.url_for(entry.path)}: {kind} differs after upload")
        return written.hashes


def _common(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return [k for k in a if k in b]


def list_or_empty(storage: Storage) -> list[Entry]:
    from imgval.storage import NotFound

    try:
        return list(storage.list())
    except NotFound:  # a destination folder the first copy will create
        return []


def index_by_name(entries: Iterable[Entry], caseless: bool) -> dict[str, Entry]:
    return {name_key(entry.path, caseless): entry for entry in entries}


def _split_collisions(files: list[Entry], caseless: bool) -> tuple[list[Entry], list[tuple[Entry, str]]]:
    """Files whose names are distinct at a destination, and those that are not, with why.

    "A.jpg" and "a.jpg" (or "café" composed and decomposed) are one file on Box, Dropbox or a
    case-folding disk: copying both would keep only the last one, so neither is copied."""
    groups: dict[str, list[Entry]] = {}
    for entry in files:
        groups.setdefault(name_key(entry.path, caseless), []).append(entry)
    clear, colliding = [], []
    for group in groups.values():
        if len(group) == 1:
            clear.append(group[0])
            continue
        for entry in group:
            others = ", ".join(repr(e.path) for e in group if e is not entry)
            colliding.append((entry, f"same name at the destination as {others} (it ignores case and Unicode "
                                     "form); neither is copied: rename one"))
    return clear, colliding


def overlapping(a: Storage, b: Storage) -> bool:
    """Whether one storage's folder is the other's or inside it (so syncing one into the other
    would copy its own copies again)."""
    if a.scheme != b.scheme:
        return False
    if a.scheme == "box":
        return a.root_id == b.root_id or a.root_id in b.ancestors() or b.root_id in a.ancestors()
    if a.scheme == "s3":
        if a.bucket != b.bucket:
            return False
        return a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    if a.scheme == "local":
        first, second = os.path.realpath(a.root), os.path.realpath(b.root)
    else:
        first, second = a.root, b.root
    first, second = name_key(first, a.caseless).rstrip("/") + "/", name_key(second, a.caseless).rstrip("/") + "/"
    return first.startswith(second) or second.startswith(first)
