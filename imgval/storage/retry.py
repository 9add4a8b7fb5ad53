"""Retry with exponential backoff, honouring a server's Retry-After within a cap.

One policy for every backend, so a rate limit or a dropped connection is handled the same
whether it came from Dropbox, Box or S3. The SDKs' own retry loops are kept short (or off)
and this one decides. ``IMGVAL_RETRY_BASE_DELAY`` (seconds) scales the backoff;
``IMGVAL_MAX_WAIT`` (seconds, default 300) is the longest a server may make us wait: one that
asks for longer fails the file at once and the run goes on. Every wait ends the moment the
process is being stopped (:data:`stopping`), in whichever thread it waits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import logging
import math
import os
import random
import threading
import time
from typing import Callable, Protocol, TypeVar

from imgval.storage import Cancelled, StorageError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: set while the process is being stopped (Ctrl-C, SIGTERM): waits end with Cancelled
stopping = threading.Event()


def wait(seconds: float) -> None:
    """Sleep, unless the process is being stopped (then raise Cancelled at once)."""
    if stopping.wait(max(0.0, seconds)):
        raise Cancelled("interrupted")


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After in seconds: delay-seconds or an HTTP date (RFC 9110 10.2.3); None if neither."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds())


def normalise_retry_after(response, *args, **kwargs):
    """A requests response hook: Retry-After as whole seconds, the only form the Dropbox and
    Box SDKs parse (an HTTP date would crash them)."""
    value = response.headers.get("Retry-After")
    seconds = parse_retry_after(value)
    if value is not None:
        if seconds is None:
            del response.headers["Retry-After"]
        else:
            response.headers["Retry-After"] = str(math.ceil(seconds))
    return response


def _seconds_variable(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise StorageError(f"{name} must be a number of seconds (0 or more), not {raw!r}")
    return value


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0  # the longest backoff step
    max_wait: float = 300.0  # the longest Retry-After obeyed; a longer one fails at once

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        """From IMGVAL_RETRY_BASE_DELAY and IMGVAL_MAX_WAIT; StorageError names a bad one."""
        return cls(base_delay=_seconds_variable("IMGVAL_RETRY_BASE_DELAY", cls.base_delay),
                   max_wait=_seconds_variable("IMGVAL_MAX_WAIT", cls.max_wait))

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt; None when the server asks for more than
        ``max_wait``."""
        if retry_after is not None:
            return None if retry_after > self.max_wait else float(retry_after)
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
    fn: Callable[[], T], policy: RetryPolicy, what: str, sleep: Callable[[float], None] = wait
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
            delay = policy.delay(attempt, exc.retry_after)
            if delay is None:  # not transient any more: the file fails now, the run goes on
                raise StorageError(f"{exc}; the server asked to wait {exc.retry_after:.0f} s, more than the "
                                   f"{policy.max_wait:.0f} s cap (IMGVAL_MAX_WAIT)") from exc
            log.info("%s: %s; retry %d/%d in %.1fs", what, exc, attempt, policy.attempts - 1, delay)
            if _shared is not None and exc.retry_after is not None:  # the server's wish: for everyone
                _shared.pause_until(time.time() + delay)
            sleep(delay)
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
