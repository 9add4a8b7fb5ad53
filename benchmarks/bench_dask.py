#!/usr/bin/env python3
"""The Dask engine against the local pool, as a user runs them: `python benchmarks/bench_dask.py`.

Whole-process figures (the command a user types, `--no-cache`, each file once), alternating
rounds so the shared machine's drifts hit every command alike; medians of the rounds:

  local            process.py -j W                        (the local process pool)
  dask scheduler   process.py --scheduler ADDR            (a LocalCluster of W worker processes,
                                                           started once before the rounds)
  dask local:W     process.py --cluster local:W           (the cluster started by the run itself)

on two generated sets: `photos` (large JPEGs, the work is decoding) and `thumbs` (64x64 JPEGs,
~12 ms each, scored at ~2 MP), so per-file and per-task engine overhead can be read off the
thumbs rows. Then in-process throughput (the engine alone, its cluster already running; the
photos listed --repeat times so fixed costs weigh as in a long run), and scaling: 1, 2 and 4
workers of a LocalCluster on this machine (more workers than cores shows the cost of
oversubscription, not a speed-up). Prints markdown tables.

CPU seconds are those of every process doing the engine's work (the client, its pool workers or
the cluster's workers, and the scheduler): on a machine shared with other work, wall time
drifts with the load and CPU time much less, so both are given.
"""
from __future__ import annotations

import argparse
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from imgval.synthetic import natural_image  # noqa: E402


def make_sets(folder: Path, photos: int, photo_mp: float, thumbs: int) -> dict[str, Path]:
    width = int((photo_mp * 1e6 * 1.5) ** 0.5)
    height = int(width / 1.5)
    sets = {"photos": folder / "photos", "thumbs": folder / "thumbs"}
    for name, count, size in (("photos", photos, (width, height)), ("thumbs", thumbs, (64, 64))):
        sets[name].mkdir(parents=True)
        base = natural_image(*size, seed=1)
        for i in range(count):
            image = base if name == "photos" else natural_image(*size, seed=i)
            # photos: one picture, shifted, so generating the set stays quick; every file differs
            image = cv2.flip(image, i % 2) if name == "photos" else image
            cv2.imwrite(str(sets[name] / f"{name}{i:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90 - i % 7])
    return sets


def cpu_seconds(cluster: bool) -> float:
    """CPU time of this process's finished children (a scan and its pool or cluster workers) and,
    with `cluster`, of this process (a LocalCluster's scheduler runs in it) and of its running
    children (the LocalCluster's workers); without, an idle cluster's ticks are not counted."""
    import psutil

    total = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)[0 if cluster else 1:])
    for child in psutil.Process().children(recursive=True) if cluster else ():
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # ended meanwhile: counted in RUSAGE_CHILDREN once reaped
            pass
    return total


def timed(command: list[str], cluster: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of one command (and, with `cluster`, of the running cluster it uses)."""
    cpu, start = cpu_seconds(cluster), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start, cpu_seconds(cluster) - cpu


def scan(folder: Path, out: Path, *engine: str) -> list[str]:
    return [sys.executable, str(ROOT / "process.py"), "-i", str(folder), "--no-cache", "-q",
            "-s", str(out / "r.csv"), *engine]


def compare(commands: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command (a list: run as a process; a function: called,
    returning its wall and CPU seconds)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    names = list(commands)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # a different one starts each round
            command = commands[name]
            times[name].append(timed(command) if isinstance(command, list) else command())
    return {name: (statistics.median(t[0] for t in values), statistics.median(t[1] for t in values))
            for name, values in times.items()}


def in_process(engine, paths: list[str], settings, cluster: bool) -> tuple[float, float]:
    cpu, start = cpu_seconds(cluster), time.perf_counter()
    for _ in engine.run(paths, settings):
        pass
    return time.perf_counter() - start, cpu_seconds(cluster) - cpu


def start_cluster(workers: int):
    import dask
    import distributed

    from imgval.batch.dask_engine import cluster_config
    with dask.config.set(cluster_config("local")):  # as imgval starts its own clusters
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--photos", type=int, default=32, help="large JPEGs in the photos set")
    parser.add_argument("--photo-mp", type=float, default=12.0)
    parser.add_argument("--thumbs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=4, help="in-process: times the photos are listed")
    args = parser.parse_args()

    from imgval.analysis.analyze import Settings
    from imgval.batch.cluster import ClusterSpec
    from imgval.batch.engine import make_engine

    table = "| {} | {} | {} | {:.2f} | {:.2f} | {:.2f}x | {:.2f}x |"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = make_sets(tmp, args.photos, args.photo_mp, args.thumbs)
        rows = []
        cluster = start_cluster(args.workers)
        try:
            for name, folder in sets.items():
                files = len(list(folder.iterdir()))
                medians = compare({
                    "local": scan(folder, tmp, "-j", str(args.workers)),
                    "dask scheduler": lambda folder=folder: timed(
                        scan(folder, tmp, "--scheduler", cluster.scheduler_address), cluster=True),
                    f"dask local:{args.workers}": scan(folder, tmp, "--cluster", f"local:{args.workers}"),
                }, args.rounds)
                for engine, (seconds, cpu) in medians.items():
                    rows.append((name, files, engine, seconds, cpu, *ratios(medians, engine)))
        finally:
            cluster.close()
        print(f"Whole process, {args.workers} workers, median of {args.rounds} alternating rounds "
              f"(photos: {args.photo_mp:g} MP JPEGs)\n")
        print("| set | files | engine | seconds | CPU seconds | throughput vs local | CPU: local / engine |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            print(table.format(*row))

        print(f"\nIn-process: engine.run with its cluster already running (photos listed {args.repeat} times)\n")
        print("| set | files | engine | seconds | CPU seconds | throughput vs local | CPU: local / engine |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        cluster = start_cluster(args.workers)
        try:
            spec = ClusterSpec(scheduler=cluster.scheduler_address)
            settings = Settings()
            for name, folder in sets.items():
                paths = sorted(str(p) for p in folder.iterdir()) * (args.repeat if name == "photos" else 1)
                engines = {"local": make_engine("local", args.workers),
                           "dask": make_engine("dask", args.workers, spec=spec)}
                in_process(engines["dask"], paths[:4], settings, True)  # the workers' first imports, once
                medians = compare({engine: (lambda e=e, c=engine == "dask": in_process(e, paths, settings, c))
                                   for engine, e in engines.items()}, args.rounds)
                for engine, (seconds, cpu) in medians.items():
                    print(table.format(name, len(paths), engine, seconds, cpu, *ratios(medians, engine)))
        finally:
            cluster.close()

        print("\nScaling, photos set, `--scheduler` of a LocalCluster of N workers (this machine: "
              f"{__import__('os').cpu_count()} cores)\n")
        print("| workers | seconds | CPU seconds | files per second |")
        print("| --- | --- | --- | --- |")
        for workers in (1, 2, 4):
            cluster = start_cluster(workers)
            try:
                command = scan(sets["photos"], tmp, "--scheduler", cluster.scheduler_address)
                seconds, cpu = compare({"x": lambda: timed(command, cluster=True)}, args.rounds)["x"]
            finally:
                cluster.close()
            print(f"| {workers} | {seconds:.2f} | {cpu:.2f} | {args.photos / seconds:.1f} |")


def ratios(medians: dict[str, tuple[float, float]], engine: str) -> tuple[float, float]:
    """Throughput (wall) and CPU efficiency of `engine` against the local pool's."""
    (local, local_cpu), (seconds, cpu) = medians["local"], medians[engine]
    return local / seconds, local_cpu / cpu


if __name__ == "__main__":
    main()
