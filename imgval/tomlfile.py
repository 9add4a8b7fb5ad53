"""A user's TOML file (an EXIF profile, a run config) read with errors a person can act on."""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def parse_toml(text: str, source: str, error: type[Exception], format_hint: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML: {exc}; {format_hint}") from None


def read_toml(path, kind: str, option: str, error: type[Exception], format_hint: str) -> dict:
    """The TOML document in path; any problem raises error(message) naming the file, what is
    wrong and what to do. kind names the file ("profile"), option the flag that gave it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise error(f"{kind} file {path} does not exist; check the {option} path") from None
    except IsADirectoryError:
        raise error(f"{kind} {path} is a directory; give the .toml file") from None
    except OSError as exc:
        raise error(f"cannot read {kind} file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); save the {kind} as UTF-8") from None
    return parse_toml(text, str(path), error, format_hint)


def toml_value(text: str):
    """A command-line value read as TOML when it parses (8, 1.5, true, ["a", "b"]), else the text."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
