"""Commands import what they need when they need it (issue 12, point 10): `imgval --help`, each
command's --help and option errors load none of the heavy libraries. (The time it saves is
measured in benchmarks/startup.py, never asserted here.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("cv2", "numpy", "scipy", "PIL", "tqdm", "boto3", "botocore", "dropbox", "box_sdk_gen", "imagehash",
         "exifread", "simplejpeg", "tifffile", "imagecodecs", "pillow_heif")

PROBE = """
import json, sys
from imgval.cli.main import main
try:
    main(sys.argv[1:], prog_name="imgval")
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True,
                            timeout=120)
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_help_and_option_errors_load_no_heavy_library():
    for args in (["--help"], ["scan", "--help"], ["sync", "--help"], ["run", "--help"], ["dupes", "--help"],
                 ["report", "--help"], ["scan", "--mode", "nope", "x"], ["scan", "--fail-on", "nope", "x"],
                 ["scan", "no-such-folder"]):
        heavy = loaded_by(*args) & set(HEAVY)
        assert not heavy, (args, heavy)


def test_a_scan_loads_the_analysis_but_no_cloud_sdk(tmp_path):
    """A local scan off a terminal: no cloud SDK, no progress bar library, and no SciPy (the
    pHash's DCT is imgval's own; grouping needs SciPy only when there are near duplicates), nor
    FIDO's own module (its signatures are read from the cache: analysis/signatures.py), which
    imports `requests` for its updater."""
    loaded = loaded_by("scan", str(ROOT / "samples" / "sharp.jpg"), "--no-cache", "-q", "-s",
                       str(tmp_path / "r.csv"))
    assert {"cv2", "numpy"} <= loaded
    assert not loaded & {"boto3", "dropbox", "box_sdk_gen", "scipy", "tqdm", "pandas", "requests", "fido"}
