"""The Dask engine on a real LocalCluster (worker processes): tasks sized and ordered, the same
records and byte-identical reports as the local pool, a worker SIGKILLed mid-scan losing no row,
batch-system workers retiring before their walltime, and clear errors without the extra."""
from __future__ import annotations

import dataclasses
import os
import re
import signal
import time
from pathlib import Path

import dask
import distributed
import pytest

from imgval.analysis.analyze import Record, Settings, analyze_mapped
from imgval.batch.cluster import ClusterSpec, jobqueue_cluster_kwargs, lifetime_args, parse_cluster
from imgval.batch.dask_engine import cluster_config, reset_rate_limit
from imgval.batch.tasks import FILE_SECONDS, TASK_SECONDS, batches, estimated_seconds
from imgval.batch.discover import discover
from imgval.batch.engine import EngineError, make_engine
from imgval.synthetic import natural_image

from tests.conftest import ROOT, dask_client_at_full_strength, run_script, write_image


@pytest.fixture(scope="module")
def photo_batch(tmp_path_factory) -> list[str]:
    """24 real-looking JPEGs and PNGs in two folders: enough for several tasks per worker (small:
    scored at ~2 MP whatever their size, and quick to make)."""
    folder = tmp_path_factory.mktemp("dask") / "batch"
    for i in range(24):
        sub = "a" if i % 2 else "b"
        write_image(folder / sub / f"img{i:02d}.{'png' if i % 5 == 0 else 'jpg'}", natural_image(600, 450, seed=i))
    return list(discover([str(folder)]).paths)


def workers_at_full_strength(spec: ClusterSpec) -> distributed.Client:
    return dask_client_at_full_strength(spec)


