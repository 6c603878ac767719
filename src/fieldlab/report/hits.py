"""Every hit of a case as CSV or JSON, for the examiner's spreadsheet or another tool.

The CSV has one row per item and hash set: a set that holds a file's MD5 and SHA-1 matched it once, not twice,
so its methods are joined (``md5+sha1``) instead of doubling the rows a reader would count.  The JSON keeps every
match apart, each with its own method, distance and known hash, for tools that want the detail.

Paths and names come from the suspect's device: the CSV is written by ``csv_safe``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from itertools import groupby
from typing import Iterable, Iterator, TextIO

from fieldlab.case.read_rows import HitRow, deciding_category
from fieldlab.hashsets.records import EXACT_METHODS, MatchMethod
from fieldlab.report.csv_safe import write_rows_csv

COLUMNS = [f.name for f in fields(HitRow)]
METHOD_ORDER = tuple(MatchMethod)


def one_row_per_set(rows: Iterable[HitRow]) -> Iterator[HitRow]:
    """The hits of each item and set as one row, methods joined in METHOD_ORDER.

    ``rows`` come ordered by item and set (``queries.hits_query``), so this streams.  The category is the exact matches'
    (the most serious if the set's own records disagree), a near match's only without one; distance, transform
    and known hash are the near match's, if any.
    """
    for _, group in groupby(rows, key=lambda r: (r.exhibit, r.item_id, r.hash_set)):
        matches = sorted(group, key=lambda r: _method_rank(r.method))
        if len(matches) == 1:
            yield matches[0]
            continue
        exact = [m for m in matches if m.method in EXACT_METHODS] or matches
        near = next((m for m in matches if m.method not in EXACT_METHODS), None)
        yield replace(
            matches[0],
            method="+".join(dict.fromkeys(m.method for m in matches)),
            category=deciding_category([(0, m.profile, m.category) for m in exact]),
            distance=near.distance if near else None,
            transform=near.transform if near else None,
            matched_hash=near.matched_hash if near else None,
        )


def _method_rank(method: str) -> int:
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def write_hits_csv(rows: Iterable[HitRow], out: TextIO) -> int:
    """One row per item and set (``one_row_per_set``); returns the number of rows."""
    return write_rows_csv(one_row_per_set(rows), COLUMNS, out)


def write_hits_json(rows: Iterable[HitRow], out: TextIO) -> int:
    """A JSON array of every match, written row by row, so a case with millions of hits never sits in memory."""
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
