"""The error report of an import, written while the file is read.

One JSON object per line: the row, the reason, and whether the row was rejected (it
should be fixed and imported again) or skipped on purpose (documented, e.g. a credit
note). Lines come in the order the file is read, sorted within each batch; the import
keeps only counts and the first few issues in memory, so a file with a million bad rows
costs a large report, not a large process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from orderops.ingest.csv_feeds import RowIssue

ISSUES_KEPT = 100
"""Issues kept in memory for the caller to show; the report holds every one."""


def default_report_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.errors.jsonl")


class IssueReport:
    """Use as ``with IssueReport(path) as report: report.add(issues)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected = 0
        self.skipped = 0
        self.first: list[RowIssue] = []
        self._file: IO[str] | None = None

    def __enter__(self) -> Self:
        self._file = self.path.open("w", encoding="utf-8")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, issues: Iterable[RowIssue]) -> None:
        if self._file is None:
            raise RuntimeError("the report is not open")
        for issue in sorted(issues, key=lambda issue: issue.row):
            kind = "skipped" if issue.skipped else "rejected"
            self._file.write(
                json.dumps({"row": issue.row, "reason": issue.reason, "kind": kind}) + "\n"
            )
            if issue.skipped:
                self.skipped += 1
            else:
                self.rejected += 1
            if len(self.first) < ISSUES_KEPT:
                self.first.append(issue)
