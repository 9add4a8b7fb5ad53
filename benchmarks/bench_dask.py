#!/usr/bin/env python3
"""The Dask engine against the local pool, as a user runs them: `python benchmarks/bench_dask.py`.

Whole-process figures (the command a user types, `--no-cache`, each file once), alternating
rounds so the shared machine's drifts hit every command alike; medians of the rounds:

  local            process.py -j W                        (the local process pool)
  dask scheduler   process.py --scheduler ADDR            (a LocalCluster of W worker processes,
                                                           started once before the rounds)
  dask local:W     process.py --cluster local:W           (the cluster started by the run itself)

on two generated sets: `photos` (large JPEGs, the work is decoding) and `thumbs` (64x64 JPEGs,
the work is per-file overhead), so per-file engine overhead can be read off the thumbs rows.
Then in-process throughput (the engine alone, its cluster already running, the photos listed
--repeat times so fixed costs weigh as in a long run), and scaling: 1, 2 and 4 workers of a LocalCluster on this machine (more workers than cores
shows the cost of oversubscription, not a speed-up). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import logging
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


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def scan(folder: Path, out: Path, *engine: str) -> list[str]:
    return [sys.executable, str(ROOT / "process.py"), "-i", str(folder), "--no-cache", "-q",
            "-s", str(out / "r.csv"), *engine]


def compare(commands: dict[str, list[str]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # a different one starts each round
            times[name].append(timed(commands[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--photos", type=int, default=32, help="large JPEGs in the photos set")
    parser.add_argument("--photo-mp", type=float, default=12.0)
    parser.add_argument("--thumbs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=4, help="in-process: times the photos are listed")
    args = parser.parse_args()

    import dask
    import distributed

    from imgval.analysis.analyze import Settings
    from imgval.batch.dask_engine import CLUSTER_CONFIG, ClusterSpec
    from imgval.batch.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = make_sets(tmp, args.photos, args.photo_mp, args.thumbs)
        rows = []
        with dask.config.set(CLUSTER_CONFIG):
            cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
        try:
            for name, folder in sets.items():
                files = len(list(folder.iterdir()))
                medians = compare({
                    "local": scan(folder, tmp, "-j", str(args.workers)),
                    "dask scheduler": scan(folder, tmp, "--scheduler", cluster.scheduler_address),
                    f"dask local:{args.workers}": scan(folder, tmp, "--cluster", f"local:{args.workers}"),
                }, args.rounds)
                local = medians["local"]
                for engine, seconds in medians.items():
                    rows.append((name, files, engine, seconds, local / seconds, (seconds - local) / files * 1000))
        finally:
            cluster.close()
        print(f"Whole process, {args.workers} workers, median of {args.rounds} alternating rounds "
              f"(photos: {args.photo_mp:g} MP JPEGs)\n")
        print("| set | files | engine | seconds | throughput vs local | extra ms per file |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, files, engine, seconds, ratio, extra in rows:
            print(f"| {name} | {files} | {engine} | {seconds:.2f} | {ratio:.2f}x | {extra:+.2f} |")

        print(f"\nIn-process: engine.run over the photos listed {args.repeat} times, cluster already running\n")
        print("| engine | seconds | files per second | throughput vs local |")
        print("| --- | --- | --- | --- |")
        paths = sorted(str(p) for p in sets["photos"].iterdir()) * args.repeat
        with dask.config.set(CLUSTER_CONFIG):
            cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
        try:
            spec = ClusterSpec(scheduler=cluster.scheduler_address)
            seconds = {"local": [], "dask": []}
            for r in range(args.rounds):
                for name in (("local", "dask") if r % 2 == 0 else ("dask", "local")):
                    engine = make_engine(name, args.workers, spec=spec if name == "dask" else None)
                    start = time.perf_counter()
                    for _ in engine.run(paths, Settings()):
                        pass
                    seconds[name].append(time.perf_counter() - start)
        finally:
            cluster.close()
        local = statistics.median(seconds["local"])
        for name, values in seconds.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.2f} | {len(paths) / median:.1f} | {local / median:.2f}x |")

        print("\nScaling, photos set, `--scheduler` of a LocalCluster of N workers (this machine: "
              f"{__import__('os').cpu_count()} cores)\n")
        print("| workers | seconds | files per second |")
        print("| --- | --- | --- |")
        for workers in (1, 2, 4):
            with dask.config.set(CLUSTER_CONFIG):
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR)
            try:
                seconds = compare({"x": scan(sets["photos"], tmp, "--scheduler", cluster.scheduler_address)},
                                  args.rounds)["x"]
            finally:
                cluster.close()
            print(f"| {workers} | {seconds:.2f} | {args.photos / seconds:.1f} |")


if __name__ == "__main__":
    main()
