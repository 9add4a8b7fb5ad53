"""`imgval run --config imgval.toml`: the configured steps (sync, scan, report) in order, for cron."""
from __future__ import annotations

import hashlib
import logging
import os
import sys

import click
from imgval.batch.lock import Locked, RunLock
from imgval.cli import exitcodes
from imgval.cli.config import ConfigError, Step, load_config
from imgval.cli.options import HELP, setup_logging
from imgval.cli.preflight import check_plan
from imgval.cli.outputs import OutputError, check_output
from imgval.cli.scan import scan
from imgval.cli.sync import sync_command
from imgval.defaults import user_cache_folder

log = logging.getLogger("imgval")
STOPPING_CODES = (exitcodes.USAGE, exitcodes.LOCKED, exitcodes.INTERRUPTED)  # later steps must not run


def step_commands() -> dict[str, click.Command]:
    """The commands a config's steps run; a step whose command is missing is a config error."""
    return {"scan": scan, "sync": sync_command}


def run_lock(config_path: str) -> RunLock:
    """The lock of one config file, kept in the user's cache folder: the config's own folder
    (/etc, a shared drive) may not be writable."""
    config = os.path.realpath(config_path)
    digest = hashlib.sha256(config.encode()).hexdigest()[:12]
    folder = os.path.join(user_cache_folder(), "locks")
    os.makedirs(folder, exist_ok=True)
    return RunLock(os.path.join(folder, f"{os.path.basename(config)}-{digest}.lock"), f"running {config_path}")


def execute(step: Step) -> int:
    """Run one step as its command would run from the command line; its exit code."""
    try:
        with step.command.make_context(f"imgval {step.name}", list(step.args)) as ctx:
            step.command.invoke(ctx)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else exitcodes.FAILED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # named as the user typed it, not as `Usage: imgval scan`
        click.echo(f"imgval run: step {step.name}: {exc.format_message()}", err=True)
        return exc.exit_code
    return exitcodes.OK


@click.command("run", context_settings=HELP)
@click.option("-c", "--config", "config_path", required=True, metavar="FILE.toml",
              help="The steps to run and their options (see the README's Unattended runs section).")
@click.option("--check", is_flag=True,
              help="Check the config and everything the run needs (output folders, inputs, credentials), "
                   "print the command each step would run; run nothing.")
def run_command(config_path, check):
    """Run the steps of a config file in order: sync, then scan, which writes the report.

    \b
    One line for a crontab:
        30 2 * * *  imgval run --config /srv/scans/imgval.toml

    The whole config, the output folders (created when their parent exists), the inputs and the
    storages' credentials are checked before the first step starts. A step that fails (exit 1)
    does not stop the steps after it; a usage error (2) or a run already in progress (4)
    stops at once. The exit code is the first failure's, else the scan's (0, or 3 when
    [report] fail_on found images).
    """
    try:
        plan = load_config(config_path, step_commands())
    except ConfigError as exc:
        click.echo(f"imgval run: {exc}", err=True)
        sys.exit(exitcodes.USAGE)
    needs = check_plan(plan, list_inputs=check or any(step.name == "sync" for step in plan.steps))
    if needs.problems:
        for problem in needs.problems:
            click.echo(f"imgval run: {config_path}: {problem}", err=True)
        sys.exit(exitcodes.USAGE)
    if check:
        for folder in needs.create:
            click.echo(f"# would create the folder {folder}")
        for step in plan.steps:
            click.echo(step.describe())
        return
    for folder in needs.create:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            click.echo(f"imgval run: {config_path}: cannot create the folder {folder}: {exc.strerror or exc}", err=True)
            sys.exit(exitcodes.USAGE)
    try:
        lock = run_lock(config_path).acquire()
    except Locked as exc:
        click.echo(f"imgval run: {exc}", err=True)
        sys.exit(exitcodes.LOCKED)
    except OSError as exc:
        click.echo(f"imgval run: cannot create the lock file in the cache folder: {exc}", err=True)
        sys.exit(exitcodes.FAILED)
    try:
        if plan.log_file:
            check_output(plan.log_file, [])  # not a FIFO (opening it would block), a device or a folder
        setup_logging(False, plan.log_file)  # each step sets up its own logging again, appending
    except (OutputError, OSError) as exc:
        reason = exc if isinstance(exc, OutputError) else f"cannot write {plan.log_file}: {exc.strerror or exc}"
        click.echo(f"imgval run: {config_path}: [run] log_file: {reason}", err=True)
        sys.exit(exitcodes.USAGE)
    failed = exitcodes.OK
    try:
        for step in plan.steps:
            log.info("imgval run: %s", step.describe())
            code = execute(step)
            log.info("imgval run: step %s finished with exit code %d", step.name, code)
            if code in STOPPING_CODES:
                click.echo(f"imgval run: step {step.name} stopped the run (exit code {code}).", err=True)
                sys.exit(code)
            if code != exitcodes.OK:
                if code != exitcodes.FLAGGED:
                    click.echo(f"imgval run: step {step.name} failed (exit code {code}); going on.", err=True)
                failed = failed or code
    finally:
        lock.release()
    sys.exit(failed)
