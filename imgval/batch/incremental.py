"""Run the analysis over a batch, reusing cached results: only new and changed files are
analysed, and every result is checkpointed in the cache as it arrives."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from imgval.analysis.analyze import Record, Settings, analyze_path
from imgval.analysis.quiet import stderr_silenced
from imgval.batch.cache import FileState, ResultCache, file_state
from imgval.batch.engine import Engine


FIXITY_FAILURE = "fixity failure"
RESTORE = "restore it from a good copy"  # ends the fixity note, before any other error of the file


@dataclass
class Outcome:
    record: Record
    reused: bool  # True when the record came from the cache, False when analysed in this run


def run_incremental(paths: Iterable[str], settings: Settings, engine: Engine, cache: ResultCache | None,
                    remote_entries: dict | None = None, *, verify: bool = False) -> Iterator[Outcome]:
    """One Outcome per path, in the order given (cached and fresh results interleaved).
    `paths` is iterated more than once (a list, or discover's PathSpool); `remote_entries`
    maps remote URLs to their listing's Entry (discover.Discovery).
    verify: analyse (and so re-hash) every file, cached or not; a file whose cached result was
    still valid by size and times but whose SHA-256 differs now is a fixity failure: its bytes
    changed underneath (bit rot, a tool that restores times), and its row's error says so."""
    if cache is None:
        for record in engine.run(paths, settings):
            yield Outcome(record, False)
        return
    remote_entries = remote_entries or {}

    def state_of(path: str) -> FileState | None:
        return file_state(path, remote_entries.get(path))

    # One byte per file: is a result for it cached. Each file's state is taken again just
    # before it is read (as the engine takes it), so a file rewritten while it is analysed is
    # stored with its old mtime and so analysed again next time.
    hits = bytearray(cache.has(state_of(path)) for path in paths)
    states: deque[FileState | None] = deque()  # of the files handed to the engine, not yet yielded
    fresh = engine.run(_Handed(paths, hits, verify, state_of, states), settings)
    try:
        for path, hit in zip(paths, hits):
            if verify or not hit:
                record, state = next(fresh), states.popleft()
                cached = cache.lookup(path, state) if hit else None
                if cached is not None:
                    _check_fixity(cached, record)
                cache.store(state, record)
                yield Outcome(record, False)
                continue
            state = state_of(path)
            record = cache.lookup(path, state)
            if record is not None:
                yield Outcome(record, True)
                continue
            # A hit that vanished between the two looks (the file changed, or another run
            # replaced the entry) is analysed here.
            with stderr_silenced():  # the decoders' libraries' chatter (analysis/quiet.py)
                record = analyze_path(path, settings)
            cache.store(state, record)
            yield Outcome(record, False)
    finally:
        fresh.close()  # stops the worker pool now, not when the generator is collected


class _Handed:
    """The files the engine is to analyse, each one's state noted in `states` as the engine
    takes it; sized, so the engine starts no more workers than files."""

    def __init__(self, paths: Iterable[str], hits: bytearray, verify: bool, state_of, states: deque):
        self.paths, self.hits, self.verify, self.state_of, self.states = paths, hits, verify, state_of, states

    def __len__(self) -> int:
        return len(self.hits) if self.verify else self.hits.count(0)

    def __iter__(self) -> Iterator[str]:
        for path, hit in zip(self.paths, self.hits):
            if self.verify or not hit:
                self.states.append(self.state_of(path))
                yield path


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
