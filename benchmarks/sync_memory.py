"""Peak memory of `imgval sync` copying one large file, to show it streams.

    python benchmarks/sync_memory.py --size-mb 2048

Copies a generated file of that size local -> S3 (moto's server, in its own process so its
copy of the data is not counted) and local -> local, each in a fresh `imgval sync` process,
and prints the peak resident memory of that process (its own VmHWM: benchmarks/peak.py; sync
copies in threads, so that is all of it). Expect roughly the interpreter and SDKs plus one or
two upload parts (--chunk-size, 16 MiB default), independent of the file's size.

Not ru_maxrss: Linux carries this script's high-water mark (~80 MB: a 64 MB block of the test
file, then boto3) into a child's, which set the floor of the figures before (79 MB for the
local copy and the skip, that use less).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

from peak import IMGVAL, run_python  # benchmarks/peak.py

MOTO = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
time.sleep(10**6)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_file(path: str, size: int) -> None:
    block = 64 * 1024 * 1024
    with open(path, "wb") as out:
        written = 0
        while written < size:
            n = min(block, size - written)
            out.write(os.urandom(n))
            written += n


def run_sync(args: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one `imgval sync` run in a child process."""
    started = time.monotonic()
    proc, peaks = run_python(["-c", IMGVAL, "sync", *args], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not peaks:
        sys.exit(f"sync failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return peaks.own_mb, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--chunk-size", type=int, default=16, help="MiB")
    opts = parser.parse_args()
    size = opts.size_mb * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="imgval-sync-bench-") as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        print(f"generating {opts.size_mb} MiB ...", flush=True)
        make_file(os.path.join(src, "master.tif"), size)

        port = free_port()
        moto = subprocess.Popen([sys.executable, "-c", MOTO, str(port)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            moto.stdout.readline()
            env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "x",
                   "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                   "IMGVAL_HASH_CACHE": os.path.join(tmp, "pairs.sqlite")}
            import boto3

            boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="x",
                         aws_secret_access_key="x", region_name="us-east-1").create_bucket(Bucket="bench")
            common = ["--manifest", os.path.join(tmp, "m.csv"), "--chunk-size", str(opts.chunk_size), "-q"]
            for label, dest in (("local -> s3", "s3://bench/batch"), ("local -> local", os.path.join(tmp, "dst"))):
                peak, seconds = run_sync([src, dest, *common], env)
                rate = opts.size_mb / seconds
                print(f"{label:15} {opts.size_mb} MiB: peak RSS {peak:.0f} MB, {seconds:.1f} s ({rate:.0f} MiB/s)")
            peak, seconds = run_sync([src, "s3://bench/batch", *common], env)
            print(f"{'again (skip)':15} {opts.size_mb} MiB: peak RSS {peak:.0f} MB, {seconds:.1f} s")
        finally:
            moto.kill()


if __name__ == "__main__":
    main()
