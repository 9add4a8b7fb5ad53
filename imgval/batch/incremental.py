"""Run the analysis over a batch, reusing cached results: only new and changed files are
analysed, and every result is checkpointed in the cache as it arrives."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from imgval.analysis.analyze import Record, Settings, analyze_path
from imgval.batch.cache import ResultCache, file_state
from imgval.batch.engine import Engine


FIXITY_FAILURE = "fixity failure"
RESTORE = "restore it from a good copy"  # ends the fixity note, before any other error of the file


@dataclass
class Outcome:
    record: Record
    reused: bool  # True when the record came from the cache, False when analysed in this run


def run_incremental(paths: list[str], settings: Settings, engine: Engine, cache: ResultCache | None,
                    remote_entries: dict | None = None, *, verify: bool = False) -> Iterator[Outcome]:
    """One Outcome per path, in the order given (cached and fresh results interleaved).
    `remote_entries` maps remote URLs to their listing's Entry (discover.Discovery).
    verify: analyse (and so re-hash) every file, cached or not; a file whose cached result was
    still valid by size and times but whose SHA-256 differs now is a fixity failure: its bytes
    changed underneath (bit rot, a tool that restores times), and its row's error says so."""
    if cache is None:
        for record in engine.run(paths, settings):
            yield Outcome(record, False)
        return
    # Each file's state is taken before it is read: a file rewritten while it is analysed is
    # stored with its old mtime and so analysed again next time.
    remote_entries = remote_entries or {}
    states = [file_state(path, remote_entries.get(path)) for path in paths]
    cached = [cache.has(state) for state in states]
    fresh = engine.run([p for p, hit in zip(paths, cached) if verify or not hit], settings)
    try:
        for path, state, hit in zip(paths, states, cached):
            record = cache.lookup(path, state) if hit else None
            if verify:
                checked = next(fresh)
                if record is not None:
                    _check_fixity(record, checked)
                cache.store(state, checked)
                yield Outcome(checked, False)
                continue
            if record is not None:
                yield Outcome(record, True)
                continue
            # A hit that vanished between the two looks (another run replaced it) is analysed here.
            record = next(fresh) if not hit else analyze_path(path, settings)
            cache.store(state, record)
            yield Outcome(record, False)
    finally:
        fresh.close()  # stops the worker pool now, not when the generator is collected


def _check_fixity(cached: Record, checked: Record) -> None:
    """Mark `checked` (analysed now) as a fixity failure when its bytes differ from the cached
    result's for the same size and times. Stored so, the failure is reported by every later run
    until the file is restored (which changes its times)."""
    if cached.sha256 and checked.sha256 and cached.sha256 != checked.sha256:
        note = (f"{FIXITY_FAILURE}: the file's bytes changed while its size and times did not (sha256 was "
                f"{cached.sha256}); {RESTORE}")
    elif cached.error.startswith(FIXITY_FAILURE) and cached.sha256 == checked.sha256:  # not restored yet
        note = cached.error[:cached.error.index(RESTORE) + len(RESTORE)]
    else:
        return
    checked.error = f"{note}; {checked.error}" if checked.error else note
