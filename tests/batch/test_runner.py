"""The engine contract (batch/engine.py), run on every engine: input order, every file a row, a
slow file not blocking the rest, and a worker that dies (a decoder segfault) costing one error row
instead of hanging or killing the run."""
import dataclasses
import faulthandler
import os
import signal
import time
from pathlib import Path

import pytest

from imgval.analysis.analyze import Record, Settings, analyze_bytes, analyze_mapped
from imgval.analysis.filedata import read_input
from imgval.batch.engine import CRASH_ERROR, ENGINE_NAMES, make_engine
from imgval.synthetic import natural_image

from tests.conftest import dask_client_at_full_strength, write_image


@pytest.fixture(params=ENGINE_NAMES)
def engine(request):
    """Each test runs once per engine: a new engine passes the same tests as the local pool.
    The Dask engine runs on one LocalCluster for the session, one file per task (the contract
    is about files; how tasks batch files is tested in test_dask_engine.py)."""
    if request.param == "local":
        return lambda jobs, analyze=analyze_mapped, **options: make_engine("local", jobs, analyze, **options)
    spec = request.getfixturevalue("dask_spec")
    dask_client_at_full_strength(spec).close()  # a worker killed by the last test is back
    return lambda jobs, analyze=analyze_mapped, **options: make_engine(
        "dask", jobs, analyze, dataclasses.replace(spec, files_per_task=1), **options)


def fake_analyze(path: str, settings: Settings) -> Record:
    """Stands in for analyze_path: the file name says what to do."""
    name = os.path.basename(path)
    if name.startswith("segv"):
        faulthandler.disable()  # pytest's crash dump would only clutter the output
        os.kill(os.getpid(), signal.SIGSEGV)  # what a decoder crash looks like to the pool
    if name.startswith("exit"):
        os._exit(3)
    if name.startswith("slow"):
        # Waits until every other file is done: only returns in time if the other worker kept
        # taking files while this one was busy.
        marker = Path(path).parent / "all-small-done"
        deadline = time.monotonic() + 30
        while not marker.exists():
            if time.monotonic() > deadline:
                return Record(path, error="starved: the other files were not processed meanwhile")
            time.sleep(0.01)
    if name == "last-small":
        (Path(path).parent / "all-small-done").touch()
    return Record(path, score=float(len(name)), error="", format=str(os.getpid()))


