"""What a parent loads before forking its workers is all a worker needs: no worker imports
anything (Pillow's plugins, FIDO's signatures, numpy.ma) to analyse the formats imgval reads."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import io, json, sys
import cv2
from PIL import Image
from imgval.analysis import decode, pronom
from imgval.analysis.analyze import Settings, analyze_bytes
from imgval.synthetic import natural_image
decode.preload()
pronom.preload()
image = natural_image(64, 48, seed=2)
files = [cv2.imencode(ext, image)[1].tobytes() for ext in (".jpg", ".png", ".tif", ".jp2", ".webp", ".bmp")]
gif = io.BytesIO()
Image.fromarray(image).save(gif, "GIF")
files.append(gif.getvalue())
settings = Settings()  # the parent builds the settings (and reads the default profile) before the fork
before = set(sys.modules)
formats = [decode.probe(data, 10**8)[0].format for data in files]
found = [pronom.identify(data).puid for data in files]
errors = [analyze_bytes("x", data, settings).error for data in files]
print(json.dumps({"formats": formats, "puids": found, "errors": errors, "new": sorted(set(sys.modules) - before)}))
"""


def test_preloaded_plugins_and_signatures_are_all_a_worker_needs():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120,
                            check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["formats"] == ["JPEG", "PNG", "TIFF", "JPEG2000", "WEBP", "BMP", "GIF"]
    assert all(seen["puids"]) and not any(seen["errors"])
    assert not [m for m in seen["new"] if not m.startswith("encodings.")], seen["new"]  # a text codec at most
