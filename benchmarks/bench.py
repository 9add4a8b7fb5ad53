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
(the "idle" row). CPU time (user + system, the process and its workers) is given too: on a
machine that other work shares, CPU ms/image and its ratios are steadier than wall-clock rates.
Prints a markdown table; --markdown FILE writes it there too.
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from imgval.analysis.analyze import Settings  # noqa: E402
from imgval.batch.engine import make_engine  # noqa: E402
from imgval.report.writers import Report  # noqa: E402

REFERENCE = HERE.parent.parent / "shared" / "reference" / "clirdlf_pipeline.py"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus" / "mixed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["default", "fast", "exact"],
                        choices=["default", "fast", "exact"])
    parser.add_argument("--repeat", type=int, default=1,
                        help="list every file this many times: a longer batch, so a run's fixed costs "
                             "(forking the pool, the report's finishing pass) weigh as in a real one")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()

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
                    seconds, peak, cpu = trial(commands[name], paths, jobs)
                    times.setdefault((set_name, jobs, name), []).append(seconds)
                    cpus.setdefault((set_name, jobs, name), []).append(cpu)
                    peaks[(set_name, jobs, name)] = max(peaks.get((set_name, jobs, name), 0), peak)
                    print(f"round {round_ + 1}: {set_name:12s} j={jobs} {name:16s} {seconds:6.2f} s "
                          f"{cpu:6.2f} s CPU", file=sys.stderr)

    lines = [f"Machine: {machine()}", "",
             f"Command: `python benchmarks/bench.py --rounds {args.rounds} --repeat {args.repeat}` "
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
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")


def _megapixels(path: str) -> float:
    from PIL import Image
    with Image.open(path) as image:
        return image.width * image.height / 1e6


if __name__ == "__main__":
    main()
