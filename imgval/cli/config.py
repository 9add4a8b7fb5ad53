"""imgval.toml: the steps of an unattended run (sync, scan, report) and their options.

A step's table holds the options of the command the step runs, by their long names
(`save_path` or `save-path` for `--save-path`; `images` for `-i/--images`), so every option
of `imgval sync` and `imgval scan` is configurable, including ones added later, and each
value is checked exactly as on the command line. The whole file is checked before any step
starts: a typo must not surface after a two-hour sync.

Relative paths are relative to the config file's folder (cron starts jobs in $HOME), and `~`
is expanded. Remote locations (s3://, box:, dropbox:) are left as they are.
"""
from __future__ import annotations

import difflib
import json
import os
import shlex
from dataclasses import dataclass

import click

from imgval.storage import is_remote
from imgval.tomlfile import read_toml


STEP_ORDER = ("sync", "scan", "report")
TABLES = ("run",) + STEP_ORDER + ("engine",)
RUN_KEYS = ("quiet", "log_file", "verbose")  # [run]: passed to every step that has the option
# [report]: the scan options (by parameter name) that say what is written and what fails the run
REPORT_PARAMS = ("save_path", "output_format", "fail_on", "html_path", "dup_radius")
# [engine]: where the scan's analysis runs (scan --scheduler, --cluster, ...); its `options`
# table holds the dask-jobqueue cluster's arguments (--cluster-option KEY=VALUE each)
ENGINE_PARAMS = ("scheduler", "scheduler_file", "cluster", "cluster_jobs", "cluster_option")
OWN_TABLE_PARAMS = {"report": REPORT_PARAMS, "engine": ENGINE_PARAMS}  # scan options with a table of their own
NOT_CONFIGURABLE = ("help",)
# Arguments and text options that name local paths (click.Path options are found by their type).
PATH_PARAMS = {"scan": ("inputs",), "sync": ("source", "destinations")}


class ConfigError(Exception):
    """A config file that cannot be run; the message names the file, the table, the key and the fix."""


@dataclass
class Step:
    name: str  # "sync" or "scan" (the scan also writes the report)
    command: click.Command
    args: list[str]  # its command line, checked by click when the config was loaded

    def describe(self) -> str:
        return shlex.join(["imgval", self.name, *self.args])


@dataclass
class Plan:
    steps: list[Step]
    log_file: str | None  # [run] log_file, resolved: where the run itself logs its steps


def load_config(path: str, commands: dict[str, click.Command]) -> Plan:
    """Read and check a config file -> the steps to run, in order. Raises ConfigError."""
    document = _read(path)
    base = os.path.dirname(os.path.abspath(path))
    for table in document:
        if table not in TABLES:
            raise ConfigError(f"{path}: unknown table [{table}]{_suggest(table, TABLES)}; "
                              f"a config has the tables {', '.join(f'[{t}]' for t in TABLES)}")
        if not isinstance(document[table], dict):
            raise ConfigError(f"{path}: {table} must be a table; write it as a [{table}] section")
    run_options = document.get("run", {})
    for key in run_options:
        if _key(key) not in RUN_KEYS:
            raise ConfigError(f"{path}: [run] {key}: unknown option{_suggest(_key(key), RUN_KEYS)}; "
                              f"[run] takes {', '.join(RUN_KEYS)} (options of a step go in its own table)")
    if "report" in document and "scan" not in document:
        raise ConfigError(f"{path}: [report] needs a [scan] table: the report is what the scan writes")
    if "engine" in document and "scan" not in document:
        raise ConfigError(f"{path}: [engine] needs a [scan] table: it says where the scan runs")
    if "sync" not in document and "scan" not in document:
        raise ConfigError(f"{path}: nothing to do; add a [scan] table (and [sync], [report] if wanted), "
                          f"see the README's Unattended runs section")

    steps = []
    for name in ("sync", "scan"):
        if name not in document:
            continue
        if name not in commands:
            raise ConfigError(f"{path}: [{name}]: this version of imgval has no `imgval {name}` command")
        tables = {name: document[name]}
        if name == "scan":
            tables["report"] = document.get("report", {})
            tables["engine"] = _engine_table(path, document.get("engine", {}))
        steps.append(_step(path, base, name, commands[name], tables, run_options))
    log_file = next((_resolve(str(v), base) for k, v in run_options.items() if _key(k) == "log_file"), None)
    return Plan(steps, log_file)


def _engine_table(path: str, table: dict) -> dict:
    """[engine] with its `options` table turned into cluster_option = ["KEY=VALUE", ...]."""
    table = dict(table)
    options = table.pop("options", None)
    if options is None:
        return table
    if not isinstance(options, dict):
        raise ConfigError(f"{path}: [engine] options: must be a table, e.g. options = {{ cores = 8, walltime = "
                          f"\"02:00:00\" }} (the dask-jobqueue cluster's arguments)")
    if any(_key(k) == "cluster_option" for k in table):
        raise ConfigError(f"{path}: [engine]: give the cluster's arguments once, in options or in cluster_option")
    table["cluster_option"] = [f"{key}={json.dumps(value) if not isinstance(value, str) else value}"
                               for key, value in options.items()]
    return table


def _read(path: str) -> dict:
    return read_toml(path, "config", "--config", ConfigError,
                     "see the README's Unattended runs section for the format")


