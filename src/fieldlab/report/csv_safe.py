"""CSV an examiner can open in a spreadsheet without the suspect's file names running as formulas.

Every value is quoted, and any cell a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed
with an apostrophe, as OWASP recommends against CSV injection.  Times (floats,
seconds since the epoch) are written as ISO 8601 UTC.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from typing import Iterable, Sequence, TextIO

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        try:
            return datetime.fromtimestamp(value, timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            return ""
    return neutralise_formula(str(value))


def write_rows_csv(rows: Iterable[object], columns: Sequence[str], out: TextIO) -> int:
    """One row per dataclass, its ``columns`` in order; returns how many rows were written."""
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(getattr(row, column)) for column in columns])
        count += 1
    return count
