#!/usr/bin/env python3
"""Start-up cost of the commands: CPU time (user + system) and wall clock of the whole process,
as a user pays it before any image is read (issue 12: target `imgval --help` under 0.3 s CPU).

    python benchmarks/startup.py                        # this checkout, 15 rounds
    python benchmarks/startup.py --other /work/main     # and another checkout, for a ratio

Every round runs each command once, in turn (alternating, so a busy moment of a shared machine
weighs on all of them alike); the table gives the median of the rounds. `python -c pass` is the
floor: the interpreter's own start.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from precompile import byte_compiled  # benchmarks/precompile.py

ROOT = Path(__file__).resolve().parent.parent
# What the `imgval` console script runs (setup.cfg's entry point), with the command's arguments.
ENTRY_POINT = ["-c", "import sys; from imgval.cli import main; sys.argv[0] = 'imgval'; sys.exit(main())"]
COMMANDS = tuple((f"imgval {' '.join(args)}", ENTRY_POINT + args) for args in (
    ["--help"], ["scan", "--help"], ["run", "--help"], ["sync", "--help"], ["dupes", "--help"]))


def timed(args: list[str], checkout: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `python ARGS` with `checkout` importable."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], env=env, cwd=checkout, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed in {checkout}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--other", type=Path, help="another checkout of imgval to compare with")
    options = parser.parse_args()
    byte_compiled([ROOT] + ([options.other] if options.other else []))
    runs = [("python -c pass", ["-c", "pass"], ROOT, "floor")]
    for name, args in COMMANDS:
        runs.append((name, args, ROOT, "this"))
        if options.other:
            runs.append((name, args, options.other, "other"))
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(r[0], r[3]): [] for r in runs}
    for _ in range(options.rounds):
        for name, args, checkout, which in runs:
            samples[(name, which)].append(timed(args, checkout))

    def median(key, i):
        return statistics.median(s[i] for s in samples[key])

    print(f"{options.rounds} alternating rounds, median; machine load {os.getloadavg()[0]:.1f}")
    header = "| command | checkout | CPU s | wall s |" + (" CPU vs other |" if options.other else "")
    print(header)
    print("| --- | --- | --- | --- |" + (" --- |" if options.other else ""))
    for name, _, checkout, which in runs:
        cpu, wall = median((name, which), 0), median((name, which), 1)
        ratio = ""
        if options.other and which == "this":
            ratio = f" {cpu / median((name, 'other'), 0):.2f}x |"
        elif options.other:
            ratio = " |"
        print(f"| {name} | {which} ({checkout}) | {cpu:.3f} | {wall:.3f} |{ratio}")


if __name__ == "__main__":
    main()
