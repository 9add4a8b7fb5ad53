"""Records -> CSV or JSON reports, written atomically (the run's counts: summary.py)."""
from __future__ import annotations

import csv
import json
import math
import sys
import typing
from dataclasses import fields

from imgval.analysis.analyze import Record
from imgval.analysis.exif import EXIF_COLUMNS
from imgval.dupes.groups import GroupCounts, GroupingWriter, folder_of
from imgval.dupes.index import DEFAULT_RADIUS
from imgval.escaped_names import shown
from imgval.report.atomicfile import AtomicFile
from imgval.report.runmeta import companion_path
from imgval.report.spreadsheet import neutralise

# dup_group (1, 2, ... largest group first) is filled in by a finishing pass: see dupes/groups.py.
CORE_COLUMNS = ("filepath", "score", "blurry", "hash", "width", "height", "format", "sharpness", "blur_status",
                "blurry_classic", "puid", "mime", "ext_mismatch", "sha256", "md5", "hash_oriented", "hash_rotated",
                "dup_group", "bag")
FILE_COLUMNS = ("file_size", "mode", "channels", "bit_depth", "compression", "icc_profile")  # from the header
CONFORMANCE_COLUMNS = ("conformance", "conformance_issues")
COLUMNS = (CORE_COLUMNS + FILE_COLUMNS + CONFORMANCE_COLUMNS + EXIF_COLUMNS
           + ("exif_ok", "exif_status", "exif_issues", "error"))


def _columns_of_type(kind: type) -> tuple[str, ...]:
    hints = typing.get_type_hints(Record)
    return tuple(f.name for f in fields(Record) if hints[f.name] in (kind, kind | None))


# Pandas-safe reports (pd.read_csv, pd.DataFrame(json["results"])): a boolean column holds only
# True/False, so df[df.blurry] and df[~df.exif_ok] work on every report; a verdict that could not
# be made is False, and its status column (blur_status, exif_status) or the error column says so. An integer
# column is never empty (pandas would read it as float): 0 stands for unknown or none.
BOOLEAN_COLUMNS = _columns_of_type(bool)
INTEGER_COLUMNS = _columns_of_type(int) + ("dup_group",)
# EXIF values that are numbers: numbers in JSON (null when absent); the CSV's text reads as numbers.
NUMERIC_EXIF_COLUMNS = ("x_resolution", "y_resolution", "bits_per_sample", "orientation")


def plain_values(values: dict) -> dict:
    """The writers' rule for every report: booleans never empty, integers never empty."""
    out = dict(values)
    for column in BOOLEAN_COLUMNS:
        if column in out and out[column] is None:
            out[column] = False
    for column in INTEGER_COLUMNS:
        if column in out and out[column] is None:
            out[column] = 0
    return out


def exif_status(ok: bool | None) -> str:
    """exif_ok in words: pass, fail, or empty when the file could not be checked (see error)."""
    return "" if ok is None else "pass" if ok else "fail"



def record_values(record: Record) -> dict:
    """The record as a flat mapping of report columns to plain values (None when unknown)."""
    values = {
        "filepath": shown(record.filepath),
        "score": record.score,
        "blurry": record.blurry,
        "hash": record.hash,
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "sharpness": record.sharpness,
        "blur_status": record.blur_status,
        "blurry_classic": record.blurry_classic,
        "puid": record.puid,
        "mime": record.mime,
        "ext_mismatch": record.ext_mismatch,
        "sha256": record.sha256,
        "md5": record.md5,
        "hash_oriented": record.hash_oriented,
        "hash_rotated": record.hash_rotated,
        "dup_group": None,  # known only when every image has been seen
        "bag": record.bag,
        "conformance": record.conformance,
        "conformance_issues": record.conformance_issues,
    }
    values.update({column: getattr(record, column) for column in FILE_COLUMNS})
    values.update({column: record.exif.get(column, "") for column in EXIF_COLUMNS})
    values.update(exif_ok=record.exif_ok, exif_status=exif_status(record.exif_ok), exif_issues=record.exif_issues,
                  error=record.error)
    return values


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return str(value)  # bools as True/False and floats in full, as pandas wrote them


