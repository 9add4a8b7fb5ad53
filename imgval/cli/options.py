"""What several commands share: their common options, logging, and the checks that turn bad
input into a usage error (exit 2) before any work starts."""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import signal
import sys
from typing import TYPE_CHECKING

import click

from imgval.batch.discover import Discovery, discover, missing_inputs
from imgval.batch.pathspool import PathSpoolError
from imgval.cli import exitcodes
from imgval.cli.outputs import OutputError, check_outputs
from imgval.defaults import (BLUR_VERDICTS, DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD,
                             FAST_DEFAULT_THRESHOLD, MODES, SHARPNESS_CRISP, SHARPNESS_THRESHOLD)
from imgval.escaped_names import printable, shown
from imgval.image_names import IMAGE_EXTENSIONS, sorted_extensions
from imgval.storage.credentials import redact

if TYPE_CHECKING:
    from imgval.analysis.analyze import Record
    from imgval.report.reader import Results

# Modules that load OpenCV, NumPy, SciPy, Pillow or tqdm (analysis, reports, profiles, ...) are
# imported inside the functions that use them: `imgval --help` and option errors stay fast
# (benchmarks/startup.py).

log = logging.getLogger("imgval")
HELP = {"help_option_names": ["-h", "--help"]}


def expand_multi_values(args: list[str], options: tuple[str, ...]) -> list[str]:
    """Rewrite `-i a b c` (the original's argparse nargs='+') as `-i a -i b -i c` for click."""
    out: list[str] = []
    taking = None  # the option whose values are being read
    for arg in args:
        if arg in options:
            taking = arg
            out.append(arg)  # the first value joins it; more values get their own copy
        elif taking and not arg.startswith("-") and out[-1] != taking:
            out += [taking, arg]
        else:
            if arg == "--" or arg.startswith("-"):
                taking = None
            out.append(arg)
    return out


class MultiValueCommand(click.Command):
    """A command whose -i/--images option takes several values after one flag."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_multi_values(args, ("-i", "--images")))


class LogFileHandler(logging.FileHandler):
    """--log-file: a log that cannot be written (disk full) says so once on stderr and stops, where
    logging's default would print a traceback for every line."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not self.failed and isinstance(error, OSError):
            self.failed = True
            sys.stderr.write(f"imgval: cannot write the log file {shown(self.baseFilename)}: "
                             f"{error.strerror or error}; nothing more is written to it.\n")
        elif not self.failed:
            super().handleError(record)


