#!/usr/bin/env python3
"""Throughput benchmark: `python benchmarks/bench.py` (after benchmarks/make_corpus.py).

Compares, on the JPEGs of benchmarks/corpus/mixed and on the whole mixed corpus, with 1 and 2
workers:

  floor      merely decoding each file to grayscale (cv2.imread IMREAD_GRAYSCALE) in a
             multiprocessing.Pool, chunksize 1: the least any scorer must do;
  reference  ../shared/reference/clirdlf_pipeline.py's score_image in the same pool (the
             original tool's work), when that file exists;
  imgval-*   imgval's runner with the full per-image step (the file mapped, header probe, EXIF
             and its profile check, SHA-256, decode, score, pHash) in each mode, records
             written to a CSV.

The commands run alternately (round after round, starting with a different one each round) so
drifts in machine speed hit all of them alike; the table gives the median of the rounds. Every
run is a fresh child process, so peak RSS (the largest resident set of that process and its
workers, from getrusage) is per command. RSS includes what the bench process had when it forked
(the "idle" row): the pages they share. Not the bench process's high-water mark: fork starts a
child's afresh (only exec carries one over, see benchmarks/peak.py), and none of these runs
execs. CPU time (user + system, the process and its workers) is given too: on a
machine that other work shares, CPU ms/image and its ratios are steadier than wall-clock rates.
Prints a markdown table; --markdown FILE writes it there too.

Every timed run starts from the same memory state: just before it, this process writes and frees
--settle-mb of memory (512 MB; 0 turns it off). On this machine (a virtual machine that hands the
memory a process frees back to its host) a command run just after one that freed a lot of memory
paid for it: imgval's default mode on the mixed set, 2 workers, used 0.4-0.6 s more system CPU
right after the original tool or the floor than right after itself (4.6 against 4.2 s of CPU),
with the same page faults; writing 512 MB first took that away (256 MB did not). The rounds'
rotation keeps each command's predecessor (the command after the reference is always the same
one), so without the settling one command paid it in every round.

`--whole` measures instead what a user pays: the commands a user types, each a fresh process
(imports, listing, the pool, the report all counted), each file once, `--no-cache`:

  imgval default/fast/exact   python process.py -i SET --no-cache -q -j JOBS [--fast|--exact]
  reference                   python ../shared/reference/clirdlf_pipeline.py -i SET -j JOBS
  floor                       python benchmarks/floor.py SET JOBS (OpenCV only: list, decode gray)
  floor, reused buffers       the same with GLIBC_TUNABLES keeping freed blocks up to 256 MiB
                              (what imgval's workers do: batch/workers.py keep_freed_memory)

(`--other CHECKOUT` adds that checkout's process.py in each mode, in the same alternating rounds:
a before/after ratio from one run) on the sets of benchmarks/corpus (make_corpus.py): `jpeg` (whole/jpeg: 48 distinct 22 MP JPEGs),
`mixed` (mixed/: 12 JPEGs, 8 TIFF masters 8/16-bit, 4 PNGs), `thumbs` (whole/thumbs: 64x64
JPEGs), `one` (a single 64x64 JPEG: the fixed cost of a run). CPU is the user + system time of
the process and every process it waited for (its pool's workers), from wait4. The checkouts'
modules are byte-compiled first, in place (as an installed package's are: benchmarks/precompile.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from imgval.analysis.analyze import Settings  # noqa: E402
from imgval.batch.engine import make_engine  # noqa: E402
from imgval.report.writers import Report  # noqa: E402
from precompile import byte_compiled  # noqa: E402  (benchmarks/precompile.py)

# ../shared/reference beside the checkout (a git worktree may sit one level deeper)
REFERENCE = next((folder / "shared" / "reference" / "clirdlf_pipeline.py" for folder in HERE.parents
                  if (folder / "shared" / "reference" / "clirdlf_pipeline.py").exists()),
                 HERE.parent.parent / "shared" / "reference" / "clirdlf_pipeline.py")


def load_reference():
    if not REFERENCE.exists():
        return None
    spec = importlib.util.spec_from_file_location("clirdlf_pipeline", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so the pool can pickle score_image by name
    spec.loader.exec_module(module)
    return module


_reference = load_reference()


def decode_floor(path: str) -> tuple:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return image.shape if image is not None else None


def run_floor(paths: list[str], jobs: int) -> None:
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pool.map(decode_floor, paths, chunksize=1)


def run_reference(paths: list[str], jobs: int) -> None:
    with multiprocessing.get_context("fork").Pool(jobs) as pool:  # as clirdlf_pipeline.main does
        pool.map(_reference.score_image, paths, chunksize=1)


def run_imgval(mode: str):
    def command(paths: list[str], jobs: int) -> None:
        settings = Settings(mode=mode)
        with tempfile.TemporaryDirectory() as folder:
            report = Report(os.path.join(folder, "results.csv"), "csv", paths, settings.threshold)
            for record in make_engine(jobs=jobs).run(paths, settings):
                if record.error:
                    raise RuntimeError(f"{record.filepath}: {record.error}")
                report.write(record)
            report.close(blurry_counts=0)
    return command


def idle(paths: list[str], jobs: int) -> None:
    pass


def _child(command, paths, jobs, conn) -> None:
    start = time.perf_counter()
    command(paths, jobs)
    elapsed = time.perf_counter() - start
    for process in multiprocessing.active_children():  # reaped children count in RUSAGE_CHILDREN
        process.join()
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    conn.send((elapsed, max(own.ru_maxrss, workers.ru_maxrss), cpu))
    conn.close()


def settle(megabytes: int) -> None:
    """Write and free this much memory, so that the next command's first pages are ones the
    machine has just handed out, whatever ran before it (see the docstring)."""
    if megabytes > 0:
        numpy.ones(megabytes << 20, numpy.uint8)  # written, then freed at once


def trial(command, paths: list[str], jobs: int) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, CPU seconds) of one run of command in a fresh child process."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(command, paths, jobs, child))
    process.start()
    child.close()
    try:
        elapsed, peak_kb, cpu = parent.recv()
    except EOFError:
        raise SystemExit(f"benchmark command failed (exit code {process.exitcode})")
    process.join()
    return elapsed, peak_kb / 1024, cpu


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/meminfo") as handle:
            mem = int(handle.readline().split()[1]) / 1024 / 1024
    except OSError:
        mem = float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}, OpenCV {cv2.__version__}")


ROOT = HERE.parent
REUSE_TUNABLES = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=268435456"
WHOLE_SETS = {"jpeg": HERE / "corpus" / "whole" / "jpeg", "mixed": HERE / "corpus" / "mixed",
              "thumbs": HERE / "corpus" / "whole" / "thumbs", "one": HERE / "corpus" / "whole" / "one"}


def whole_commands(folder: str, jobs: int, out: str, modes: list[str],
                   other: Path | None = None) -> dict[str, tuple[list[str], dict]]:
    """name -> (argv, extra environment) of every command timed on one set; with `other` (another
    checkout of imgval), its process.py in each mode too ("other MODE")."""
    python = sys.executable
    commands = {"floor": ([python, str(HERE / "floor.py"), folder, str(jobs)], {}),
                "floor, reused buffers": ([python, str(HERE / "floor.py"), folder, str(jobs)],
                                          {"GLIBC_TUNABLES": REUSE_TUNABLES})}
    if REFERENCE.exists():
        commands["reference"] = ([python, str(REFERENCE), "-i", folder, "-j", str(jobs), "-o", out], {})
    for mode in modes:
        flag = [] if mode == "default" else [f"--{mode}"]
        commands[f"imgval {mode}"] = ([python, str(ROOT / "process.py"), "-i", folder, "--no-cache", "-q",
                                       "-j", str(jobs), "-s", out, *flag], {})
        if other:
            commands[f"other {mode}"] = ([python, str(other / "process.py"), "-i", folder, "--no-cache", "-q",
                                          "-j", str(jobs), "-s", out, *flag], {"PYTHONPATH": str(other)})
    return commands


def run_process(argv: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command: the process and its waited-for children (the
    pool's workers). No peak memory: its ru_maxrss would include this process's (benchmarks/peak.py)."""
    # stderr to a file: a pipe read only after wait4 would hang a command writing over 64 KB of it
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    if process.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv)} failed:\n{errors}")
    return wall, usage.ru_utime + usage.ru_stime


