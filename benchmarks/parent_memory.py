#!/usr/bin/env python3
"""Parent memory per file listed, whole process: `python benchmarks/parent_memory.py`.

Runs `imgval scan DIR -q -j J` as a user types it, each a fresh process, over folders of N
files (hard links to one small file, 1,000 per folder, made in a temporary folder in seconds),
and prints the peak resident memory of the scan's own process (its VmHWM: the listing, the run
loop, the report, the duplicate grouping, the cache; the workers have their own) and the bytes
per file above the smallest N's peak (the fixed cost: interpreter, libraries, pool).

Not ru_maxrss: Linux carries the launching process's high-water mark through exec into the
child's ru_maxrss, so a child started by a process that once held 300 MB reports at least
300 MB however little it used itself (benchmarks/peak.py, which runs the scan and reads its
own VmHWM). This script did hold that much: it captured each scan's stderr, 88 MB of warnings
for a million empty files, and so reported 306 MB for the re-run that followed the first run;
the scan itself peaked at 190 MB. The scan's stderr now goes to a file, never into this process.

Modes: `no cache` (`--no-cache`), `cache, first run` (every file analysed and stored in a fresh
`--cache` file) and `cache, re-run` (the same command again: every file reused). Files are
empty by default (each still gets its row: "empty file (0 bytes)", and one sha256 shared by
all, so one duplicate group as large as the batch); `--kind jpeg` links a 64x64 JPEG instead
(a pHash and checksums per row; ~5 ms of CPU per file, so keep N smaller).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak import IMGVAL, run_python  # benchmarks/peak.py

ROOT = Path(__file__).resolve().parent.parent
PER_FOLDER = 1000
LINKS_PER_SOURCE = 50_000  # under ext4's 65,000 links per file
MODES = ["no cache", "cache, first run", "cache, re-run"]


def make_corpus(top: str, count: int, kind: str) -> None:
    """`count` hard links in folders of PER_FOLDER, each folder's names sorted as listed."""
    source = ""
    for i in range(count):
        if i % LINKS_PER_SOURCE == 0:
            source = os.path.join(top, f".source{i}.bin")
            _write_source(source, kind)
        folder = os.path.join(top, f"d{i // PER_FOLDER:05d}")
        if i % PER_FOLDER == 0:
            os.mkdir(folder)
        os.link(source, os.path.join(folder, f"img{i:07d}.jpg"))
    for name in os.listdir(top):
        if name.startswith(".source"):
            os.unlink(os.path.join(top, name))  # the links keep the bytes; the scan lists only d*/


def _write_source(path: str, kind: str) -> None:
    if kind == "empty":
        open(path, "wb").close()
        return
    import cv2

    sys.path.insert(0, str(ROOT))
    from imgval.synthetic import natural_image

    ok, data = cv2.imencode(".jpg", natural_image(64, 64, seed=3))
    Path(path).write_bytes(data.tobytes())


def scan(folder: str, out: str, options: list[str], jobs: int) -> tuple[float, float, float]:
    """(parent peak RSS in MB, wall s, CPU s of the process and its workers) of one scan."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(os.path.join(out, "scan-stderr.txt"), "w+b") as err:
        proc, peaks = run_python(["-c", IMGVAL, "scan", folder, "-q", "-j", str(jobs),
                                  "-s", os.path.join(out, "results.csv"), *options],
                                 env=env, stdout=subprocess.DEVNULL, stderr=err)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode not in (0, 3) or not peaks:
            err.seek(max(0, err.seek(0, os.SEEK_END) - 3000))
            sys.exit(f"scan failed ({proc.returncode}):\n{err.read().decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return peaks.own_mb, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 100_000, 1_000_000],
                        help="files per run; the smallest is the baseline")
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--kind", choices=["empty", "jpeg"], default="empty")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    counts = sorted(set(args.counts))
    rows = []
    with tempfile.TemporaryDirectory(prefix="imgval-parent-memory-") as tmp:
        for count in counts:
            folder = os.path.join(tmp, f"n{count}")
            os.mkdir(folder)
            make_corpus(folder, count, args.kind)
        for count in counts:
            cache = os.path.join(tmp, f"cache-{count}.sqlite")
            for mode in args.modes:
                options = ["--no-cache"] if mode == "no cache" else ["--cache", cache]
                if mode == "cache, re-run" and not os.path.exists(cache):
                    scan(os.path.join(tmp, f"n{count}"), tmp, options, args.jobs)  # fill it first
                peak, wall, cpu = scan(os.path.join(tmp, f"n{count}"), tmp, options, args.jobs)
                rows.append((count, mode, peak, wall, cpu))
                print(f"# {count} files, {mode}: {peak:.1f} MB, {wall:.1f} s, load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
    base = {mode: peak for count, mode, peak, _, _ in rows if count == counts[0]}
    modes = "" if args.modes == MODES else " --modes " + " ".join(f'"{mode}"' for mode in args.modes)
    print(f"Command: `python benchmarks/parent_memory.py --counts {' '.join(map(str, counts))} "
          f"--kind {args.kind} --jobs {args.jobs}{modes}`; load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| files | mode | parent peak RSS (MB) | bytes per file above the baseline | wall s | CPU s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count, mode, peak, wall, cpu in rows:
        extra = "baseline" if count == counts[0] else f"{(peak - base[mode]) * 2**20 / (count - counts[0]):.0f}"
        print(f"| {count:,} | {mode} | {peak:.1f} | {extra} | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
