"""A SQLite cache of analysis results, so a re-run analyses only new and changed files.

Only verdicts about a file's content are cached; transient failures (Record.transient: permission
denied, out of memory, a killed worker, a timeout) are analysed again by the next run.
A cached result is reused when the file's absolute path, size, modification and status-change
times (ns) and inode are unchanged (for a remote file: its URL, size and the content hashes or
modified time its storage lists) and it was produced by the same analysis settings and tool
version (the fingerprint). Results are checkpointed as they arrive and committed in small batches (WAL
mode), so a run killed with SIGKILL loses at most the last batch: the next run picks up
from there.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass

from imgval import __version__
from imgval.analysis import sharpness
from imgval.analysis.analyze import HASH_VERSIONS, Record, Settings
from imgval.defaults import user_cache_folder
from imgval.escaped_names import shown
from imgval.storage import is_remote

log = logging.getLogger("imgval")

SCHEMA_VERSION = 2
TABLE = f"results_v{SCHEMA_VERSION}"  # a new layout gets a new table; old rows are simply never read
CACHE_FILE_NAME = "results.sqlite"
COMMIT_EVERY_SECONDS = 1.0  # SIGKILL loses at most about this much finished work
COMMIT_EVERY_RECORDS = 500  # ...or this many records, whichever comes first
PRUNE_AFTER_DAYS = 90  # entries no run has used for this long are dropped (moved, deleted files)
BUSY_TIMEOUT_SECONDS = 30  # two runs on different reports may share one cache file

# Record fields that are not report values (numpy pixels kept only for the single-process view).
_NOT_CACHED = frozenset({"pixels"})


class CacheError(Exception):
    """The cache file cannot be opened or used; the message says which file and why."""


def default_cache_path(shard=None) -> str:
    """The user's cache file; a shard (batch/shard.Shard) gets its own, since shards may run at
    once on one host and a cache has one writer."""
    name = CACHE_FILE_NAME
    if shard is not None:
        stem, ext = os.path.splitext(name)
        name = f"{stem}.shard-{shard.index}-of-{shard.count}{ext}"
    return os.path.join(user_cache_folder(), name)


def _plain(value):
    """JSON-able form of a settings value: dataclasses, tuples, dates, ... (for the fingerprint)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__,
                **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)  # dates, enums, paths: their repr is stable and says what they are


def fingerprint(settings: Settings) -> str:
    """What a cached result depends on besides the file: every Settings field (generically, so a
    field added later invalidates old results by itself), the tool version and the Record
    fields stored (a changed record shape must not load old rows), and the versions of the pHash
    and the sharpness measure (a changed definition must not mix old values with new ones)."""
    described = {
        "settings": _plain(settings),
        "version": __version__,
        "record_fields": sorted(_record_fields()),
        "schema": SCHEMA_VERSION,
        "hash_version": HASH_VERSIONS[settings.mode],  # rows with an earlier hash definition are redone
        "sharpness_version": sharpness.VERSION,  # ... and with an earlier sharpness measure
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def _record_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Record) if f.name not in _NOT_CACHED]


def record_to_json(record: Record) -> str:
    return json.dumps({name: getattr(record, name) for name in _record_fields()})


def record_from_json(text: str, filepath: str) -> Record:
    """The stored record, under the path this run found it by (relative inputs can differ)."""
    values = json.loads(text)
    values["filepath"] = filepath
    return Record(**values)


@dataclass(frozen=True)
class FileState:
    """What identifies one version of a file: a touch or rewrite changes it."""

    key: str  # absolute path, or the remote URL
    size: int
    version: str  # local: mtime, ctime (ns) and inode; remote: content hashes, else modified time