def make_one(folder: Path) -> None:
    """The `one` set: a single 64x64 JPEG (a thumbnail of the thumbs set), for the fixed cost."""
    thumbs = sorted(WHOLE_SETS["thumbs"].glob("*.jpg"))
    if thumbs and not folder.exists():
        folder.mkdir(parents=True)
        (folder / thumbs[0].name).write_bytes(thumbs[0].read_bytes())


def whole(args) -> None:
    make_one(WHOLE_SETS["one"])
    sets = {name: WHOLE_SETS[name] for name in args.sets}
    for name, folder in sets.items():
        files = [p for p in folder.rglob("*") if p.is_file()]
        if not files:
            sys.exit(f"no files in {folder}: run benchmarks/make_corpus.py first")
        for path in files:  # warm the page cache: every command reads from memory
            path.read_bytes()
    samples: dict[tuple, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "results.csv")
        byte_compiled([ROOT] + ([args.other] if args.other else []))
        for round_ in range(args.rounds):
            for set_name, folder in sets.items():
                for jobs in args.jobs:
                    commands = whole_commands(str(folder), jobs, out, args.modes, args.other)
                    names = list(commands)
                    shift = round_ % len(names)
                    for name in names[shift:] + names[:shift]:  # a different one first each round
                        argv, env = commands[name]
                        settle(args.settle_mb)
                        result = run_process(argv, env, scratch)
                        samples.setdefault((set_name, jobs, name), []).append(result)
                        print(f"round {round_ + 1}: {set_name:7s} j={jobs} {name:22s} {result[0]:7.2f} s "
                              f"{result[1]:7.2f} s CPU", file=sys.stderr)
    lines = [f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end", "",
             f"Command: `python benchmarks/bench.py --whole --rounds {args.rounds} --sets {' '.join(args.sets)} "
             f"--jobs {' '.join(map(str, args.jobs))} --modes {' '.join(args.modes)}"
             f"{f' --other {args.other}' if args.other else ''}"
             f"{f' --settle-mb {args.settle_mb}' if args.settle_mb != 512 else ''}` (whole processes, median of {args.rounds} "
             "alternating rounds)", ""]
    for set_name, folder in sets.items():
        files = [p for p in folder.rglob("*") if p.is_file()]
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        lines += [f"**{set_name}** ({folder.relative_to(HERE)}): {len(files)} files, {size_mb:.0f} MB", "",
                  "| command | workers | wall s | CPU s | CPU ms/file | wall vs reference | "
                  "CPU vs reference | wall vs floor | CPU vs floor | wall vs reused floor | CPU vs reused floor |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for jobs in args.jobs:
            def median(name, index):
                runs = samples.get((set_name, jobs, name))
                return statistics.median(r[index] for r in runs) if runs else None

            def ratio(base, value):
                return f"{base / value:.2f}x" if base and value else "n/a"

            names = list(whole_commands(str(folder), jobs, "", args.modes, args.other))
            for name in names:
                wall, cpu = median(name, 0), median(name, 1)
                lines.append(
                    f"| {name} | {jobs} | {wall:.2f} | {cpu:.2f} | {1000 * cpu / len(files):.1f} | "
                    f"{ratio(median('reference', 0), wall)} | {ratio(median('reference', 1), cpu)} | "
                    f"{ratio(median('floor', 0), wall)} | {ratio(median('floor', 1), cpu)} | "
                    f"{ratio(median('floor, reused buffers', 0), wall)} | "
                    f"{ratio(median('floor, reused buffers', 1), cpu)} |")
        lines.append("")
    _emit_table(lines, args.markdown)


def _emit_table(lines: list[str], markdown) -> None:
    """Print the table, and write it to the --markdown file when one is given."""
    table = "\n".join(lines)
    print(table)
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(table + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whole", action="store_true",
                        help="time the whole commands a user types, each a fresh process (see the docstring)")
    parser.add_argument("--sets", nargs="+", default=["jpeg", "mixed", "thumbs", "one"], choices=list(WHOLE_SETS),
                        help="with --whole: the sets to run")
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus" / "mixed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["default", "fast", "exact"],
                        choices=["default", "fast", "exact"])
    parser.add_argument("--repeat", type=int, default=1,
                        help="list every file this many times: a longer batch, so a run's fixed costs "
                             "(forking the pool, the report's finishing pass) weigh as in a real one")
    parser.add_argument("--settle-mb", type=int, default=512,
                        help="memory written and freed before each timed run, so each starts alike (0: none)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--other", type=Path,
                        help="with --whole: another checkout of imgval, timed in the same rounds (\"other MODE\")")
    args = parser.parse_args()
    if args.whole:
        return whole(args)

    files = sorted(str(p) for p in args.corpus.iterdir() if p.is_file())
    if not files:
        sys.exit(f"no files in {args.corpus}: run benchmarks/make_corpus.py first")
    sets = {"20+ MP JPEG": [f for f in files if f.lower().endswith((".jpg", ".jpeg"))] * args.repeat,
            "mixed": files * args.repeat}
    commands = {"floor": run_floor}
    if _reference:
        commands["reference"] = run_reference
    commands.update({f"imgval {mode}": run_imgval(mode) for mode in args.modes})
    for path in files:  # warm the page cache: every command reads from memory
        Path(path).read_bytes()
    idle_mb = trial(idle, [], 1)[1]

    times: dict[tuple, list[float]] = {}
    peaks: dict[tuple, float] = {}
    cpus: dict[tuple, list[float]] = {}
    names = list(commands)
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for set_name, paths in sets.items():
            for jobs in args.jobs:
                for name in order:
                    settle(args.settle_mb)
                    seconds, peak, cpu = trial(commands[name], paths, jobs)
                    times.setdefault((set_name, jobs, name), []).append(seconds)
                    cpus.setdefault((set_name, jobs, name), []).append(cpu)
                    peaks[(set_name, jobs, name)] = max(peaks.get((set_name, jobs, name), 0), peak)
                    print(f"round {round_ + 1}: {set_name:12s} j={jobs} {name:16s} {seconds:6.2f} s "
                          f"{cpu:6.2f} s CPU", file=sys.stderr)

    lines = [f"Machine: {machine()}", "",
             f"Command: `python benchmarks/bench.py --rounds {args.rounds} --repeat {args.repeat}"
             f"{f' --settle-mb {args.settle_mb}' if args.settle_mb != 512 else ''}` "
             f"(median of {args.rounds} alternating "
             f"rounds; idle process RSS {idle_mb:.0f} MB)", ""]
    for set_name, paths in sets.items():
        size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
        megapixels = statistics.mean(_megapixels(p) for p in paths)
        lines += [f"**{set_name}**: {len(paths)} files, {size_mb:.0f} MB, {megapixels:.1f} MP on average", "",
                  "| command | workers | images/s | MB/s | peak RSS (MB) | vs floor | vs reference "
                  "| CPU ms/image | CPU vs floor | CPU vs reference |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for jobs in args.jobs:
            floor = statistics.median(times[(set_name, jobs, "floor")])
            ref = statistics.median(times[(set_name, jobs, "reference")]) if _reference else None
            floor_cpu = statistics.median(cpus[(set_name, jobs, "floor")])
            ref_cpu = statistics.median(cpus[(set_name, jobs, "reference")]) if _reference else None
            for name in names:
                seconds = statistics.median(times[(set_name, jobs, name)])
                cpu = statistics.median(cpus[(set_name, jobs, name)])
                vs_ref = f"{ref / seconds:.2f}x" if ref else "n/a"
                cpu_vs_ref = f"{ref_cpu / cpu:.2f}x" if ref_cpu else "n/a"
                lines.append(f"| {name} | {jobs} | {len(paths) / seconds:.2f} | {size_mb / seconds:.0f} | "
                             f"{peaks[(set_name, jobs, name)]:.0f} | {floor / seconds:.2f}x | {vs_ref} | "
                             f"{1000 * cpu / len(paths):.0f} | {floor_cpu / cpu:.2f}x | {cpu_vs_ref} |")
        lines.append("")
    _emit_table(lines, args.markdown)


def _megapixels(path: str) -> float:
    from PIL import Image
    with Image.open(path) as image:
        return image.width * image.height / 1e6


if __name__ == "__main__":
    main()
