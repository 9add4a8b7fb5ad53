#!/usr/bin/env python3
"""The hostile corpus: generate it, scan it, and measure the memory each file costs.

    prlimit --as=6000000000 python benchmarks/hostile_corpus.py generate   # benchmarks/hostile/
    prlimit --as=6000000000 python benchmarks/hostile_corpus.py scan       # imgval scan over it
    prlimit --as=6000000000 python benchmarks/hostile_corpus.py per-file   # each file alone

The corpus (git-ignored, ~60 MB): a decompression bomb of every supported format and the
containers imgval does not read (imgval.hostile.bombs), valid files of odd bit depths and
layouts (imgval.hostile.odd_layouts), and damaged copies of valid seeds: truncations, bit
flips, fuzzed headers (imgval.hostile.damaged). Every file is renamed to .jpg, as an attacker
would. ALWAYS run it under an address-space limit so a bomb that gets through cannot take the
machine down.

`scan` runs `imgval scan --html` as a user would and reports, from /proc, the peak resident
size (VmHWM) of the parent and of every worker process it started, and whether every file got
its row. `per-file` analyses each file in a fresh process (as a worker would) and makes its thumbnail
in another (as the HTML pass would), and lists the peak resident size (VmHWM) of each: its own,
not the ru_maxrss that Linux carries over from this script (benchmarks/peak.py).
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from imgval import hostile  # noqa: E402
from peak import run_python  # noqa: E402  (benchmarks/peak.py)

DEFAULT_DIR = HERE / "hostile"
DAMAGED_PER_SEED = 30


def generate(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0

    def write(name: str, data: bytes) -> None:
        nonlocal count
        (folder / (name.replace(".", "_") + ".jpg")).write_bytes(data)
        count += 1
    for name, data in hostile.bombs():
        write("bomb_" + name, data)
    for name, data in hostile.odd_layouts():
        write("odd_" + name, data)
    for name, data in hostile.valid_seeds():
        write(name, data)
        for damaged_name, damaged_data in hostile.damaged(name, data, DAMAGED_PER_SEED):
            write(damaged_name, damaged_data)
    return count


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _peak_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def scan(folder: Path, jobs: int, extra: list[str]) -> int:
    out = folder.parent / "hostile-results.csv"
    command = [sys.executable, str(ROOT / "process.py"), "-i", str(folder), "-s", str(out), "--no-cache",
               "-j", str(jobs), "--html", str(folder.parent / "hostile-report.html"), *extra]
    print("$", " ".join(command))
    start = time.monotonic()
    # output to files, not pipes: a pipe nobody reads while polling fills up and blocks the scan
    logs = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    run = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=logs[0], stderr=logs[1],
                           text=True)
    peaks: dict[int, int] = {}
    while run.poll() is None:  # VmHWM is a high-water mark: sampling only misses a worker's last moment
        for pid in [run.pid, *_children(run.pid)]:
            peak = _peak_kb(pid)
            if peak:
                peaks[pid] = max(peaks.get(pid, 0), peak)
        time.sleep(0.05)
    run.wait()
    stdout, stderr = (log.seek(0) or log.read() for log in logs)
    seconds = time.monotonic() - start
    # largest of all, and at least this script's own (~30 MB): Linux carries it into a child's ru_maxrss
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    files = len(list(folder.iterdir()))
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    errors = sum(1 for row in rows if row["error"])
    print(f"exit code {run.returncode}; {files} files, {len(rows)} rows ({errors} with an error); {seconds:.0f} s")
    print(f"peak RSS: parent {peaks.get(run.pid, 0) / 1024:.0f} MB; workers "
          + ", ".join(f"{kb / 1024:.0f} MB" for pid, kb in sorted(peaks.items()) if pid != run.pid))
    print(f"largest peak RSS of any process (getrusage): {children_peak / 1024:.0f} MB")
    print("Traceback in stderr:", "Traceback" in stderr)
    print(stdout.strip().splitlines()[-1] if stdout.strip() else stderr[-2000:])
    return 0 if run.returncode == 0 and len(rows) == files and "Traceback" not in stderr else 1


ONE_FILE = """
import sys
from imgval.batch.workers import keep_freed_memory
from imgval.analysis.analyze import Settings, analyze_path
from imgval.report.thumbnails import file_preview
if sys.argv[3] == "analyse":
    keep_freed_memory()  # as a scan's worker does
    outcome = analyze_path(sys.argv[1], Settings(mode=sys.argv[2])).error[:80] or "scored"
else:
    outcome = "preview" if file_preview(sys.argv[1]) else "no preview"
print(outcome)
"""


def per_file(folder: Path, mode: str, pattern: str) -> int:
    """Each file analysed in a fresh process as a worker would, and previewed in another as the
    HTML pass would: the peak resident size of each."""
    results = []
    for path in sorted(folder.glob(pattern)):
        row = []
        for what in ("analyse", "preview"):
            run, peaks = run_python(["-c", ONE_FILE, str(path), mode, what], capture_output=True, text=True,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900)
            if run.returncode or not peaks:
                row.append((0, f"exit {run.returncode}: {run.stderr.strip()[-150:]}"))
            else:
                row.append((peaks.own_mb, run.stdout.strip()))
        results.append((row[0][0], row[1][0], path.name, row[0][1], row[1][1]))
        print(f"{row[0][0]:6.0f} MB analysed, {row[1][0]:6.0f} MB previewed  {path.name}: "
              f"{row[0][1]}; {row[1][1]}", flush=True)
    print(f"largest analysis: {max(r[0] for r in results):.0f} MB; "
          f"largest preview: {max(r[1] for r in results):.0f} MB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "scan", "per-file"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--mode", default="default", help="per-file: the scoring mode")
    parser.add_argument("--glob", default="*", help="per-file: which files")
    parser.add_argument("scan_options", nargs="*", help="scan: more options for imgval scan (after --)")
    args = parser.parse_args()
    if args.action == "generate":
        print(f"{generate(args.dir)} files in {args.dir}")
        return 0
    if args.action == "scan":
        return scan(args.dir, args.jobs, args.scan_options)
    return per_file(args.dir, args.mode, args.glob)


if __name__ == "__main__":
    sys.exit(main())
