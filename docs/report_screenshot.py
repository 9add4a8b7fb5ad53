"""Regenerate docs/report.png: scan a small generated batch with --html and screenshot the page
in headless Chromium.  Run from the repository root:  python docs/report_screenshot.py
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
from PIL import Image

from imgval.synthetic import blurred, natural_image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "report.png"
WIDTH, HEIGHT = 1100, 1500


def make_batch(folder: Path) -> None:
    folder.mkdir(parents=True)
    for seed in range(1, 7):
        image = natural_image(1500, 1000, seed=seed)
        if seed in (2, 5):
            image = blurred(image, 4 + seed)
        cv2.imwrite(str(folder / f"scan_{seed:03d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    master = natural_image(1500, 1000, seed=1)
    cv2.imwrite(str(folder / "scan_001_master.tif"), master)
    (folder / "access").mkdir()
    cv2.imwrite(str(folder / "access" / "scan_001_web.jpg"),
                cv2.resize(master, (750, 500), interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 70])
    shutil.copy(folder / "scan_004.jpg", folder / "scan_004 (copy).jpg")
    # A camera clock in the future: the built-in EXIF profile flags it.
    picture = Image.fromarray(cv2.cvtColor(natural_image(1500, 1000, seed=7), cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2099:01:01 10:00:00"
    picture.save(folder / "scan_007.jpg", quality=90, exif=exif.tobytes())
    data = (folder / "scan_003.jpg").read_bytes()
    (folder / "scan_008.jpg").write_bytes(data[: len(data) // 3])  # an interrupted copy


def main() -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("needs Debian's chromium package: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_batch(work / "batch")
        subprocess.run([sys.executable, "-m", "imgval.cli", "scan", "-i", "batch", "--html", "report.html",
                        "--no-cache", "-q"], cwd=work, check=True)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={work / 'profile'}", "--hide-scrollbars",
                        f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={work / 'shot.png'}",
                        (work / "report.html").as_uri()], check=True, capture_output=True)
        shot = Image.open(work / "shot.png").convert("RGB")
        # 256 colours keep the page crisp and the PNG small enough for the repository.
        small = shot.quantize(256, method=Image.Quantize.MEDIANCUT)
        buffer = io.BytesIO()
        small.save(buffer, "PNG", optimize=True)
        OUT.write_bytes(buffer.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
