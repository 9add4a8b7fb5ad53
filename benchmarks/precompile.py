"""Byte-compiling checkouts before timing them, as an installed package is: shared by the
whole-process benchmarks (bench.py --whole, startup.py)."""
import subprocess
import sys
from pathlib import Path


def byte_compiled(checkouts: list[Path]) -> None:
    """Every checkout's modules are compiled to bytecode beside them (their __pycache__, which
    git ignores): an installed imgval has its bytecode, but with PYTHONDONTWRITEBYTECODE set (as in
    some sandboxes and containers) a checkout's modules would be compiled from source in every
    run (~80 ms of CPU each, that no user pays twice). Not into a PYTHONPYCACHEPREFIX: Python
    then looks for every module's bytecode there, so numpy, OpenCV and the rest were compiled
    from source in every timed run (~0.5 s of CPU each, the floor's and the reference's too)."""
    for checkout in checkouts:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "imgval")], check=True,
                       stdout=subprocess.DEVNULL)