class CsvWriter:
    """CSV rows, one per record as it arrives (memory does not grow with the run)."""

    def __init__(self, handle, columns, values):
        self.columns, self.values = columns, values
        self.writer = csv.writer(handle)
        self.writer.writerow(columns)

    def write(self, record: Record) -> None:
        self.write_values(self.values(record))

    def write_values(self, values: dict) -> None:
        values = plain_values(values)
        self.writer.writerow([csv_cell(values[c]) for c in self.columns])

    def finish(self, blurry_counts: int) -> None:
        pass


class JsonWriter:
    """A JSON object with the original tool's keys: images, threshold, fix_size, results,
    blurry_counts. Results are streamed into the array as they arrive."""

    def __init__(self, handle, values, images: list[str], threshold: float, fix_size: bool,
                 meta: dict | None = None):
        self.handle, self.values = handle, values
        self.first = True
        head = {"images": [shown(i) for i in images], "threshold": threshold, "fix_size": fix_size}
        if meta is not None:
            head["meta"] = meta
        handle.write(json.dumps(head, indent=4)[:-2] + ',\n    "results": [')

    def write(self, record: Record) -> None:
        self.write_values(self.values(record))

    def write_values(self, values: dict) -> None:
        values = {k: _json_value(k, v) for k, v in plain_values(values).items()}
        self.handle.write(("\n        " if self.first else ",\n        ") + json.dumps(values))
        self.first = False

    def finish(self, blurry_counts: int) -> None:
        self.handle.write(f'\n    ],\n    "blurry_counts": {blurry_counts}\n}}\n')


class ReportWriteError(Exception):
    """The report could not be written (disk full, quota, file too large); the message says why."""


class Report:
    """A report being written: to a file that appears only when complete, or to stdout.
    Failures to write it (the OS's, e.g. ENOSPC) are raised as ReportWriteError."""

    def __init__(self, path: str | None, output_format: str, images: list[str], threshold: float,
                 fix_size: bool = True, columns=COLUMNS, values=record_values, dup_radius: int = DEFAULT_RADIUS,
                 meta: dict | None = None):
        """meta: the run's metadata (runmeta.scan_meta): JSON's `meta` key, or for a CSV its
        companion file, written with the report."""
        self.file = AtomicFile(path) if path else None
        handle = self.file.handle if self.file else sys.stdout
        self.companion = meta if output_format != "json" and path else None
        if output_format == "json":
            self.writer = JsonWriter(handle, values, images, threshold, fix_size, meta)
        else:
            self.writer = CsvWriter(handle, columns, values)
        if "dup_group" in columns:
            self.writer = GroupingWriter(self.writer, dup_radius, folder_of(path))

    @property
    def duplicates(self) -> GroupCounts:
        """Duplicate groups found (sha256 or pHash within dup_radius); known after close()."""
        return getattr(self.writer, "counts", GroupCounts())

    def write(self, record: Record) -> None:
        try:
            self.writer.write(record)
        except OSError as exc:
            raise ReportWriteError(exc.strerror or str(exc)) from exc

    def close(self, blurry_counts: int) -> None:
        try:
            self.writer.finish(blurry_counts)
            if self.companion is not None:
                companion = AtomicFile(companion_path(self.file.path))
                try:
                    json.dump(self.companion, companion.handle, indent=2)
                    companion.handle.write("\n")
                except BaseException:
                    companion.discard()
                    raise
                companion.commit()
            if self.file:
                self.file.commit()
        except OSError as exc:
            raise ReportWriteError(exc.strerror or str(exc)) from exc

    def discard(self) -> None:
        if isinstance(self.writer, GroupingWriter):
            self.writer.discard()
        if self.file:
            self.file.discard()


def _json_value(column: str, value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if column in NUMERIC_EXIF_COLUMNS and isinstance(value, str):
        return _number(value)
    return value


def _number(text: str):
    """An EXIF number as JSON: 300 or 299.5; None when absent; the text when it is not one
    number (bits_per_sample "5 6 5")."""
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number