def sized(path: Path, size: int) -> str:
    """A file of `size` bytes by its size (sparse: nothing on disk); batches only stat files."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return str(path)


def task_seconds(task: list[str]) -> float:
    return sum(estimated_seconds(path) for path in task)


def test_batches_keep_order_and_shrink_towards_the_end(tmp_path):
    thumbs = [sized(tmp_path / f"t{i:03d}.jpg", 4000) for i in range(600)]
    tasks = batches(thumbs, threads=2)
    assert [p for task in tasks for p in task] == thumbs  # consecutive files, none lost or repeated
    assert len(tasks[0]) > 50  # thumbnails share tasks, not one each
    assert len(tasks) >= 4 * 2  # spread over both workers, several tasks each
    low, high = TASK_SECONDS
    # the first tasks are the largest, the last ones small: no worker idles long at the end
    assert task_seconds(tasks[0]) > 4 * task_seconds(tasks[-2]) and task_seconds(tasks[-2]) < 2 * low
    assert batches(thumbs, threads=2, files_per_task=1) == [[p] for p in thumbs]
    many = [str(tmp_path / f"g{i}") for i in range(100_000)]  # missing files: quick error rows
    assert max(task_seconds(task) for task in batches(many, threads=2)) < high + FILE_SECONDS  # bounded per task


def test_big_files_make_smaller_tasks(tmp_path):
    big = [sized(tmp_path / f"master{i}.tif", 200 * 2**20) for i in range(6)]
    assert [len(task) for task in batches(big, threads=1)] == [1] * 6  # seconds of work each
    photos = [sized(tmp_path / f"photo{i}.jpg", 3 * 2**20) for i in range(40)]
    assert 3 < len(batches(photos, threads=2)) < 40  # a few per task, and more than one task
    assert [len(task) for task in batches(photos[:8] + big[:1], threads=2)][-1] == 1
    assert estimated_seconds("s3://bucket/master.tif") > estimated_seconds(photos[0])  # remote: fetched too


def test_records_equal_the_local_pools(photo_batch, dask_spec):
    local = list(make_engine("local", 2).run(photo_batch, Settings()))
    on_dask = list(make_engine("dask", 2, spec=dask_spec).run(photo_batch, Settings()))
    assert on_dask == local
    assert all(r.error == "" for r in on_dask)


def analyze_slowly(path: str, settings: Settings) -> Record:
    """The real analysis, 50 ms slower: the scan is still under way when a worker is killed."""
    time.sleep(0.05)
    return analyze_mapped(path, settings)


def test_a_worker_killed_mid_scan_loses_no_row_and_duplicates_none(photo_batch, dask_spec):
    expected = list(make_engine("local", 2).run(photo_batch, Settings()))
    client = workers_at_full_strength(dask_spec)
    try:
        pids = client.run(os.getpid)  # worker address -> its process id
        stream = make_engine("dask", 2, analyze_slowly, dask_spec).run(photo_batch, Settings())
        records = [next(stream)]
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy  # a worker with a task in hand...
        os.kill(pids[busy[0]], signal.SIGKILL)  # ...killed: its task is rerun on another worker
        records += list(stream)
    finally:
        client.close()
    assert records == expected


def test_a_file_that_kills_every_worker_is_one_error_row(tmp_path, dask_spec):
    from tests.batch.test_runner import fake_analyze

    paths = [str(tmp_path / f"a{i}") for i in range(10)] + [str(tmp_path / "segv.jpg")] + [str(tmp_path / "z")]
    workers_at_full_strength(dask_spec).close()
    records = list(make_engine("dask", 2, fake_analyze, dask_spec).run(paths, Settings()))  # batched tasks
    assert [r.filepath for r in records] == paths
    assert [bool(r.error) for r in records] == [False] * 10 + [True, False]
    assert "died" in records[10].error


def die_twice_then_read(path: str, settings: Settings) -> Record:
    """A worker dies under the file on its first two tries, as it does under a good file that
    was on the worker when a neighbouring file crashed it (Dask counts such a death against
    every task the worker held, even one finished a moment earlier); it reads fine after.
    The file "crash" always kills its worker. Each try is counted in a file beside it."""
    tries = Path(path + ".tries")
    with open(tries, "a") as handle:
        handle.write("x")
    if os.path.basename(path) == "crash" or len(tries.read_text()) <= 2:
        os._exit(3)
    return Record(path, score=1.0)


@pytest.mark.parametrize("files_per_task", [1, 3])
def test_a_file_whose_worker_died_under_it_twice_is_not_blamed_unless_it_dies_alone(
        tmp_path, dask_spec, files_per_task):
    paths = [str(tmp_path / name) for name in ("before", "unlucky", "crash")]
    Path(paths[0] + ".tries").write_text("xx")  # reads fine at once
    workers_at_full_strength(dask_spec).close()
    spec = dataclasses.replace(dask_spec, files_per_task=files_per_task)
    before, unlucky, crash = make_engine("dask", 2, die_twice_then_read, spec).run(paths, Settings())
    assert before.score == 1.0 and not before.error
    assert unlucky.score == 1.0 and not unlucky.error and not unlucky.transient
    assert "died" in crash.error and crash.transient
    assert len(Path(paths[2] + ".tries").read_text()) <= 3  # at most twice in its task, then once watched alone


def crash_while_another_reads(path: str, settings: Settings) -> Record:
    """"crash" kills its worker a moment after it starts; any other file takes a second to read,
    so on a worker of two threads it is being read when the worker dies."""
    if os.path.basename(path) == "crash":
        time.sleep(0.2)
        os._exit(3)
    time.sleep(1)
    return Record(path, score=1.0)


def test_on_a_worker_of_several_threads_only_the_crashing_file_is_blamed(tmp_path):
    import logging

    with dask.config.set(cluster_config("local")), distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
            silence_logs=logging.ERROR) as cluster:
        spec = ClusterSpec(scheduler=cluster.scheduler_address, files_per_task=2)
        paths = [str(tmp_path / "crash"), str(tmp_path / "beside")]
        crash, beside = make_engine("dask", 2, crash_while_another_reads, spec).run(paths, Settings())
    assert "died" in crash.error
    assert beside.score == 1.0 and not beside.error


def hang_counting_tries(path: str, settings: Settings) -> Record:
    """A decoder that never returns on hang*, each try counted in a file beside it."""
    with open(path + ".tries", "a") as handle:
        handle.write("x")
    if os.path.basename(path).startswith("hang"):
        while True:
            time.sleep(60)
    return Record(path, score=1.0)


@pytest.mark.parametrize("files_per_task", [1, 3])
def test_a_file_over_the_time_limit_is_given_it_twice_not_more(tmp_path, dask_spec, files_per_task):
    paths = [str(tmp_path / name) for name in ("a", "hang.jpg", "b")]
    workers_at_full_strength(dask_spec).close()
    spec = dataclasses.replace(dask_spec, files_per_task=files_per_task)
    a, hung, b = make_engine("dask", 2, hang_counting_tries, spec, timeout=1).run(paths, Settings())
    assert "took longer than 1 s" in hung.error and hung.transient
    assert a.score == b.score == 1.0
    assert len(Path(paths[1] + ".tries").read_text()) == 2


def test_a_cluster_left_without_workers_ends_the_run_with_a_clear_error(tmp_path):
    """A nanny that does not restart its worker once hung the engine tests: the wait is bounded
    (a no-workers-timeout the user sets is kept; imgval's own is 60 s for a local cluster)."""
    import logging

    from tests.batch.test_timeout import hanging_analyze

    with dask.config.set({"distributed.scheduler.no-workers-timeout": "2s"}), \
            dask.config.set(cluster_config("local")), distributed.LocalCluster(
                n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR) as cluster:
        spec = ClusterSpec(scheduler=cluster.scheduler_address, files_per_task=1)
        paths = [str(tmp_path / name) for name in ("a", "hang.jpg", "b")]
        stream = make_engine("dask", 1, hanging_analyze, spec).run(paths, Settings())
        assert next(stream).score == 1.0
        cluster.scale(0)  # the worker reading hang.jpg is gone, and no other comes
        started = time.monotonic()
        with pytest.raises(EngineError, match="no worker for 2 s"):
            list(stream)
        assert time.monotonic() - started < 60


def test_a_local_cluster_keeps_its_nannies_however_often_workers_die():
    """Dask closes a nanny for good when no worker of its name is up 15 s after one was lost,
    which catches a nanny restarting its worker after another crash; the clusters imgval starts
    put that check off past any scan (a batch system's keep Dask's, to replace lost jobs)."""
    from dask.utils import parse_timedelta

    week = 7 * 24 * 3600
    assert parse_timedelta(cluster_config("local")["distributed.deploy.lost-worker-timeout"]) > week
    assert "distributed.deploy.lost-worker-timeout" not in cluster_config("slurm")


def test_scan_reports_are_byte_identical_to_the_local_pools(tmp_path, dask_spec):
    """The command a user types: CSV, JSON and HTML of a scan on the cluster equal the local pool's."""
    def scan(tag: str, *engine: str, formats=("csv", "json")) -> dict[str, bytes]:
        out = tmp_path / tag
        out.mkdir()
        for fmt in formats:
            html = ["--html", str(out / "report.html")] if fmt == "csv" else []
            run_script(str(ROOT / "process.py"), "-i", "samples", "--no-cache", "-q", "-o", fmt,
                       "-s", str(out / f"results.{fmt}"), *html, *engine, cwd=ROOT, check=True)
        files = {name: (out / name).read_bytes()
                 for name in ("results.csv", "results.meta.json", "results.json", "report.html")
                 if (out / name).exists()}
        files["report.html"] = files["report.html"].replace(str(out).encode(), b"OUT")
        # what no two runs share: when each started (the run's metadata says so)
        stamped = files["results.meta.json"] + files.get("results.json", b"")
        for created in re.findall(rb'"created": "([^"]+)"', stamped):
            for name in files:
                files[name] = files[name].replace(created, b"CREATED")
        return files

    local = scan("local", "-j", "2")
    assert scan("scheduler", "--scheduler", dask_spec.scheduler) == local
    # a cluster the run starts itself: the same records (the JSON is written from them as above)
    local.pop("results.json")
    assert scan("localcluster", "--cluster", "local:2", formats=("csv",)) == local


def test_dask_scheduler_address_is_honoured_and_an_unreachable_one_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")  # Dask's own setting, shorter: kept
    result = run_script(str(ROOT / "process.py"), "-i", "samples", "-s", str(tmp_path / "r.csv"), cwd=ROOT)
    assert result.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("options, message", [
    (["--scheduler", "tcp://h:8786", "--cluster", "local"], "give one of them"),
    (["--cluster", "kubernetes"], "unknown cluster 'kubernetes'; choose one of local, local:N, slurm"),
    (["--cluster", "slurm:4"], "only a local cluster takes a worker count"),
    (["--cluster", "local", "--cluster-option", "cores=2"], "--cluster-option is for a batch-system cluster"),
    (["--cluster", "slurm", "--cluster-option", "cores"], "write it as KEY=VALUE"),
])
def test_engine_option_mistakes_are_usage_errors(tmp_path, options, message):
    result = run_script(str(ROOT / "process.py"), "-i", "samples", "-s", str(tmp_path / "r.csv"), *options, cwd=ROOT)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_extra_the_options_say_how_to_install_it(tmp_path):
    block = "import sys; sys.modules['distributed'] = None; sys.modules['dask_jobqueue'] = None; "
    code = block + "sys.argv[0] = 'process.py'; from imgval.cli.main import process_main; process_main()"
    result = run_script("-c", code, "-i", "samples", "-s", str(tmp_path / "r.csv"), "--cluster", "local:2", cwd=ROOT)
    assert result.returncode == 2
    assert "pip install 'imgval[dask]'" in result.stderr and "Traceback" not in result.stderr


def test_slurm_workers_retire_before_the_walltime():
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    spec = ClusterSpec(cluster="slurm", options={"cores": 4, "memory": "8GB", "walltime": "01:00:00",
                                                 "queue": "normal", "account": "digitisation"})
    cluster = dask_jobqueue.SLURMCluster(**jobqueue_cluster_kwargs(spec))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -t 01:00:00" in script and "#SBATCH -p normal" in script and "#SBATCH -A digitisation" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script  # one process per core: the work is CPU-bound
    words = script.split()
    lifetime = int(words[words.index("--lifetime") + 1].rstrip("s"))
    stagger = int(words[words.index("--lifetime-stagger") + 1].rstrip("s"))
    assert lifetime + stagger < 3600 - 60  # every worker leaves at least a minute before the job is killed


@pytest.mark.parametrize("walltime, seconds", [("01:00:00", 3600), ("30:00", 1800), ("90", 5400),
                                               ("48:00:00", 172800)])
def test_lifetime_is_under_the_walltime(walltime, seconds):
    args = lifetime_args(walltime)
    lifetime, stagger = int(args[1].rstrip("s")), int(args[3].rstrip("s"))
    assert 0 < lifetime and lifetime + stagger < seconds


def test_cluster_names_parse():
    assert parse_cluster("local") == ("local", None)
    assert parse_cluster("LOCAL:3") == ("local", 3)
    assert parse_cluster("pbs") == ("pbs", None)
    with pytest.raises(ValueError):
        parse_cluster("local:0")


def _rate_limited_once(marker: str) -> dict:
    """On one worker: the first call is told to come back in 2 s (as a 429 with Retry-After)."""
    import time

    from imgval.batch.dask_engine import share_rate_limits
    from imgval.storage import TransientError
    from imgval.storage.retry import RetryPolicy, call_with_retries
    share_rate_limits()
    calls = []

    def call():
        calls.append(time.time())
        if len(calls) == 1:
            Path(marker).touch()
            raise TransientError("429 too many requests", retry_after=2.0)
        return calls

    call_with_retries(call, RetryPolicy(attempts=3, base_delay=0.01), "rate-limited read")
    return {"limited_at": calls[0], "retried_at": calls[1]}


def _another_call_after(marker: str) -> float:
    """On another worker: a call made while the first one's pause runs, held until it ends."""
    import time

    from imgval.batch.dask_engine import share_rate_limits
    from imgval.storage.retry import RetryPolicy, call_with_retries
    share_rate_limits()
    while not Path(marker).exists():
        time.sleep(0.02)
    time.sleep(0.3)  # the pause has been published by now
    return call_with_retries(time.time, RetryPolicy(attempts=3), "another read")


def test_a_rate_limit_one_worker_is_given_holds_every_worker(dask_spec, tmp_path):
    client = workers_at_full_strength(dask_spec)
    try:
        first, second = sorted(client.nthreads())
        reset_rate_limit(client)  # as the engine does when a run starts
        marker = str(tmp_path / "limited")
        limited = client.submit(_rate_limited_once, marker, workers=[first], pure=False)
        other = client.submit(_another_call_after, marker, workers=[second], pure=False)
        times, other_call = limited.result(timeout=60), other.result(timeout=60)
    finally:
        client.close()
    assert 1.9 <= times["retried_at"] - times["limited_at"] < 4  # the server's Retry-After was obeyed
    assert other_call >= times["limited_at"] + 1.9  # ...by the other worker too, not just the one told
