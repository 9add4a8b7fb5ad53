"""Retry with exponential backoff, honouring a server's Retry-After.

One policy for every backend, so a rate limit or a dropped connection is handled the same
whether it came from Dropbox, Box or S3. The SDKs' own retry loops are kept short (or off)
and this one decides; ``IMGVAL_RETRY_BASE_DELAY`` (seconds) scales the backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import time
from typing import Callable, Protocol, TypeVar

from imgval.storage import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        base = os.environ.get("IMGVAL_RETRY_BASE_DELAY")
        return cls(base_delay=float(base)) if base else cls()

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(float(retry_after), self.max_delay)
        # full jitter: spreads parallel workers that failed together
        return random.uniform(0.5, 1.0) * min(self.base_delay * 2 ** (attempt - 1), self.max_delay)


class SharedBackoff(Protocol):
    """A rate limit shared by every process of a run (the workers of a Dask cluster): when one
    is told to wait, all of them hold their next call, instead of N retry loops hammering on."""

    def pause_until(self, deadline: float) -> None:
        """Hold every process's calls until time.time() >= deadline."""

    def deadline(self) -> float:
        """The time (time.time()) calls are held until; in the past when there is no pause."""


_shared: SharedBackoff | None = None


def share_backoff(shared: SharedBackoff | None) -> None:
    """Make this process's retries obey (and set) a run-wide pause; None: this process alone."""
    global _shared
    _shared = shared


def _wait_for_shared_pause(sleep: Callable[[float], None]) -> None:
    if _shared is not None:
        remaining = _shared.deadline() - time.time()
        if remaining > 0:
            sleep(remaining)


def call_with_retries(
    fn: Callable[[], T], policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run ``fn``; on :class:`TransientError` wait and try again, up to ``policy.attempts``.
    With a shared backoff (share_backoff), a wait one process was told to make holds all."""
    attempt = 1
    while True:
        try:
            _wait_for_shared_pause(sleep)
            return fn()
        except TransientError as exc:
            if attempt >= policy.attempts:
                raise
            wait = policy.delay(attempt, exc.retry_after)
            log.info("%s: %s; retry %d/%d in %.1fs", what, exc, attempt, policy.attempts - 1, wait)
            if _shared is not None and exc.retry_after is not None:  # the server's wish: for everyone
                _shared.pause_until(time.time() + wait)
            sleep(wait)
            attempt += 1


def call_translated(
    what: str, fn: Callable[[], T], translate: Callable[[Exception, str], Exception], policy: RetryPolicy | None = None
) -> T:
    """Run ``fn``, turning an SDK's exception into imgval's with ``translate(exc, what)`` (which
    returns ``exc`` itself for one to re-raise unchanged); with a policy, transient ones are retried."""
    def attempt() -> T:
        try:
            return fn()
        except Exception as exc:
            translated = translate(exc, what)
            if translated is exc:
                raise
            raise translated from exc

    return call_with_retries(attempt, policy, what) if policy else attempt()
