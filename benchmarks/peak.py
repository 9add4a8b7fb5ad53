#!/usr/bin/env python3
"""A Python command's own peak resident memory, whatever process started it.

    python benchmarks/peak.py OUT -m MODULE ARGS... | -c CODE ARGS... | SCRIPT ARGS...

runs the command as `python` would, in this process, and at its exit writes to OUT two figures
in kB: this process's own peak resident size and the largest peak among the processes it
waited for (its workers). Benchmarks call run_python rather than reading the child's
ru_maxrss themselves (wait4, RUSAGE_CHILDREN): Linux carries the high-water mark of the
process that calls exec into the new program's ru_maxrss, so a command started by a
benchmark that once held 300 MB reports at least 300 MB however little it used. The own
figure is VmHWM from /proc/self/status, the process's own address space only (ru_maxrss
where there is no /proc, which may include it).

The workers' figure is their ru_maxrss. A forked worker's mark starts afresh at fork (only
exec carries one over), counting the pages it shares with the parent; a worker started by
exec (spawn, forkserver, a subprocess) carries at most the measured process's own mark at
that moment. So the larger of the two figures is the largest process of the command itself,
never its launcher's. Only workers reaped before the command returns are counted.
"""
from __future__ import annotations

import os
import resource
import runpy
import subprocess
import sys
import tempfile
import types
from typing import NamedTuple


# `run_python(["-c", IMGVAL, "scan", ...])`: an imgval command, as the benchmarks have always run it
IMGVAL = "import sys\nfrom imgval.cli.main import main\nmain(sys.argv[1:], prog_name='imgval')"


class Peaks(NamedTuple):
    own_mb: float  # the command's process
    workers_mb: float  # the largest process it waited for; 0 if none


def own_peak_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_python(args: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, Peaks | None]:
    """subprocess.run([python, *args], **kwargs) and the command's peaks (None if it never
    reported them: killed, or ended by os._exit)."""
    with tempfile.TemporaryDirectory(prefix="imgval-peak-") as folder:
        out = os.path.join(folder, "peak")
        completed = subprocess.run([sys.executable, os.path.abspath(__file__), out, *args], **kwargs)
        try:
            with open(out) as handle:
                own, workers = (int(kb) / 1024 for kb in handle.read().split())
        except (OSError, ValueError):
            return completed, None
    return completed, Peaks(own, workers)


def _main(out: str, args: list[str]) -> None:
    """Run `python ARGS` here, as the interpreter would (argv, sys.path[0], __main__)."""
    try:
        if args[0] == "-m":
            sys.argv, sys.path[0] = args[1:], os.getcwd()
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        elif args[0] == "-c":
            sys.argv, sys.path[0] = ["-c", *args[2:]], ""
            sys.modules["__main__"] = main = types.ModuleType("__main__")  # so a pool can pickle its functions
            exec(compile(args[1], "<string>", "exec"), main.__dict__)
        else:
            script = os.path.abspath(args[0])  # as __main__.__file__ is since Python 3.9
            sys.argv, sys.path[0] = [script, *args[1:]], os.path.dirname(script)
            runpy.run_path(script, run_name="__main__")
    finally:
        with open(out, "w") as handle:
            handle.write(f"{own_peak_kb()} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2:])
