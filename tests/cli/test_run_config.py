"""`imgval run --config imgval.toml` (issue 5): the configured steps in order, paths relative to
the config file, every config mistake a clear message and exit code 2 before any work."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imgval.cli import exitcodes
from imgval.cli.main import main
from imgval.synthetic import natural_image

from tests.conftest import ROOT, write_image
from tests.batch.test_rerun import cli_runner, counts, rows


def imgval(*args: str):
    return cli_runner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder as a cron job would have it: images and a config side by side."""
    folder = tmp_path / "project"
    for seed in range(2):
        write_image(folder / "incoming" / f"scan{seed}.jpg", natural_image(96, 64, seed=seed))
    return folder


def config(folder: Path, text: str) -> Path:
    path = folder / "imgval.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_run_scans_with_paths_relative_to_the_config_and_reuses_results(project, tmp_path, monkeypatch):
    path = config(project, """
        [run]
        quiet = true
        log_file = "logs/nightly.log"

        [scan]
        images = ["incoming"]
        jobs = 1
        cache = "cache.sqlite"

        [report]
        save_path = "reports/results.csv"
    """)
    (project / "logs").mkdir()
    (project / "reports").mkdir()
    monkeypatch.chdir(tmp_path)  # cron starts jobs in $HOME, not beside the config
    first = imgval("run", "--config", str(path))
    assert first.exit_code == exitcodes.OK, first.stderr
    assert first.stdout == "" and first.stderr == ""  # quiet: cron mails nothing
    assert sorted(Path(p).name for p in rows(project / "reports" / "results.csv")) == ["scan0.jpg", "scan1.jpg"]
    assert (project / "cache.sqlite").exists()

    imgval("run", "--config", str(path))
    log = (project / "logs" / "nightly.log").read_text()
    assert "imgval run: imgval scan --images=" in log  # what ran, for whoever reads the log
    assert counts(log.splitlines()[-2]) == (0, 2)  # the second night reused both results


