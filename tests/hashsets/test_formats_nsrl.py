"""NSRL reference data: RDSv3 SQLite databases (read without changing them) and RDS 2.x NSRLFile.txt."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from itertools import islice
from pathlib import Path

import pytest

from fieldlab.hashsets.formats.nsrl import parse_nsrl_rds, parse_nsrl_txt
from fieldlab.hashsets.records import HashRecord, ParseProblem
from tests.hashsets.hashset_builders import (
    NSRL_TXT_HEADER,
    NSRL_TXT_HEADER_OLD,
    Digests,
    nsrl_txt_line,
    rds_row,
    write_lines,
    write_nsrl_rds,
    write_nsrl_rds_file_view,
    write_tsk_kdb,
)


def full_record(line: int, label: str) -> HashRecord:
    digests = Digests(label)
    return HashRecord(line, md5=digests.md5, sha1=digests.sha1, sha256=digests.sha256)


def test_rds_distinct_hash_view_gives_each_file_once_with_all_three_digests(tmp_path: Path) -> None:
    rows = [rds_row(Digests("a")), rds_row(Digests("b"))]
    path = write_nsrl_rds(tmp_path / "RDS_modern_minimal.db", rows, packages=3)
    found = list(parse_nsrl_rds(path))
    assert sorted(record.line for record in found) == [1, 2]  # DISTINCT may return them in either order
    assert {(record.md5, record.sha1, record.sha256) for record in found} == {
        (full.md5, full.sha1, full.sha256) for full in (full_record(1, "a"), full_record(2, "b"))
    }


def test_rds_without_distinct_hash_reads_the_file_table_row_by_row(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests("a"))], packages=2, distinct_view=False)
    assert list(parse_nsrl_rds(path)) == [full_record(1, "a"), full_record(2, "a")]


def test_rds_file_view_without_crc32_is_read(tmp_path: Path) -> None:
    path = write_nsrl_rds_file_view(tmp_path / "rds.db", [rds_row(Digests("a")), rds_row(Digests("b"))])
    assert list(parse_nsrl_rds(path)) == [full_record(1, "a"), full_record(2, "b")]


def test_rds_records_carry_no_category(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests("a"))])
    assert [record.category for record in parse_nsrl_rds(path)] == [None]


def test_rds_bad_digest_is_reported_with_its_row_and_the_valid_digests_kept(tmp_path: Path) -> None:
    sha256, sha1, _ = rds_row(Digests("a"))
    path = write_nsrl_rds(tmp_path / "rds.db", [(sha256, sha1, "NOT-AN-MD5")], distinct_view=False)
    record, problem = parse_nsrl_rds(path)
    assert record == HashRecord(1, sha1=Digests("a").sha1, sha256=Digests("a").sha256)
    assert problem == ParseProblem(1, "MD5 'NOT-AN-MD5' is not 32 hex digits; imported with its valid digests only")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("", "", ""), "no MD5, SHA1 or SHA256 value"),
        (("ab" * 31, "zz" * 20, 12345), "SHA256"),
        ((b"\x01" * 3, "", ""), "SHA256 '<3-byte blob>' is not 64 hex digits"),
        (("AB " * 21 + "A", "", ""), "SHA256"),
    ],
)
def test_rds_row_without_a_valid_digest_is_a_problem_and_reading_goes_on(
    tmp_path: Path, row: tuple[object, object, object], reason: str
) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [row, rds_row(Digests("b"))], distinct_view=False)
    problem, record = parse_nsrl_rds(path)
    assert isinstance(problem, ParseProblem) and problem.line == 1 and problem.reason.startswith(reason)
    assert record == full_record(2, "b")


def test_rds_problem_quotes_a_hostile_value_briefly(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [("x" * 100_000, "y" * 100_000, "z" * 100_000)], distinct_view=False)
    (problem,) = parse_nsrl_rds(path)
    assert isinstance(problem, ParseProblem) and len(problem.reason) < 400


def test_rds_reading_leaves_the_database_bytes_mtime_and_folder_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    folder.mkdir()
    path = write_nsrl_rds(folder / "rds.db", [rds_row(Digests(str(n))) for n in range(500)], packages=2)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder)))
    assert len(list(parse_nsrl_rds(path))) == 500
    assert (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder))) == before


def test_rds_rows_stream_without_reading_the_whole_table_first(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests(str(n))) for n in range(30_000)], distinct_view=False)
    records = parse_nsrl_rds(path)
    assert [record.line for record in islice(records, 3)] == [1, 2, 3]
    records.close()  # stopping early closes the database
    assert sum(1 for _ in parse_nsrl_rds(path)) == 30_000


def test_rds_damaged_page_keeps_the_rows_before_it_and_says_where_reading_stopped(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests(str(n))) for n in range(5000)], distinct_view=False)
    with closing(sqlite3.connect(path)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    middle_row = rds_row(Digests("2500"))[0].encode()
    pages = (data[start : start + page_size] for start in range(page_size, len(data), page_size))
    # the FILE table leaf (page type 0x0D, not an index page) that holds row 2500
    start = next(n * page_size for n, page in enumerate(pages, 1) if page[0] == 0x0D and middle_row in page)
    data[start : start + page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))
    found = list(parse_nsrl_rds(path))
    *records, last = found
    assert records and all(isinstance(record, HashRecord) for record in records)
    assert last == ParseProblem(
        len(records) + 1,
        f"database unreadable after row {len(records)}, reading stopped: database disk image is malformed",
    )


def test_rds_cut_short_is_refused_as_damaged(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests(str(n))) for n in range(2000)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"rds\.db: SQLite header, but the database cannot be read .*cut short"):
        list(parse_nsrl_rds(path))


def test_rds_changes_left_in_a_write_ahead_log_are_reported_as_unread(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests("a"))])
    (tmp_path / "rds.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(60))
    problem, record = parse_nsrl_rds(path)
    assert problem.line == 0 and "'rds.db-wal' (64 bytes)" in problem.reason and "not read" in problem.reason
    assert record == full_record(1, "a")


def test_rds_declared_for_a_text_file_fails_at_once_saying_it_is_not_sqlite(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "list.txt", Digests("a").md5.hex())
    with pytest.raises(ValueError, match=r"list\.txt: not an SQLite database: it starts with b'"):
        next(parse_nsrl_rds(path))


def test_rds_declared_for_a_tsk_database_fails_naming_its_tables(tmp_path: Path) -> None:
    path = write_tsk_kdb(tmp_path / "set.kdb", [Digests("a").md5])
    with pytest.raises(ValueError, match=r"not an NSRL RDSv3 database.*it holds 'comments', 'db_properties'"):
        next(parse_nsrl_rds(path))


def test_nsrl_txt_rows_give_sha1_and_md5_numbered_by_line(tmp_path: Path) -> None:
    rows = nsrl_txt_line(Digests("a")), nsrl_txt_line(Digests("b"))
    path = write_lines(tmp_path / "NSRLFile.txt", NSRL_TXT_HEADER, *rows)
    assert list(parse_nsrl_txt(path)) == [
        HashRecord(2, md5=Digests("a").md5, sha1=Digests("a").sha1),
        HashRecord(3, md5=Digests("b").md5, sha1=Digests("b").sha1),
    ]


def test_nsrl_txt_older_column_order_reads_md5_not_md4(tmp_path: Path) -> None:
    a = Digests("a")
    row = f'"{a.sha1.hex().upper()}","setup.exe",4109,21000,"358","{"0" * 32}","{a.md5.hex().upper()}","FFFFFFFF",""'
    path = write_lines(tmp_path / "NSRLFile.txt", NSRL_TXT_HEADER_OLD, row)
    assert list(parse_nsrl_txt(path)) == [HashRecord(2, md5=a.md5, sha1=a.sha1)]


def test_nsrl_txt_file_names_with_commas_and_quotes_do_not_shift_columns(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "NSRLFile.txt", NSRL_TXT_HEADER, nsrl_txt_line(Digests("a"), 'a, ""b"".dll'))
    assert list(parse_nsrl_txt(path)) == [HashRecord(2, md5=Digests("a").md5, sha1=Digests("a").sha1)]


def test_nsrl_txt_bad_rows_are_reported_with_their_lines_and_skipped(tmp_path: Path) -> None:
    broken = nsrl_txt_line(Digests("b")).replace('"', "", 2)[:30]
    path = write_lines(tmp_path / "NSRLFile.txt", NSRL_TXT_HEADER, nsrl_txt_line(Digests("a")), broken, '"xyz","abc"')
    found = list(parse_nsrl_txt(path))
    assert [(type(item).__name__, item.line) for item in found] == [
        ("HashRecord", 2),
        ("ParseProblem", 3),
        ("ParseProblem", 4),
    ]
    assert found[2] == ParseProblem(4, "SHA1 'xyz' is not 40 hex digits; MD5 'abc' is not 32 hex digits")


def test_nsrl_txt_cut_inside_the_last_md5_keeps_its_sha1_and_reports_the_md5(tmp_path: Path) -> None:
    path = tmp_path / "NSRLFile.txt"
    full = f"{NSRL_TXT_HEADER}\r\n{nsrl_txt_line(Digests('a'))}\r\n{nsrl_txt_line(Digests('b'))}"
    path.write_bytes(full[: full.rindex('"FFFFFFFF"') - 10].encode())
    *_, record, problem = parse_nsrl_txt(path)
    assert record == HashRecord(3, sha1=Digests("b").sha1)
    assert problem.line == 3 and problem.reason.startswith("MD5 ")


def test_nsrl_txt_declared_for_another_csv_fails_quoting_its_first_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "export.csv", "SHA1,MD5", f"{Digests('a').sha1.hex()},{Digests('a').md5.hex()}")
    with pytest.raises(ValueError, match=r"export\.csv: not an NSRL NSRLFile\.txt: the first line is 'SHA1,MD5'"):
        next(parse_nsrl_txt(path))


def test_nsrl_txt_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert list(parse_nsrl_txt(write_lines(tmp_path / "NSRLFile.txt", "", ""))) == []
