"""Re-runs over remote storage (issue 5): an unchanged object in S3 is reused from the cache
without being downloaded again; a replaced one is analysed again. Real S3 API (moto server)."""
from __future__ import annotations

import cv2

from imgval.storage.s3 import make_client
from imgval.synthetic import natural_image
from tests.emulators.fixtures import *  # noqa: F401,F403  (fixtures)

from .test_rerun import counts, run_scan


def put_image(bucket: str, key: str, seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    ok, data = cv2.imencode(".jpg", natural_image(*size, seed=seed))
    make_client().put_object(Bucket=bucket, Key=key, Body=data.tobytes())
    return data.tobytes()


def test_unchanged_remote_files_are_reused_and_replaced_ones_analysed(s3_bucket, tmp_path):
    for seed in range(3):
        put_image(s3_bucket, f"batch/img{seed}.jpg", seed)
    url, out = f"s3://{s3_bucket}/batch", str(tmp_path / "r.csv")
    assert counts(run_scan("-i", url, "-s", out).stdout) == (3, 0)
    first = (tmp_path / "r.csv").read_text()
    assert counts(run_scan("-i", url, "-s", out).stdout) == (0, 3)
    assert (tmp_path / "r.csv").read_text() == first

    put_image(s3_bucket, "batch/img1.jpg", 99, (120, 80))  # replaced: new size and time
    make_client().delete_object(Bucket=s3_bucket, Key="batch/img2.jpg")
    result = run_scan("-i", url, "-s", out)
    assert counts(result.stdout) == (1, 1)
    assert "img2.jpg" not in (tmp_path / "r.csv").read_text()
