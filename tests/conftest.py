"""Shared fixtures: images are generated here, never downloaded or committed."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgval.synthetic import blurred, natural_image

ROOT = Path(__file__).resolve().parent.parent


def write_image(path: Path, image: np.ndarray, params: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix, image, params or [])
    assert ok, path
    path.write_bytes(encoded.tobytes())
    return path


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path_factory, monkeypatch) -> Path:
    """Scans under test keep their result cache in a fresh folder, never in the user's cache."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture(scope="session")
def sharp_image() -> np.ndarray:
    return natural_image(1800, 1200, seed=1)


@pytest.fixture(scope="session")
def blurry_image(sharp_image) -> np.ndarray:
    return blurred(sharp_image, 3)


@pytest.fixture(scope="session")
def batch_template(tmp_path_factory, sharp_image, blurry_image) -> Path:
    """A small batch: a sharp and a blurry JPEG, a PNG and a TIFF in a subfolder (made once)."""
    folder = tmp_path_factory.mktemp("template") / "batch"
    write_image(folder / "sharp.jpg", sharp_image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    write_image(folder / "blurry.jpg", blurry_image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    write_image(folder / "sub" / "lossless.png", natural_image(1700, 1200, seed=2), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    write_image(folder / "sub" / "master.tif", natural_image(1200, 1700, seed=3))
    return folder


@pytest.fixture
def small_batch(tmp_path) -> Path:
    """Four small images (a sharp and a blurry JPEG, a PNG and a TIFF in sub/), for tests of the
    command line around the analysis, where image size only costs time."""
    folder = tmp_path / "small"
    sharp = natural_image(480, 360, seed=1)
    write_image(folder / "sharp.jpg", sharp)
    write_image(folder / "blurry.jpg", blurred(sharp, 3))
    write_image(folder / "sub" / "lossless.png", natural_image(400, 300, seed=2))
    write_image(folder / "sub" / "master.tif", natural_image(300, 400, seed=3))
    return folder


@pytest.fixture
def image_dir(tmp_path, batch_template) -> Path:
    """A fresh copy of the small batch for one test to use (and change)."""
    return Path(shutil.copytree(batch_template, tmp_path / "batch"))


def run_script(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    """Run one of the top-level scripts as a user would, without a terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def dask_spec():
    """One real Dask LocalCluster (2 worker processes) for the session's engine tests, as a
    ClusterSpec pointing at its scheduler. Workers that die are restarted by their nannies."""
    import dask
    import distributed

    from imgval.batch.cluster import ClusterSpec
    from imgval.batch.dask_engine import cluster_config

    with dask.config.set(cluster_config("local")):  # as the clusters imgval starts itself, for their life
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
        _DASK_CLUSTERS[cluster.scheduler_address] = cluster
        yield ClusterSpec(scheduler=cluster.scheduler_address)
        del _DASK_CLUSTERS[cluster.scheduler_address]
        cluster.close()


_DASK_CLUSTERS = {}  # scheduler address -> the session's LocalCluster


def dask_client_at_full_strength(spec):
    """A client of the session's cluster once both its workers are up: a worker killed by an
    earlier test is back within seconds (its nanny restarts it). One that did not return was a
    nanny the cluster had closed (dask_engine.LOCAL_LOST_WORKER_TIMEOUT); should one still be
    missing after a minute, its workers are started afresh rather than letting the next test
    fail on the harness."""
    import distributed

    client = distributed.Client(spec.scheduler)
    try:
        client.wait_for_workers(2, timeout=60)
    except (TimeoutError, distributed.TimeoutError):
        cluster = _DASK_CLUSTERS[spec.scheduler]
        cluster.scale(0)  # SpecCluster.scale waits until its workers match the spec
        cluster.scale(2)
        client.wait_for_workers(2, timeout=120)
    return client
