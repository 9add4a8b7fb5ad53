"""Decoder chatter kept off the terminal.

The C libraries behind the decoders print what they find wrong in a damaged file straight to
the process's stderr, without the file's name: libpng ("libpng error: IDAT: CRC error" through
OpenCV), libjpeg ("Corrupt JPEG data: 68 extraneous bytes before marker 0xdb"), libtiff through
Pillow ("tempfile.tif: Using code not yet in table."). A scan of a folder with damaged files
printed hundreds of such lines (~700 for 2,400 fuzzed files), burying the progress bar and the
warnings, while each file's row already says what is wrong with it. Python-level hooks reach
none of them, so it is the file descriptor that is pointed at /dev/null: for good in a worker
process, which writes nothing else there, or while a decode runs in a process that does.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0  # threads inside stderr_silenced
_saved: int | None = None  # the real stderr while it is silenced


def _flush_stderr() -> None:
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed, or None (pythonw)
        pass


def _point_stderr_at_null() -> int | None:
    """Point fd 2 at /dev/null; the real one's duplicate, or None if that cannot be done."""
    _flush_stderr()  # what was written before goes where it was meant to
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return None
    try:
        saved = os.dup(2)
        os.dup2(null, 2)
        return saved
    except OSError:
        return None
    finally:
        os.close(null)


def silence_stderr_for_good() -> None:
    """A worker process of the local pool: its stderr carries only decoder chatter (its
    results, errors and crashes reach the parent by other ways)."""
    saved = _point_stderr_at_null()
    if saved is not None:
        os.close(saved)


@contextmanager
def stderr_silenced() -> Iterator[None]:
    """fd 2 at /dev/null while any thread is inside (decoding in threads of one process: it is
    restored when the last one leaves)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = _point_stderr_at_null()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                _flush_stderr()  # what Python itself wrote meanwhile is chatter too
                os.dup2(_saved, 2)
                os.close(_saved)
                _saved = None
