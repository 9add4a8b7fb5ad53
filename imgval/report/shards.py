"""Shard reports and their merge: `imgval scan --shard I/N` writes its rows and, beside them,
REPORT.shard.json (which shard, how many files the full listing had, where each of its rows
stands in it); `imgval merge` interleaves the shards' rows back into the listing's order and
runs the finishing pass (dup_group) over all of them, so the merged report is byte-identical to
an unsharded run's.

Rows pass through as they were written (CSV cells as text, JSON values as parsed): nothing is
re-formatted, so nothing can drift.
"""
from __future__ import annotations

import csv
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass

from imgval.dupes.index import DEFAULT_RADIUS
from imgval.report.atomicfile import AtomicFile
from imgval.report.writers import Report

SIDECAR_SUFFIX = ".shard.json"
SIDECAR_VERSION = 1


class MergeError(Exception):
    """Shard reports that cannot be merged; the message names the file and what to do."""


@dataclass
class ShardReport:
    path: str
    index: int
    count: int
    listed: int  # rows of the full run (every shard's listing had as many)
    positions: list[int]  # where each of this shard's rows stands in the full run
    settings: str  # the scan settings' fingerprint: shards of one run share it
    output_format: str


def sidecar_path(report_path: str) -> str:
    return report_path + SIDECAR_SUFFIX


def write_sidecar(report_path: str, index: int, count: int, listed: int, positions: list[int],
                  settings: str, output_format: str) -> None:
    """REPORT.shard.json, written atomically like the report itself."""
    out = AtomicFile(sidecar_path(report_path))
    try:
        json.dump({"imgval_shard": SIDECAR_VERSION, "shard": [index, count], "listed": listed,
                   "settings": settings, "format": output_format, "positions": positions}, out.handle)
        out.commit()
    except BaseException:
        out.discard()
        raise


def read_shard(report_path: str) -> ShardReport:
    side = sidecar_path(report_path)
    try:
        with open(side, encoding="utf-8") as handle:
            data = json.load(handle)
        index, count = data["shard"]
        return ShardReport(report_path, int(index), int(count), int(data["listed"]),
                           [int(p) for p in data["positions"]], str(data["settings"]), str(data["format"]))
    except FileNotFoundError:
        raise MergeError(f"{report_path}: no {side} beside it; merge the reports that `imgval scan --shard I/N` "
                         "wrote (each keeps its .shard.json)") from None
    except OSError as exc:
        raise MergeError(f"cannot read {side}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MergeError(f"{side} is damaged ({exc}); run that shard again") from None


def check_complete(shards: list[ShardReport]) -> None:
    """Every shard of one run exactly once, made with the same settings and the same listing."""
    count = shards[0].count
    for shard in shards:
        if (shard.count, shard.listed, shard.settings, shard.output_format) != (
                count, shards[0].listed, shards[0].settings, shards[0].output_format):
            raise MergeError(f"{shard.path} is not from the same run as {shards[0].path} (different shard count, "
                             "listing, scan settings or report format); merge the shards of one run")
    seen: dict[int, str] = {}
    for shard in shards:
        if shard.index in seen:
            raise MergeError(f"shard {shard.index}/{count} is given twice: {seen[shard.index]} and {shard.path}")
        seen[shard.index] = shard.path
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise MergeError(f"missing shard(s) {', '.join(missing)}; run them, then merge all {count}")


def merge_reports(paths: list[str], out_path: str, dup_radius: int = DEFAULT_RADIUS) -> Report:
    """Merge the shard reports at `paths` into `out_path` (same format); returns the closed Report
    (its .duplicates are the merged groups). Raises MergeError."""
    shards = [read_shard(path) for path in paths]
    check_complete(shards)
    output_format = shards[0].output_format
    sources = [_rows(shard) for shard in shards]
    columns = next((source.columns for source in sources if source.columns), [])
    for source in sources:
        if source.columns and source.columns != columns:
            raise MergeError(f"{source.shard.path} has other columns than {sources[0].shard.path} "
                             "(made by another imgval version?); run the shards with one version")
    head = sources[0].head
    report = Report(out_path, output_format, head.get("images", []), head.get("threshold"),
                    head.get("fix_size", True), columns=tuple(columns), values=_as_is,
                    dup_radius=dup_radius)
    try:
        expected = 0
        for position, row in heapq.merge(*(iter(source) for source in sources), key=lambda item: item[0]):
            if position != expected:
                raise MergeError(f"the shards' rows do not make one run (row {expected} is missing); "
                                 "run the shards again from the same listing")
            report.write(row)
            expected += 1
        report.close(blurry_counts=sum(source.head.get("blurry_counts", 0) for source in sources))
    except BaseException:
        report.discard()
        raise
    return report


def _as_is(values: dict) -> dict:
    return values


@dataclass
class _Rows:
    shard: ShardReport
    columns: list[str]
    head: dict  # JSON: the report's other keys (images, threshold, fix_size, blurry_counts)
    rows: Iterator

    def __iter__(self):
        count = 0
        for position, row in zip(self.shard.positions, self.rows):
            count += 1
            yield position, row
        if count != len(self.shard.positions):
            raise MergeError(f"{self.shard.path} has {count} rows where its .shard.json lists "
                             f"{len(self.shard.positions)}; run that shard again")


def _csv_rows(handle, reader, columns: list[str]) -> Iterator[dict]:
    with handle:
        for cells in reader:
            yield dict(zip(columns, cells))


def _rows(shard: ShardReport) -> _Rows:
    try:
        if shard.output_format == "json":
            with open(shard.path, encoding="utf-8") as handle:
                data = json.load(handle)
            results = data.pop("results")
            columns = list(results[0]) if results else []
            return _Rows(shard, columns, data, iter(results))
        handle = open(shard.path, newline="", encoding="utf-8")
        reader = csv.reader(handle)
        columns = next(reader)
        return _Rows(shard, columns, {}, _csv_rows(handle, reader, columns))
    except OSError as exc:
        raise MergeError(f"cannot read {shard.path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, StopIteration) as exc:
        raise MergeError(f"{shard.path} is not an imgval report ({exc!r})") from None