def test_check_prints_the_commands_and_runs_nothing(project, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_image(tmp_path / "home" / "elsewhere" / "a.jpg", natural_image(96, 64, seed=5))
    path = config(project, """
        [scan]
        images = ["incoming", "~/elsewhere"]
        threshold = 80.5
        [report]
        fail_on = ["blurry", "error"]
        html = "out/report.html"
    """)
    result = imgval("run", "--config", str(path), "--check")
    assert result.exit_code == exitcodes.OK, result.stderr
    created, line = result.stdout.strip().splitlines()
    assert created == f"# would create the folder {project / 'out'}"
    assert line.startswith(f"imgval scan --images={project / 'incoming'} --images={tmp_path / 'home' / 'elsewhere'} ")
    assert "--threshold=80.5" in line and "--fail-on=blurry,error" in line
    assert f"--html={project / 'out' / 'report.html'}" in line
    assert f"--save-path={project / 'results.csv'}" in line  # the default report sits beside the config
    assert not (project / "results.csv").exists() and not (project / "out").exists()


def test_the_engine_table_says_where_the_scan_runs(project):
    path = config(project, """
        [scan]
        images = ["incoming"]
        [engine]
        cluster = "slurm"
        cluster_jobs = 10
        options = { cores = 8, memory = "16GB", walltime = "02:00:00", job_extra_directives = ["--exclusive"] }
    """)
    result = imgval("run", "--config", str(path), "--check")
    assert result.exit_code == exitcodes.OK, result.stderr
    line = result.stdout.strip()
    assert "--cluster=slurm" in line and "--cluster-jobs=10" in line
    for option in ("cores=8", "memory=16GB", "walltime=02:00:00", 'job_extra_directives=["--exclusive"]'):
        assert f"--cluster-option={option}" in line or f"'--cluster-option={option}'" in line


def test_fail_on_in_the_report_table_sets_the_exit_code(project):
    write_image(project / "incoming" / "copy.jpg", natural_image(96, 64, seed=0))
    path = config(project, """
        [scan]
        images = ["incoming"]
        jobs = 1
        [report]
        fail_on = "duplicate"
    """)
    result = imgval("run", "-c", str(path))
    assert result.exit_code == exitcodes.FLAGGED
    assert "found 2 duplicates" in result.stderr


def test_sync_then_scan_of_what_was_synced_and_quiet_when_all_is_well(project, tmp_path):
    path = config(project, """
        [run]
        quiet = true
        [sync]
        source = "incoming"
        destinations = ["archive"]
        manifest = "sync-manifest.csv"
        [scan]
        images = ["archive"]
        jobs = 1
    """)
    (project / "archive").mkdir()
    result = imgval("run", "-c", str(path))
    assert result.exit_code == exitcodes.OK, result.stderr
    assert result.stdout == "" and result.stderr == ""  # cron mails nothing on a good night
    assert (project / "archive" / "scan0.jpg").read_bytes() == (project / "incoming" / "scan0.jpg").read_bytes()
    assert (project / "sync-manifest.csv").exists()
    scanned = sorted(rows(project / "results.csv"))
    assert scanned == [str(project / "archive" / "scan0.jpg"), str(project / "archive" / "scan1.jpg")]


def test_a_second_run_of_the_same_config_exits_at_once(project):
    path = config(project, """
        [scan]
        images = ["incoming"]
    """)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from imgval.cli.run import run_lock; "
         "lock = run_lock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        result = imgval("run", "-c", str(path))
        assert result.exit_code == exitcodes.LOCKED
        assert f"another imgval run (process {holder.pid}) is running {path}" in result.stderr
        assert not (project / "results.csv").exists()
    finally:
        holder.kill()
        holder.wait()
    assert imgval("run", "-c", str(path)).exit_code == exitcodes.OK  # the dead holder's lock is gone


@pytest.mark.parametrize("text, message", [
    ("[scan\nimages = 1", "not valid TOML"),
    ("", "nothing to do; add a [scan] table"),
    ("[scna]\nimages = ['x']", "unknown table [scna] (did you mean 'scan'?)"),
    ("[scan]\nimages = ['incoming']\nthresold = 5", "[scan] thresold: not an option of this table (did you mean "
                                                    "'threshold'?)"),
    ("[scan]\nimages = ['incoming']\nsave_path = 'r.csv'", "[scan] save_path: not an option of this table; it "
                                                          "belongs in [report]"),
    ("[scan]\njobs = 2", "[scan] needs images = ..."),
    ("[scan]\nimages = ['incoming']\njobs = 'two'", "[scan] jobs: 'two' is not a valid integer"),
    ("[scan]\nimages = ['incoming']\njobs = 0", "[scan] jobs: 0 is not in the range x>=1"),
    ("[scan]\nimages = ['incoming']\nsharpness_threshold = 3.74", "[scan] sharpness_threshold: 3.74 is above "
                                                                "the sharpness scale"),
    ("[scan]\nimages = ['incoming']\nprofile = 'missing.toml'", "[scan] profile: File "),
    ("[scan]\nimages = ['incoming']\n[report]\nfail_on = ['blury']", "[report] fail_on: unknown kind 'blury'"),
    ("[scan]\nimages = ['incoming']\n[report]\noutput_format = 'xml'", "[report] output_format: 'xml' is not one of"),
    ("[run]\nquiet = 'yes'\n[scan]\nimages = ['incoming']", "[run] quiet: must be true or false"),
    ("[scan]\nimages = ['incoming']\ncache = false", "[scan] cache: takes a value, not true/false"),
    ("[run]\njobs = 2\n[scan]\nimages = ['incoming']", "[run] jobs: unknown option"),
    ("[report]\nfail_on = 'error'", "[report] needs a [scan] table"),
    ("scan = 3", "scan must be a table"),
    ("[scan]\nimages = ['incoming']\nprofile = 'a.toml'\nprofile_path = 'b.toml'", "given twice"),
    ("[sync]\ndestinations = ['out']", "[sync] needs source = ..."),
    ("[engine]\ncluster = 'local'", "[engine] needs a [scan] table"),
    ("[scan]\nimages = ['incoming']\ncluster = 'slurm'", "[scan] cluster: not an option of this table; it "
                                                        "belongs in [engine]"),
    ("[scan]\nimages = ['incoming']\n[engine]\nclustr = 'slurm'", "(did you mean 'cluster'?)"),
    ("[scan]\nimages = ['incoming']\n[engine]\ncluster = 'k8s'", "[engine] cluster: unknown cluster 'k8s'"),
    ("[scan]\nimages = ['incoming']\n[engine]\ncluster = 'slurm'\noptions = 4", "[engine] options: must be a table"),
])
def test_config_mistakes_are_usage_errors_with_a_clear_message(project, text, message):
    path = config(project, text)
    result = imgval("run", "-c", str(path))
    assert result.exit_code == exitcodes.USAGE
    assert message in result.stderr
    assert str(path) in result.stderr and "Traceback" not in result.stderr
    assert not (project / "results.csv").exists()


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    result = imgval("run", "-c", str(tmp_path / "nope.toml"))
    assert result.exit_code == exitcodes.USAGE
    assert "config file" in result.stderr and "does not exist" in result.stderr
