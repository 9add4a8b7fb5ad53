"""The run's counts, as the scan prints them and --fail-on judges them."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: --fail-on's check (a usage error) must not load the analysis
    from imgval.analysis.analyze import Record


@dataclass
class Summary:
    count: int = 0
    blurry: int = 0
    errors: int = 0
    exif_failed: int = 0
    reused: int = 0  # records taken from the cache rather than analysed in this run
    duplicates: int = 0  # images in a dup_group: known when the report is complete (Report.duplicates)
    skipped: Counter = field(default_factory=Counter)  # files in the folders not taken, by extension
    unjudged: Counter = field(default_factory=Counter)  # readable images with no blur verdict, by blur_status

    def add(self, record: Record, reused: bool = False) -> None:
        self.count += 1
        self.blurry += bool(record.blurry)
        self.errors += bool(record.error)
        self.exif_failed += record.exif_ok is False
        if record.blurry is None and not record.error:
            self.unjudged[record.blur_status] += 1
        self.reused += reused

    @property
    def analysed(self) -> int:
        return self.count - self.reused

    @property
    def percent_blurry(self) -> float:
        return 100.0 * self.blurry / self.count if self.count else 0.0