def setup_logging(verbose: bool, log_file: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(LogFileHandler(log_file, encoding="utf-8", errors="backslashreplace"))
    for handler in handlers:  # an SDK's message may quote a credential
        handler.addFilter(_redact_secrets)
    logging.basicConfig(
        level=logging.INFO if verbose or log_file else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    handlers[0].setLevel(logging.INFO if verbose else logging.WARNING)


def _redact_secrets(record: logging.LogRecord) -> bool:
    record.msg, record.args = redact(record.getMessage()), None
    if record.exc_info:
        import traceback

        record.msg += "\n" + redact("".join(traceback.format_exception(*record.exc_info))).rstrip()
        record.exc_info, record.exc_text = None, None
    return True


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM (cron's timeout, a shutdown) stops the run like Ctrl-C (scan: pending results
    are committed to the cache and the partial report removed; sync: uploads are aborted).
    Only in this process: pool workers inherit the handler, and there they keep the default
    (die at once)."""
    main_pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_profile(path: str | None):
    from imgval.analysis.profile_toml import ProfileError, default_profile, load_profile

    try:
        return load_profile(path) if path else default_profile()
    except ProfileError as exc:
        raise click.BadParameter(str(exc), param_hint="--profile")


def check_inputs(inputs: tuple[str, ...]) -> None:
    missing = missing_inputs(list(inputs))
    if missing:
        raise click.BadParameter(
            "no such file or folder: " + ", ".join(repr(p) for p in missing), param_hint="-i/--images"
        )


def discover_or_fail(inputs: tuple[str, ...], extensions=IMAGE_EXTENSIONS) -> Discovery:
    """The files to check; exit USAGE before anything is written when an input could not be
    listed or nothing was found: a run that checked nothing must not pass, nor replace the
    previous report."""
    try:
        found = discover(list(inputs), extensions)
    except PathSpoolError as exc:  # a full temporary folder: like a full disk for the report
        click.echo(f"Error: {exc.strerror}. Nothing was checked; free some space there (or set TMPDIR to "
                   "another folder) and run again.", err=True)
        sys.exit(exitcodes.FAILED)
    if found.failed_inputs:
        raise click.BadParameter("; ".join(f"{printable(url)}: {reason}" for url, reason in found.failed_inputs)
                                 + ". Nothing was checked.", param_hint="-i/--images")
    if not found.paths and not found.unlistable:
        raise click.BadParameter(f"no image files found in {', '.join(map(printable, inputs))}; nothing was "
                                 f"checked (images are found by extension: {' '.join(sorted_extensions(extensions))}; "
                                 f"add others with --include-ext).",
                                 param_hint="-i/--images")
    return found


def outputs_or_fail(outputs: dict[str, str | None], inputs) -> dict[str, str]:
    """The files the outputs write to (symlinks resolved), or exit 2 before any work: see outputs.py."""
    try:
        return check_outputs(outputs, list(inputs))
    except OutputError as exc:
        option, _, message = str(exc).partition(": ")
        raise click.BadParameter(message, param_hint=option)


def threshold_value(ctx, param, value: float | None) -> float | None:
    """-t/--threshold and --sharpness-threshold: a finite number >= 0 (inf, 1e400 and nan would
    flag everything or nothing, and cannot be drawn on the histogram)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        example = f"{SHARPNESS_THRESHOLD:g}" if param.name == "sharpness_threshold" else "100"
        raise click.BadParameter(f"{value:g} is not a blur threshold; give a finite number >= 0, e.g. {example}")
    if param.name == "sharpness_threshold" and value is not None and value > SHARPNESS_CRISP:
        # every judged image would be blurry: most likely a value kept from an earlier scale
        raise click.BadParameter(
            f"{value:g} is above the sharpness scale, which ends at {SHARPNESS_CRISP:g} (a crisp edge), so every "
            f"image would be blurry; the default is {SHARPNESS_THRESHOLD:g} (docs/sharpness.md). A threshold for "
            f"the original's blur score goes to -t/--threshold")
    return value


def open_report_or_fail(path: str, *args, **kwargs):
    """Create the report's temporary file now, so an unwritable path fails before any work."""
    from imgval.report.writers import Report

    try:
        return Report(path, *args, **kwargs)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path!r}: {exc.strerror or exc}", param_hint="-s/--save-path")


@contextlib.contextmanager
def logs_above_the_bar(bar):
    """While a bar is drawn, log lines to the terminal go through tqdm (tqdm.write) so they are
    printed above the bar instead of into it; the console handler keeps its level."""
    root = logging.getLogger()
    console = [h for h in root.handlers if _is_console(h)]
    if bar.disable or not console:
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm([root]):
        root.handlers[-1].setLevel(console[0].level)  # the redirecting handler, added last
        yield


def _is_console(handler: logging.Handler) -> bool:
    return type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr)