def _key(key: str) -> str:
    return key.replace("-", "_")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _params_by_key(command: click.Command) -> dict[str, click.Parameter]:
    """Config key -> parameter: its long option names and its Python name (`profile` and
    `profile_path` for --profile)."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name in NOT_CONFIGURABLE or not param.expose_value:
            continue
        names = [opt.lstrip("-") for opt in param.opts if opt.startswith("--")] + [param.name]
        for name in names:
            keys.setdefault(_key(name), param)
    return keys


def _step(path, base, name, command, tables, run_options) -> Step:
    by_key = _params_by_key(command)
    given: dict[str, tuple[str, str, object]] = {}  # param name -> (table, key, value)
    for table, options in tables.items():
        allowed = [k for k, p in by_key.items() if _table_of(name, p) == table]
        for key, value in options.items():
            param = by_key.get(_key(key))
            if param is None or _key(key) not in allowed:
                hint = (f"; it belongs in [{_table_of(name, param)}]"
                        if param is not None else _suggest(_key(key), allowed))
                names = sorted({_key_for(by_key[k]) for k in allowed})
                raise ConfigError(f"{path}: [{table}] {key}: not an option of this table{hint}. "
                                  f"[{table}] takes: {', '.join(names)}")
            if param.name in given:
                raise ConfigError(f"{path}: [{table}] {key}: given twice (also as {given[param.name][1]})")
            given[param.name] = (table, key, value)
    for key, value in run_options.items():
        param = by_key.get(_key(key))
        if param is not None and param.name not in given:
            given[param.name] = ("run", key, value)

    for param in command.params:
        if param.required and param.name not in given:
            raise ConfigError(f"{path}: [{name}] needs {_key_for(param)} = ... ({_describe(param)})")

    options: list[str] = []
    arguments: list[str] = []
    for param in command.params:
        if param.name in given:
            table, key, value = given[param.name]
            where = f"{path}: [{table}] {key}"
            values = _values(param, value, where)
            if _is_path(name, param):
                values = [_resolve(v, base) for v in values]
        elif name == "scan" and param.name == "save_path":
            fmt = given.get("output_format", (None, None, "csv"))[2]
            values = [os.path.join(base, f"results.{fmt}")]  # beside the config, not in cron's $HOME
        elif _is_path(name, param) and isinstance(param.default, str) and not os.path.isabs(param.default):
            values = [_resolve(param.default, base)]
        else:
            continue
        if isinstance(param, click.Argument):
            arguments += values
        elif getattr(param, "is_flag", False):
            if values == ["true"]:
                options.append(_long(param))
            elif param.secondary_opts:  # --x/--no-x given false
                options.append(param.secondary_opts[-1])
        else:
            options += [f"{_long(param)}={v}" for v in values]
    args = options + (["--", *arguments] if arguments else [])
    _check(path, name, command, args, given)
    return Step(name, command, args)


def _table_of(step: str, param: click.Parameter) -> str:
    """The config table a step's option is written in."""
    if step == "scan":
        return next((table for table, names in OWN_TABLE_PARAMS.items() if param.name in names), step)
    return step


def _values(param: click.Parameter, value, where: str) -> list[str]:
    """A TOML value -> command-line words, with the checks click cannot do on text."""
    if getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false (got {value!r})")
        return ["true" if value else "false"]
    many = param.multiple or param.nargs != 1
    if isinstance(value, bool):  # `cache = false` must not become a file named "false"
        raise ConfigError(f"{where}: takes a value, not true/false (a flag such as no_cache = true "
                          f"turns things off)")
    if isinstance(value, dict):
        raise ConfigError(f"{where}: must be a value, not a table")
    if isinstance(value, list):
        if many:
            return [_text(v, where) for v in value]
        # a list where the option takes comma-separated values (fail_on = ["blurry", "error"])
        return [",".join(_text(v, where) for v in value)]
    return [_text(value, where)]


def _text(value, where: str) -> str:
    if isinstance(value, (list, dict)):
        raise ConfigError(f"{where}: nested lists or tables are not allowed here")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_path(step: str, param: click.Parameter) -> bool:
    return isinstance(param.type, click.Path) or param.name in PATH_PARAMS.get(step, ())


def _resolve(value: str, base: str) -> str:
    if is_remote(value):
        return value
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def _key_for(param: click.Parameter) -> str:
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return _key(longs[0].lstrip("-")) if longs else param.name


def _long(param: click.Parameter) -> str:
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return longs[0] if longs else param.opts[0]


def _describe(param: click.Parameter) -> str:
    return (getattr(param, "help", None) or param.human_readable_name).split("  [")[0].rstrip(".")


def _check(path: str, name: str, command: click.Command, args: list[str], given) -> None:
    """Let click parse the step's command line now, so every value is checked before any step runs."""
    try:
        with command.make_context(f"imgval {name}", list(args), resilient_parsing=False):
            pass
    except click.BadParameter as exc:
        origin = given.get(exc.param.name) if exc.param is not None else None
        where = f"[{origin[0]}] {origin[1]}" if origin else f"[{name}]"
        raise ConfigError(f"{path}: {where}: {exc.message}") from None
    except click.ClickException as exc:
        raise ConfigError(f"{path}: [{name}]: {exc.format_message()}") from None
