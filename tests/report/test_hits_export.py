"""Hits out as CSV and JSON: every field present, one CSV row per item and set, evidence strings unable to attack a
spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.read_rows import HitRow
from fieldlab.report.csv_safe import neutralise_formula
from fieldlab.report.hits import COLUMNS, write_hits_csv, write_hits_json
from tests.builders import KnownFile, write_csv_hashset, write_tree


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


def _hit(item_id: int, hash_set: str, method: str, category: str = "A", **near: object) -> HitRow:
    return replace(_row(f"item{item_id}.jpg"), item_id=item_id, hash_set=hash_set, method=method, category=category,
                   **near)


def test_csv_has_one_row_per_item_and_set_with_the_methods_joined() -> None:
    rows = [_hit(7, "caid", "md5"), _hit(7, "caid", "sha1"), _hit(7, "projectvic", "md5"), _hit(8, "caid", "sha1")]
    out = io.StringIO()
    assert write_hits_csv(rows, out) == 3
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["item_id"], r["hash_set"], r["method"]) for r in records] == [
        ("7", "caid", "md5+sha1"), ("7", "projectvic", "md5"), ("8", "caid", "sha1")]


def test_csv_joins_an_exact_and_a_near_match_of_one_set_keeping_the_near_detail_and_the_exact_category() -> None:
    rows = [_hit(7, "shared", "pdq", "B", distance=12, transform="rotate90", matched_hash="f" * 64),
            _hit(7, "shared", "sha1", "A")]
    (record,) = csv.DictReader(io.StringIO(_csv(rows)))
    assert (record["method"], record["category"], record["distance"], record["transform"], record["matched_hash"]) == (
        "sha1+pdq", "A", "12", "rotate90", "f" * 64)


def test_json_keeps_every_match_apart() -> None:
    rows = [_hit(7, "caid", "md5"), _hit(7, "caid", "sha1")]
    out = io.StringIO()
    assert write_hits_json(rows, out) == 2
    assert [r["method"] for r in json.loads(out.getvalue())] == ["md5", "sha1"]


def test_a_scanned_item_in_two_sets_by_md5_and_sha1_is_two_csv_rows_and_four_json_matches(tmp_path: Path) -> None:
    known = KnownFile("Pictures/known.jpg", b"known picture bytes", "B")
    write_tree(tmp_path / "evidence", {known.relative: known.data, "Pictures/other.jpg": b"other"})
    home = tmp_path / "home"
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "caid.csv", [known]), name="caid", home=home)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "vic.csv", [known]), name="projectvic", home=home)
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case", exhibit_ref="EX1", home=home)
    out = io.StringIO()
    assert write_hits_csv(fieldlab.hits(tmp_path / "case"), out) == 2
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {(r["path"], r["hash_set"], r["method"], r["category"]) for r in records} == {
        ("Pictures/known.jpg", "caid", "md5+sha1", "B"), ("Pictures/known.jpg", "projectvic", "md5+sha1", "B")}
    matches = io.StringIO()
    assert write_hits_json(fieldlab.hits(tmp_path / "case"), matches) == 4


def _csv(rows: list[HitRow]) -> str:
    out = io.StringIO()
    write_hits_csv(rows, out)
    return out.getvalue()