class NonEmptyPath(click.Path):
    """A path option that refuses '' (`-s ''` must not silently mean the default)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path is not a file name; give a path or leave the option out", param, ctx)
        return super().convert(value, param, ctx)


def file_path(**kwargs) -> NonEmptyPath:
    return NonEmptyPath(dir_okay=False, **kwargs)


def images_option(command):
    """PATH... as arguments or after -i/--images (the original's form), or both: the command gets
    them all as `inputs`, arguments last."""
    @functools.wraps(command)
    def merged(*args, inputs, paths, **kwargs):
        inputs = tuple(inputs) + tuple(paths)
        if not inputs:
            command_path = click.get_current_context().command_path
            raise click.UsageError(f"give the folders or files to check: {command_path} PATH... (or -i PATH...)")
        return command(*args, inputs=inputs, **kwargs)
    merged = click.argument("paths", nargs=-1, metavar="[PATH]...")(merged)
    return click.option("-i", "--images", "inputs", multiple=True, metavar="PATH...",
                        help="Folders (searched recursively) and image files to check; the same as "
                             "giving them as arguments.")(merged)


include_ext_option = click.option(
    "--include-ext", multiple=True, metavar="EXT",
    help="Also take files with this extension from folders (repeatable or comma-separated, e.g. jfif,jpe); "
         "a file named directly is always taken.  [default: " + " ".join(sorted_extensions()) + "]")
threshold_option = click.option(
    "-t", "--threshold", type=float, default=None, callback=threshold_value,
    help=f"The original's verdict: images whose blur score is below this are blurry_classic (and blurry "
         f"with --blur-verdict classic).  [default: {DEFAULT_THRESHOLD:g}; {FAST_DEFAULT_THRESHOLD:g} with "
         f"--fast, whose scores are on their own scale]",
)
sharpness_threshold_option = click.option(
    "--sharpness-threshold", type=float, default=SHARPNESS_THRESHOLD, show_default=True, callback=threshold_value,
    help=f"Images whose sharpness is below this are blurry (with --blur-verdict sharpness); calibrated on real "
         f"photos of every size (docs/sharpness.md). At most {SHARPNESS_CRISP:g}, the scale's top (a crisp edge).")


def blur_verdict_option(default: str):
    """--blur-verdict; the command gets `blur_verdict`. Where the default is the sharpness verdict,
    giving -t without --blur-verdict means the original's verdict: -t keeps its meaning."""
    def decorate(command):
        @functools.wraps(command)
        def resolved(*args, blur_verdict, threshold, **kwargs):
            if blur_verdict is None:
                blur_verdict = "classic" if threshold is not None else default
            return command(*args, blur_verdict=blur_verdict, threshold=threshold, **kwargs)
        implied = "" if default == "classic" else "; classic when -t is given"
        return click.option(
            "--blur-verdict", type=click.Choice(BLUR_VERDICTS), default=None,
            help="What the blurry column says: sharpness = the sharpness measure (independent of size, contrast "
                 "and noise; images too small or blank to judge get none), classic = the original's blur score "
                 "< -t. Both are always reported (sharpness, blurry_classic).  "
                 f"[default: {default}{implied}]")(resolved)
    return decorate


def mode_options(default: str):
    """--mode default|exact|fast, with --exact and --fast as shorthands; the command gets `mode`."""
    def decorate(command):
        @functools.wraps(command)
        def resolved(*args, mode, exact, fast, **kwargs):
            if exact and fast:
                raise click.UsageError("--exact and --fast contradict each other; give one of them.")
            return command(*args, mode="exact" if exact else "fast" if fast else mode, **kwargs)
        resolved = click.option("--fast", is_flag=True,
                                help="Shorthand for --mode fast: score a 1/2-1/8 size decode (much faster on "
                                     "large JPEGs; its own score scale and threshold).")(resolved)
        resolved = click.option("--exact", is_flag=True,
                                help="Shorthand for --mode exact: the original tool's scores exactly "
                                     "(colour decode, then grayscale).")(resolved)
        return click.option("--mode", type=click.Choice(MODES), default=default, show_default=True,
                            help="How pixels are decoded for the blur score: default = luminance decoded "
                                 "directly (the original's scores within rounding: median difference 0.25%, "
                                 "the same blurry flags on real photos), exact = as the original (identical "
                                 "scores), fast = reduced-size decode on its own scale (see docs/performance.md)."
                            )(resolved)
    return decorate


verbose_option = click.option("-v", "--verbose", is_flag=True, help="Log every image to stderr.")
max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
    help="Refuse images with more pixels than this (decompression bombs).",
)
max_memory_option = click.option(
    "--max-memory", type=click.IntRange(min=1), default=DEFAULT_MAX_MEMORY // 1_000_000, show_default=True,
    metavar="MB",
    help="Refuse images whose decoded pixels would take more than this many megabytes (channels and bit "
         "depth counted, every page or frame of the file), before decoding them: bombs that stay under "
         "--max-pixels. Each of --jobs workers may use this much, plus ~150 MB.",
)


def log_record(record: Record) -> None:
    if record.error:
        log.warning("%s: %s", printable(shown(record.filepath)), record.error)
    elif log.isEnabledFor(logging.INFO):  # off without -v or --log-file: no name escaped for nothing
        sharpness = "" if record.sharpness is None else f" sharpness={record.sharpness:.3f}"
        log.info("%s score=%.2f%s blurry=%s%s", printable(shown(record.filepath)), record.score, sharpness,
                 record.blurry, f" ({record.blur_status})" if record.blurry is None else "")


