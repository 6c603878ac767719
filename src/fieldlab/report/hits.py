"""Every hit of a case as CSV or JSON, for the examiner's spreadsheet or another tool.

Paths and names come from the suspect's device.  In CSV every value is quoted
and any cell that a spreadsheet would read as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) is prefixed with an apostrophe, as
OWASP recommends against CSV injection.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from datetime import datetime, timezone
from typing import Iterable, TextIO

from fieldlab.case.queries import HitRow

COLUMNS = [f.name for f in fields(HitRow)]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return datetime.fromtimestamp(value, timezone.utc).isoformat()
    return neutralise_formula(str(value))


def write_hits_csv(rows: Iterable[HitRow], out: TextIO) -> int:
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_cell(getattr(row, c)) for c in COLUMNS])
        count += 1
    return count


def write_hits_json(rows: Iterable[HitRow], out: TextIO) -> int:
    """A JSON array written row by row, so a case with millions of hits never sits in memory."""
    out.write("[")
    count = 0
    for row in rows:
        record = asdict(row)
        if record["mtime"] is not None:
            record["mtime"] = datetime.fromtimestamp(record["mtime"], timezone.utc).isoformat()
        out.write(("," if count else "") + "\n  " + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count