def truncate_while_mapped(path: str, settings: Settings) -> Record:
    """The first attempt maps the file, and then another program truncates it before it is read
    (as `cp` onto an existing file does): reading the lost pages faults (SIGBUS), killing the
    worker. Later attempts analyse the file as the runner's workers do."""
    marker = Path(path + ".mapped-once")
    if not path.endswith("cut.jpg") or marker.exists():
        return analyze_mapped(path, settings)
    marker.touch()
    data = read_input(path, mapped=True)
    os.truncate(path, len(data) // 3)
    faulthandler.disable()
    return analyze_bytes(path, data, settings)


def test_a_file_truncated_while_mapped_is_read_again_as_it_now_is(tmp_path, engine):
    paths = [str(write_image(tmp_path / name, natural_image(900, 600, seed=i)))
             for i, name in enumerate(["a.jpg", "cut.jpg", "b.jpg"])]
    records = list(engine(2, truncate_while_mapped).run(paths, Settings()))
    assert [r.filepath for r in records] == list(paths)
    assert Path(paths[1] + ".mapped-once").exists()  # the first attempt did map and truncate it
    assert "truncated" in records[1].error and records[1].error != CRASH_ERROR
    assert records[0].error == records[2].error == ""


def test_records_come_back_in_input_order(tmp_path, engine):
    paths = [str(tmp_path / f"img{i:03d}") for i in range(50)]
    records = list(engine(2, fake_analyze).run(paths, Settings()))
    assert [r.filepath for r in records] == list(paths)
    assert all(r.error == "" for r in records)


def test_a_slow_file_does_not_stop_the_other_worker(tmp_path, engine, request):
    paths = [str(tmp_path / "slow-big")] + [str(tmp_path / f"small{i}") for i in range(40)]
    paths.append(str(tmp_path / "last-small"))
    records = list(engine(2, fake_analyze).run(paths, Settings()))
    assert records[0].error == ""  # it was not starved
    assert [r.filepath for r in records] == list(paths)
    assert records[-1].format != records[0].format  # the file that let it finish ran elsewhere
    if request.node.callspec.params["engine"] == "local":
        # the local pool hands out a few small files per task (batch/tasks.py): those in the
        # slow file's task wait with it, and every later task went to the other worker meanwhile
        # (Dask may queue one task behind the slow one on its worker before the scheduler's
        # queueing starts; no worker idles either way)
        held = [i for i, r in enumerate(records) if r.format == records[0].format]
        assert held == list(range(len(held))) and len(held) < len(records) // 2


def test_a_crashing_worker_costs_one_error_row(tmp_path, engine):
    paths = [str(tmp_path / f"a{i}") for i in range(6)] + [str(tmp_path / "segv.jpg")]
    paths += [str(tmp_path / f"b{i}") for i in range(6)] + [str(tmp_path / "exit.tif")]
    paths += [str(tmp_path / f"c{i}") for i in range(3)]
    records = list(engine(2, fake_analyze).run(paths, Settings()))
    assert [r.filepath for r in records] == list(paths)
    errors = {os.path.basename(r.filepath): r.error for r in records if r.error}
    assert set(errors) == {"segv.jpg", "exit.tif"}
    assert "died" in errors["segv.jpg"] and "corrupt" in errors["segv.jpg"]
    assert all(r.score is not None for r in records if not r.error)


def killed_once(path: str, settings: Settings) -> Record:
    """The files named kill* take their worker down with SIGKILL (the OOM killer) the first time
    only; every file leaves a mark each time it is analysed."""
    with open(Path(path).parent / "analysed.log", "a") as log:
        log.write(os.path.basename(path) + "\n")
    marker = Path(path + ".killed-once")
    if os.path.basename(path).startswith("kill") and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_analyze(path, settings)


def test_a_worker_killed_mid_batch_loses_no_row(tmp_path, engine):
    """Dozens of small files (several per task in the local pool), one of which kills its worker
    once: every file still gets its own, complete row, in order, and none an error."""
    paths = [str(tmp_path / f"a{i:02d}") for i in range(30)] + [str(tmp_path / "kill.jpg")]
    paths += [str(tmp_path / f"b{i:02d}") for i in range(30)]
    records = list(engine(2, killed_once).run(paths, Settings()))
    assert [r.filepath for r in records] == paths
    assert all(r.error == "" and r.score is not None for r in records)
    analysed = (tmp_path / "analysed.log").read_text().split()
    assert set(analysed) == {os.path.basename(p) for p in paths} and analysed.count("kill.jpg") == 2


def test_one_worker_is_crash_safe_too(tmp_path, engine):
    paths = [str(tmp_path / "segv.png"), str(tmp_path / "ok.png")]
    records = list(engine(1, fake_analyze).run(paths, Settings()))
    assert [bool(r.error) for r in records] == [True, False]


def test_closing_the_stream_early_stops_the_workers(tmp_path, engine):
    stream = engine(2, fake_analyze).run([str(tmp_path / f"x{i}") for i in range(500)], Settings())
    first = next(stream)
    stream.close()
    assert first.filepath.endswith("x0")


def test_real_analysis_through_the_pool(image_dir, engine):
    from imgval.batch.discover import discover
    paths = discover([str(image_dir)]).paths
    records = list(engine(2).run(paths, Settings()))
    assert [r.filepath for r in records] == list(paths)
    assert all(r.error == "" and r.score > 0 for r in records)


def _run_in_child(paths, conn):
    conn.send([r.filepath for r in make_engine("local", 2, fake_analyze).run(paths, Settings())])


def test_runs_in_a_process_forked_after_opencv_used_its_threads(tmp_path):
    """A caller that is itself a fork of a process with a running OpenCV thread pool (a
    benchmark harness, a multiprocessing job) must not hang: nothing may resize OpenCV's pool."""
    import multiprocessing

    import cv2
    import numpy as np
    big = np.zeros((3000, 3000), np.uint8)
    for _ in range(3):
        cv2.resize(big, (0, 0), fx=0.3, fy=0.3)  # starts OpenCV's thread pool in this process
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    paths = [str(tmp_path / f"f{i}") for i in range(4)]
    process = ctx.Process(target=_run_in_child, args=(paths, child))
    process.start()
    finished = parent.poll(30)
    if not finished:
        process.kill()
    process.join()
    assert finished and parent.recv() == paths


def test_an_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown engine 'nope'; choose from local, dask"):
        make_engine("nope", 1)
