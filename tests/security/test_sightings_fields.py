"""Issue 18, point 6: a CSV field over the csv module's limit is one malformed line, not a failed import."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from fieldlab.ops.database import OpsDatabase, locate
from fieldlab.ops.sightings import import_sightings

HEADER = "timestamp_utc,ip,port,network,client_guid,file_hash,file_name,file_size\n"
ROW = "2024-06-01T10:00:00Z,203.0.113.{n},6346,gnutella,GUID{n},{md5},file{n}.jpg,20480\n"
NOW = datetime(2024, 7, 1, tzinfo=timezone.utc)


def test_an_over_long_field_is_reported_with_its_line_and_the_import_goes_on(tmp_path: Path) -> None:
    lines = [HEADER, ROW.format(n=10, md5="a" * 32),
             ROW.format(n=11, md5="b" * 32).replace("file11.jpg", "x" * 200_000),  # line 3: past the 131,072 limit
             ROW.format(n=12, md5="c" * 32),
             '2024-06-01T10:00:00Z,203.0.113.13,6346,gnutella,GUID13,' + "d" * 32 + ',"' + "y" * 200_000 + "\n",
             ROW.format(n=14, md5="e" * 32)]  # line 5: an unclosed quote that runs past the limit
    db = OpsDatabase.open(locate(ops_dir=tmp_path / "ops"))
    try:
        report = import_sightings(db, io.BytesIO("".join(lines).encode()), file_name="export.csv", now=NOW)
    finally:
        db.close()
    assert [(p.line, "field larger than field limit" in p.message) for p in report.problems] == [(3, True), (5, True)]
    assert report.rows == 5 and report.malformed == 2
    assert report.added == 3  # lines 2, 4 and 6 were read and stored
