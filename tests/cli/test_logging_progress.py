"""Logging and progress (issue 12, point 6): log lines on a terminal are printed above the
progress bar, not into it; process_blur.py -d with a DISPLAY nothing answers on is a clear
exit 2 (not Qt's abort with half a report); blur maps of ../ inputs are not hidden files."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

from imgval.cli import exitcodes

from tests.conftest import ROOT, run_script


def run_on_a_terminal(args, cwd) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal (the bar only shows on a terminal)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    process = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            process.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_log_lines_are_printed_above_the_bar(tmp_path, image_dir):
    for i in range(6):
        (image_dir / f"broken{i}.jpg").write_text("not an image")
    code, output = run_on_a_terminal([str(ROOT / "process.py"), str(image_dir), "-v", "-j", "1", "--no-cache"],
                                     tmp_path)
    assert code == 0, output
    assert "img/s" in output or "img]" in output  # the bar was drawn
    logged = [line for line in output.replace("\r\n", "\n").split("\n") if " WARNING " in line or " INFO " in line]
    assert len(logged) >= 10
    for line in logged:
        shown = line.split("\r")[-1].strip()  # what the terminal shows on that line at the end
        assert shown[:2] == "20" and "|" not in shown.split(" INFO ")[0].split(" WARNING ")[0], repr(line)


def run_with_display(display: str, tmp_path, image_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, str(ROOT / "process_blur.py"), str(image_dir), "-d", "-s", "r.csv"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_display_set_but_unreachable_is_exit_2(tmp_path, image_dir):
    number = next(n for n in range(90, 200) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    for display in (f":{number}", f"127.0.0.1:{number}.0"):
        result = run_with_display(display, tmp_path, image_dir)
        assert result.returncode == exitcodes.USAGE, (display, result.returncode, result.stderr)
        assert "cannot reach the display" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "r.csv").exists()


def test_blur_maps_of_relative_inputs_are_not_hidden_files(tmp_path, image_dir):
    work = tmp_path / "work"
    work.mkdir()
    run_script(str(ROOT / "process_blur.py"), "-i", f"../{image_dir.name}/sub", "--blur-map-dir", "maps",
               cwd=work, check=True)
    names = sorted(os.listdir(work / "maps"))
    assert names == [f"up__{image_dir.name}__sub__lossless.png.blurmap.png",
                     f"up__{image_dir.name}__sub__master.tif.blurmap.png"]
