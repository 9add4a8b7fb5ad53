"""What an `imgval run` needs, checked before its first step: the folders its outputs go to
(created when their parent exists), its inputs (there, listable) and the storages' credentials.
A config that would fail half-way (after a two-hour sync) fails here instead, with one message."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import click

from imgval.cli.config import Plan, Step
from imgval.storage import is_remote


@dataclass
class Needs:
    create: list[str] = field(default_factory=list)  # output folders to make before the first step
    problems: list[str] = field(default_factory=list)  # each one a reason the run cannot work


def check_plan(plan: Plan, list_inputs: bool) -> Needs:
    """Everything the plan's steps need. list_inputs: list the scan's inputs that no sync step
    fills (a step-free run lists them as its first act anyway)."""
    needs = Needs()
    if plan.log_file:
        _output_folder("[run] log_file", plan.log_file, needs)
    sync_targets: list[str] = []
    for step in plan.steps:
        params = _params(step)
        for param in step.command.params:
            kind = param.type
            if isinstance(kind, click.Path) and not kind.exists and not kind.dir_okay and params.get(param.name):
                _output_folder(f"[{step.name}] {param.name}", str(params[param.name]), needs)
        if step.name == "sync":
            sync_targets = list(params["destinations"])
            _storage(params["source"], "source", needs)
            for url in sync_targets:
                _storage(url, "destination", needs)
        elif step.name == "scan":
            for url in params["inputs"]:
                _scan_input(url, sync_targets, list_inputs, needs)
    return needs


def _params(step: Step) -> dict:
    with step.command.make_context(f"imgval {step.name}", list(step.args), resilient_parsing=False) as ctx:
        return dict(ctx.params)


def _output_folder(where: str, path: str, needs: Needs) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        if not os.access(folder, os.W_OK | os.X_OK):
            needs.problems.append(f"{where}: cannot write in {folder} (no permission)")
    elif os.path.isdir(os.path.dirname(folder)):
        if folder not in needs.create:
            needs.create.append(folder)
    else:
        needs.problems.append(f"{where}: the folder {folder} does not exist, nor its parent; create it first")


def _storage(url: str, role: str, needs: Needs) -> None:
    from imgval.cli.sync import open_checked

    try:
        open_checked(url, role)
    except click.UsageError as exc:
        needs.problems.append(f"[sync] {exc.format_message()}")


def _scan_input(url: str, sync_targets: list[str], list_inputs: bool, needs: Needs) -> None:
    from imgval.batch.discover import discover

    filled = [t for t in sync_targets if url == t or url.startswith(t.rstrip("/") + "/")]
    if filled:  # the sync step fills it: it may be empty now; its storage must answer
        if is_remote(url):
            from imgval.cli.sync import open_checked

            try:
                open_checked(filled[0], "destination")
            except click.UsageError as exc:
                needs.problems.append(f"[scan] images {url}: {exc.format_message()}")
        return
    if not is_remote(url) and not os.path.lexists(url):
        needs.problems.append(f"[scan] images: no such file or folder {url!r}")
    elif list_inputs:
        found = discover([url])
        for _, reason in found.failed_inputs:
            needs.problems.append(f"[scan] images {url}: {reason}")
        if not found.failed_inputs and not found.paths and not found.unlistable:
            needs.problems.append(f"[scan] images {url}: no image files found")