def setup_logging_or_fail(verbose: bool, log_file: str | None) -> None:
    try:
        setup_logging(verbose, log_file)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {log_file!r}: {exc.strerror or exc}", param_hint="--log-file")


# -- commands that work from a finished report (dupes, report) --

results_argument = click.argument("results_path", metavar="RESULTS", type=file_path(), default="results.csv")
radius_option = click.option(
    "--dup-radius", type=click.IntRange(min=0, max=64), default=None,
    help="Regroup from the report's hash, hash_oriented, hash_rotated and sha256 columns with this radius (bits of 64).  "
         "[default: the report's dup_group column, as the scan grouped it]")


def load_or_fail(path: str) -> Results:
    from imgval.report.reader import ResultsError, load_results

    try:
        return load_results(path)
    except ResultsError as exc:
        raise click.BadParameter(str(exc), param_hint="RESULTS")


# -- where the analysis runs (batch/engine.py) --

def engine_options(command):
    """--scheduler, --scheduler-file, --cluster, --cluster-jobs, --cluster-option; the command
    gets `engine`: (engine name, ClusterSpec or None). DASK_SCHEDULER_ADDRESS is honoured as Dask
    does, when no option names another place."""
    @functools.wraps(command)
    def resolved(*args, scheduler, scheduler_file, cluster, cluster_jobs, cluster_option, **kwargs):
        return command(*args, engine=engine_choice(scheduler, scheduler_file, cluster, cluster_jobs, cluster_option),
                       **kwargs)
    for option in reversed((
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Analyse on the workers of this running Dask scheduler (tcp://HOST:8786).  "
                          "[default: $DASK_SCHEDULER_ADDRESS if set, else this machine's worker processes]"),
        click.option("--scheduler-file", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="Analyse on the Dask scheduler described by this file (dask scheduler --scheduler-file)."),
        click.option("--cluster", metavar="KIND", default=None, callback=_cluster_option,
                     help="Start a Dask cluster for this run: local[:N] (N worker processes, default --jobs) "
                          "or a batch system through dask-jobqueue: slurm, pbs, sge, lsf, htcondor, oar, moab."),
        click.option("--cluster-jobs", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Batch-system jobs of workers to keep running (--cluster slurm etc.)."),
        click.option("--cluster-option", multiple=True, metavar="KEY=VALUE",
                     help="A dask-jobqueue cluster argument, e.g. cores=8, memory=16GB, walltime=02:00:00, "
                          "queue=normal, account=NAME; repeat for more. VALUE is read as TOML when it parses "
                          "(numbers, [lists]), else as text."),
    )):
        resolved = option(resolved)
    return resolved


def engine_choice(scheduler, scheduler_file, cluster, cluster_jobs, cluster_option):
    """The options above -> (engine name, ClusterSpec or None); a usage error when they clash."""
    given = [name for name, value in (("--scheduler", scheduler), ("--scheduler-file", scheduler_file),
                                      ("--cluster", cluster)) if value]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} name different places to run; give one of them.")
    batch_system = bool(cluster) and cluster.partition(":")[0].strip().lower() != "local"
    if cluster_option and not batch_system:
        raise click.UsageError("--cluster-option is for a batch-system cluster (--cluster slurm, pbs, ...).")
    if not given:
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip() or None
        if not scheduler:
            return "local", None
    from imgval.batch.cluster import ClusterSpec
    return "dask", ClusterSpec(scheduler=scheduler, scheduler_file=scheduler_file, cluster=cluster,
                               cluster_jobs=cluster_jobs, options=_cluster_options(cluster_option))


def _cluster_option(ctx, param, value):
    """--cluster checked as it is parsed (so `imgval run --check` catches a wrong one too)."""
    if value is not None:
        from imgval.batch.cluster import parse_cluster
        try:
            parse_cluster(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param)
    return value


def _cluster_options(pairs) -> dict:
    from imgval.tomlfile import toml_value
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r}: write it as KEY=VALUE", param_hint="--cluster-option")
        options[key.strip()] = toml_value(value.strip())
    return options
