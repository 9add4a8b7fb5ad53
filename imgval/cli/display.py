"""Whether windows can be opened here (process_blur.py -d): a DISPLAY that is set but cannot be
reached makes Qt abort the whole process (exit 134, half a report), so it is tried first."""
from __future__ import annotations

import os
import socket
import sys

X11_SOCKETS = "/tmp/.X11-unix/X{}"
X11_TCP_BASE = 6000


def display_problem(environ=os.environ) -> str | None:
    """Why windows cannot be opened here, or None when a display answers."""
    if not sys.platform.startswith("linux"):
        return None
    wayland, x11 = environ.get("WAYLAND_DISPLAY"), environ.get("DISPLAY")
    if not wayland and not x11:
        return ("--display-image needs a graphical display and none was found (DISPLAY is not set). "
                "Use --blur-map-dir DIR to save the blur maps as PNG files instead.")
    if wayland and _wayland_answers(wayland, environ.get("XDG_RUNTIME_DIR", "")):
        return None
    if x11 and _x11_answers(x11):
        return None
    shown = f"DISPLAY={x11}" if x11 else f"WAYLAND_DISPLAY={wayland}"
    return (f"--display-image cannot reach the display ({shown}: nothing answers there). "
            "Check the variable (an SSH session needs X forwarding), or use --blur-map-dir DIR to save "
            "the blur maps as PNG files instead.")


def _x11_answers(display: str) -> bool:
    """DISPLAY is [host]:number[.screen]; local displays listen on a unix socket, others on TCP."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix", "localhost") or host.startswith("/"):
        path = host if host.startswith("/") else X11_SOCKETS.format(number)  # XQuartz-style paths
        if _connects(socket.AF_UNIX, path):
            return True
        if host != "localhost":
            return False
    return _connects(socket.AF_INET, (host or "localhost", X11_TCP_BASE + int(number)))


def _wayland_answers(name: str, runtime_dir: str) -> bool:
    path = name if os.path.isabs(name) else os.path.join(runtime_dir, name)
    return bool(path) and _connects(socket.AF_UNIX, path)


def _connects(family, address) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(address)
        return True
    except (OSError, ValueError):
        return False