def file_state(path: str, entry=None) -> FileState | None:
    """The file's state now, or None when it cannot be known (its analysis will say why).

    A remote file's state comes from its storage listing (`entry`, an imgval.storage.Entry),
    so an unchanged file is reused without being downloaded."""
    if is_remote(path):
        version = _remote_version(entry) if entry is not None else None
        return FileState(path, entry.size, version) if version else None
    try:
        st = os.stat(path)
    except OSError:
        return None
    # ctime and the inode too: a tool that restores mtimes still changes the ctime, and a file
    # replaced by a rename gets a new inode (bit rot changes none of these: see --verify)
    return FileState(shown(os.path.abspath(path)), st.st_size, f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")


def _remote_version(entry) -> str | None:
    """The content hashes the storage reports (they change exactly when the content does), else
    its modified time; None when it reports neither (such files are analysed every time)."""
    if entry.hashes:
        return ";".join(f"{kind}={value}" for kind, value in sorted(entry.hashes.items()))
    if entry.modified is not None:
        return entry.modified.isoformat()
    return None


class ResultCache:
    """Results of one settings fingerprint in a SQLite file. Not shared across processes: each
    run opens its own connection (SQLite's own locking makes concurrent runs safe)."""

    def __init__(self, path: str, settings: Settings):
        self.path = path
        self.fingerprint = fingerprint(settings)
        self.now = int(time.time())
        self._pending: list[tuple] = []
        self._used: list[tuple] = []
        self._last_commit = time.monotonic()
        self.broken = False
        try:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed batch survives the process being killed (only a
            # power cut can lose the last commits), and commits need no fsync each.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " path TEXT NOT NULL, fingerprint TEXT NOT NULL, size INTEGER NOT NULL,"
                " version TEXT NOT NULL, record TEXT NOT NULL, used_at INTEGER NOT NULL,"
                " PRIMARY KEY (path, fingerprint))"
            )
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cannot use the cache file {path!r}: {exc}; choose another with "
                             f"--cache PATH or run with --no-cache") from None

    def has(self, state: FileState | None) -> bool:
        """True when a result for this version of the file is cached (cheap: no record decoded)."""
        if state is None or self.broken:
            return False
        try:
            row = self.db.execute(f"SELECT size, version FROM {TABLE} WHERE path = ? AND fingerprint = ?",
                                  (state.key, self.fingerprint)).fetchone()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return False
        return row is not None and (row[0], row[1]) == (state.size, state.version)

    def lookup(self, filepath: str, state: FileState | None) -> Record | None:
        """The cached record for this version of the file, or None when it must be analysed."""
        if state is None or self.broken:
            return None
        try:
            row = self.db.execute(
                f"SELECT size, version, record FROM {TABLE} WHERE path = ? AND fingerprint = ?",
                (state.key, self.fingerprint),
            ).fetchone()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return None
        if row is None or (row[0], row[1]) != (state.size, state.version):
            return None
        try:
            record = record_from_json(row[2], filepath)
        except (ValueError, TypeError):  # an unreadable row is a miss, not a crash
            return None
        self._used.append((self.now, state.key, self.fingerprint))
        if len(self._used) >= COMMIT_EVERY_RECORDS:
            self.flush()  # the marks too are written as the run goes: a long re-run holds none
        return record

    def store(self, state: FileState | None, record: Record) -> None:
        """Checkpoint one result. `state` must be taken before the file was read, so a file
        changed during its analysis has a newer mtime than stored and is analysed again.
        Only verdicts about the file's content are kept: a transient failure is tried again."""
        if state is None or record.transient:
            return
        self._pending.append((state.key, self.fingerprint, state.size, state.version,
                              record_to_json(record), self.now))
        if (len(self._pending) >= COMMIT_EVERY_RECORDS
                or time.monotonic() - self._last_commit >= COMMIT_EVERY_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Commit the pending results and marks of reused entries as used (one transaction:
        fast, and all-or-nothing on a kill)."""
        self._last_commit = time.monotonic()
        if not (self._pending or self._used) or self.broken:
            return
        try:
            with self._transaction():
                self.db.executemany(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", self._pending)
                self.db.executemany(f"UPDATE {TABLE} SET used_at = ? WHERE path = ? AND fingerprint = ?",
                                    self._used)
        except sqlite3.Error as exc:
            self._give_up(exc)
        self._pending.clear()
        self._used.clear()

    def _give_up(self, exc: sqlite3.Error) -> None:
        """A cache that fails mid-run (disk full, file removed) must not stop the run: the report
        is still complete, only the next run will analyse more."""
        log.warning("the cache %s stopped working (%s); continuing without it", self.path, exc)
        self.broken = True
        self._pending.clear()
        self._used.clear()

    def close(self, finished: bool = True) -> None:
        """Commit what is pending; after a finished run also drop entries nobody has used for
        PRUNE_AFTER_DAYS, so the file does not grow forever."""
        self.flush()
        if finished and not self.broken:
            try:
                with self._transaction():
                    self.db.execute(f"DELETE FROM {TABLE} WHERE used_at < ?",
                                    (self.now - PRUNE_AFTER_DAYS * 86400,))
            except sqlite3.Error as exc:
                self._give_up(exc)
        self.db.close()

    def _transaction(self):
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
