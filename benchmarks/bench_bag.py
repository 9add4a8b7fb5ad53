#!/usr/bin/env python3
"""BagIt validation side by side: bagit-python's `bagit.py --validate` against imgval's bag
check on the same bag, each in its own process, with its wall time and peak RSS.

    python benchmarks/bench_bag.py --files 100000 --rounds 3 [--bag /tmp/bag100k] [--with-scan]

imgval runs the check in two ways:
  * "given the scan's checksums": what `imgval scan BAG` adds to a scan, which has already
    hashed every file in its one read: read the manifests, compare each file's checksum and
    size as its record arrives, walk data/ for files the scan did not see, Payload-Oxum. The
    checksums are computed beforehand (untimed) and loaded by the process, as a scan holds
    them in its records;
  * "reading and hashing every file itself" (one process): the same check with the reading,
    as if no scan had run.
--with-scan also times whole scans, `imgval scan BAG` and `imgval scan BAG/data` (no check):
only for small bags, as the scan decodes every image (a 24x32 PNG is scored at ~2 MP).

Peak RSS is the command's largest process's own (benchmarks/peak.py): not its ru_maxrss as
this script would read it, which Linux raises to this script's high-water mark (~115 MiB
after making a 100,000-file bag).

The bag (small PNG scans in folders of 1,000, made with bagit.make_bag) is generated outside
the repository, once, and reused when --bag names an existing bag. Rounds alternate the
order of the commands so machine load hits them alike.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from peak import run_python  # benchmarks/peak.py

ROOT = Path(__file__).resolve().parent.parent


def make_bag(folder: Path, files: int) -> None:
    import bagit

    rng = np.random.default_rng(0)
    for i in range(files):
        box = folder / f"box{i // 1000:03d}"
        box.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(box / f"scan_{i:06d}.png"), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    bagit.make_bag(str(folder), checksums=["sha256"], processes=os.cpu_count() or 1)


def child(mode: str, bag: str, digests_path: str) -> int:
    """The imgval side, in its own process so its peak RSS is its own."""
    sys.path.insert(0, str(ROOT))
    from imgval.batch import bags

    check = bags.BagCheck(bag)
    known = {}
    if mode == "given":
        with open(digests_path, encoding="utf-8") as handle:
            known = dict(line.rstrip("\n").split(" ", 1)[::-1] for line in handle)
    for relative, full in bags.payload_files(bag):
        digest = known[relative] if mode == "given" else bags.file_digests(full, check.algorithms)["sha256"]
        check.file_issue(full, {"sha256": digest}, os.stat(full).st_size)
    problems = check.finish()
    return 1 if problems else 0


def scan_digests(bag: Path, path: str) -> None:
    """What a scan would hold: each payload file's sha256 (computed here, untimed)."""
    sys.path.insert(0, str(ROOT))
    from imgval.batch import bags

    with open(path, "w", encoding="utf-8") as handle:
        for relative, full in bags.payload_files(str(bag)):
            handle.write(f"{bags.file_digests(full, ('sha256',))['sha256']} {relative}\n")


def timed(command: list[str], cwd: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one Python command (its arguments to
    python), run alone. The peak is its largest process's own: the command's or a worker's
    (bagit's pool), never this script's (benchmarks/peak.py)."""
    start = time.perf_counter()
    completed, peaks = run_python(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start, max(peaks or (0, 0)), completed.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bag", type=Path, default=None, help="reuse (or make) the bag here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--with-scan", action="store_true", help="also time whole scans (small bags only)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "BAG", "DIGESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    work = tempfile.mkdtemp(prefix="imgval-bench-bag-")
    bag = args.bag or Path(work) / "bag"
    if not (bag / "bagit.txt").exists():
        print(f"making a {args.files:,}-file bag in {bag} ...", file=sys.stderr)
        make_bag(bag, args.files)
    report = os.path.join(work, "results.csv")
    digests = os.path.join(work, "digests.txt")
    scan_digests(bag, digests)
    me = [__file__, "--child"]
    commands = {
        f"bagit.py --validate --processes {args.jobs}": ["-m", "bagit", "--validate", "--processes",
                                                         str(args.jobs), str(bag)],
        "bagit.py --validate (1 process)": ["-m", "bagit", "--validate", str(bag)],
        "imgval check, given the scan's checksums": me + ["given", str(bag), digests],
        "imgval check, reading and hashing every file itself (1 process)": me + ["hash", str(bag), digests],
    }
    if args.with_scan:
        commands["imgval scan BAG (with the bag check)"] = [
            "-m", "imgval.cli", "scan", "-i", str(bag), "--no-cache", "-q", "-j", str(args.jobs),
            "-s", report]
        commands["imgval scan BAG/data (no bag check)"] = [
            "-m", "imgval.cli", "scan", "-i", str(bag / "data"), "--no-cache", "-q",
            "-j", str(args.jobs), "-s", report]
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
    for round_number in range(args.rounds):
        names = list(commands) if round_number % 2 == 0 else list(reversed(commands))
        for name in names:
            results[name].append(timed(commands[name], work))
            seconds, peak, code = results[name][-1]
            print(f"round {round_number + 1}: {name}: {seconds:.1f} s, peak {peak:.0f} MiB, exit {code}",
                  file=sys.stderr)
    files = sum(1 for _ in open(digests, encoding="utf-8"))
    print(f"| command ({files:,} payload files) | seconds per round | median | peak RSS (MiB) | exit |")
    print("| --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        seconds = sorted(s for s, _, _ in runs)
        print(f"| {name} | {' / '.join(f'{s:.2f}' for s, _, _ in runs)} | {seconds[len(seconds) // 2]:.2f} | "
              f"{max(p for _, p, _ in runs):.0f} | {runs[0][2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
