"""Remembered hashes of the same content (Dropbox content_hash <-> SHA-1 <-> SHA-256).

Dropbox reports only its content_hash and Box only a SHA-1, so neither can be compared with
the other without reading the file. Every copy computes all kinds in one pass; remembering
them lets the next run compare a Dropbox file with its Box copy without a download, and name
the SHA-256 of a file it skips (the manifest's fixity column). A set of hashes is a fact
about content, not about a path, so it never goes stale.

Location: IMGVAL_HASH_CACHE, else the user cache folder (``platformdirs``). A missing or
unwritable cache only costs downloads, never a wrong decision.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from imgval.defaults import user_cache_folder
from imgval.storage.hashing import CONTENT_HASH, SHA1, SHA256

log = logging.getLogger(__name__)


def default_path() -> str:
    path = os.environ.get("IMGVAL_HASH_CACHE")
    if path:
        return path
    return os.path.join(user_cache_folder(), "hash-pairs.sqlite")


class HashPairs:
    def __init__(self, path: str | None = None):
        self._lock = threading.Lock()
        self._db = None
        path = path or default_path()
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS pairs (content_hash TEXT PRIMARY KEY, sha1 TEXT NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS by_sha1 ON pairs (sha1)")
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(pairs)")]
            if SHA256 not in columns:  # a cache from before the manifest's SHA-256
                self._db.execute("ALTER TABLE pairs ADD COLUMN sha256 TEXT")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            log.warning("hash cache %s unavailable (%s); comparisons may need downloads", path, exc)
            self._db = None

    def complete(self, hashes: dict[str, str]) -> dict[str, str]:
        """``hashes`` plus whatever kinds are remembered for them."""
        if self._db is None or all(kind in hashes for kind in (CONTENT_HASH, SHA1, SHA256)):
            return dict(hashes)
        for kind in (CONTENT_HASH, SHA1, SHA256):
            if kind in hashes:
                with self._lock:
                    row = self._db.execute(f"SELECT content_hash, sha1, sha256 FROM pairs WHERE {kind} = ?",
                                           (hashes[kind],)).fetchone()
                if row:
                    known = dict(zip((CONTENT_HASH, SHA1, SHA256), row))
                    return {**{k: v for k, v in known.items() if v}, **hashes}
        return dict(hashes)

    def remember(self, hashes: dict[str, str]) -> None:
        if self._db is None or CONTENT_HASH not in hashes or SHA1 not in hashes:
            return
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO pairs VALUES (?, ?, ?)",
                                 (hashes[CONTENT_HASH], hashes[SHA1], hashes.get(SHA256)))
                self._db.commit()
            except sqlite3.Error as exc:
                log.warning("hash cache write failed: %s", exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
