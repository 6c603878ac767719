"""Every hit of a case as CSV or JSON, for the examiner's spreadsheet or another tool.

Paths and names come from the suspect's device: the CSV is written by ``csv_safe``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime, timezone
from typing import Iterable, TextIO

from fieldlab.case.queries import HitRow
from fieldlab.report.csv_safe import write_rows_csv

COLUMNS = [f.name for f in fields(HitRow)]


def write_hits_csv(rows: Iterable[HitRow], out: TextIO) -> int:
    return write_rows_csv(rows, COLUMNS, out)


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
