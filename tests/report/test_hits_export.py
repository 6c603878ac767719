"""Hits out as CSV and JSON: every field present, evidence strings unable to attack a spreadsheet."""

from __future__ import annotations

import csv
import io
import json

import pytest

from fieldlab.case.queries import HitRow
from fieldlab.report.csv_safe import neutralise_formula
from fieldlab.report.hits import COLUMNS, write_hits_csv, write_hits_json


def _row(path: str) -> HitRow:
    return HitRow(
        exhibit="EX1", item_id=7, locator="file:" + path, path=path, size=10, file_type="jpeg", md5="a" * 32, sha1="b" * 40,
        sha256=None, category="A", profile="uk", hash_set="caid", hash_set_sha256="c" * 64, method="md5",
        mtime=0.0, distance=None, transform=None, matched_hash=None,
    )


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_cells_that_a_spreadsheet_would_run_are_neutralised(name: str) -> None:
    out = io.StringIO()
    write_hits_csv([_row(name)], out)
    (header, record) = list(csv.reader(io.StringIO(out.getvalue())))
    assert record[COLUMNS.index("path")] == "'" + name


def test_csv_quotes_every_value_so_commas_quotes_and_newlines_survive() -> None:
    name = 'a,b"c\nd.jpg'
    out = io.StringIO()
    assert write_hits_csv([_row(name)], out) == 1
    text = out.getvalue()
    assert text.startswith('"exhibit","item_id","locator","path"')
    (header, record) = list(csv.reader(io.StringIO(text)))
    assert header == COLUMNS
    assert record[COLUMNS.index("path")] == name
    assert record[COLUMNS.index("mtime")] == "1970-01-01T00:00:00+00:00"
    assert record[COLUMNS.index("sha256")] == ""


def test_ordinary_names_are_left_alone() -> None:
    assert neutralise_formula("Users/alex/a.jpg") == "Users/alex/a.jpg"


def test_json_holds_every_field_and_stays_valid_for_hostile_names() -> None:
    out = io.StringIO()
    assert write_hits_json([_row('x"\n\u202e.jpg'), _row("y.jpg")], out) == 2
    records = json.loads(out.getvalue())
    assert [r["path"] for r in records] == ['x"\n\u202e.jpg', "y.jpg"]
    assert set(records[0]) == set(COLUMNS)


def test_json_of_no_hits_is_an_empty_list() -> None:
    out = io.StringIO()
    write_hits_json([], out)
    assert json.loads(out.getvalue()) == []
