"""File names as report text: names that are not valid UTF-8, shown reversibly.

POSIX file names are bytes; Python holds the bytes that are not UTF-8 as lone surrogates
(os.fsdecode's surrogateescape), which no UTF-8 file, SQLite or terminal can take. In reports,
logs and the cache such a name is written with each undecodable byte as `\\xNN` and, in that
same name, each backslash doubled (`\\\\`), so the text decodes back to exactly the bytes on
disk. Names that are valid UTF-8 are written as they are.
"""
from __future__ import annotations

import os
import re

_ESCAPED = re.compile(r"\\\\|\\x([89a-f][0-9a-f])")


def shown(path: str) -> str:
    """The name as UTF-8-safe text (see the module docstring)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    out = []
    for ch in path:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as surrogateescape holds it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # any other lone surrogate (not a POSIX name's)
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def printable(path: str) -> str:
    """A file name as safe terminal and log text (not reversible): control characters (newlines
    that would forge log lines, escape sequences that would move the cursor or recolour the
    terminal) shown as Python escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in path)


def unescape(text: str) -> str:
    """The inverse of shown() for a name that was escaped."""
    return _ESCAPED.sub(lambda m: "\\" if m[1] is None else chr(0xDC00 + int(m[1], 16)), text)


def on_disk(text: str) -> str:
    """The path a report's filepath cell names: the text itself when such a file exists or
    nothing was escaped, else the escaped name's original bytes."""
    if "\\" not in text or os.path.lexists(text):
        return text
    original = unescape(text)
    return original if os.path.lexists(original) else text
