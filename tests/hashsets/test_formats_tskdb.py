"""TSK/Autopsy SQLite hash databases: MD5 blobs read without changing the database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fieldlab.hashsets.formats.tskdb import parse_tsk_kdb
from fieldlab.hashsets.records import HashRecord, ParseProblem
from tests.hashsets.hashset_builders import Digests, rds_row, write_lines, write_nsrl_rds, write_tsk_kdb


def test_tsk_kdb_md5_blobs_are_read_in_id_order_without_category(tmp_path: Path) -> None:
    path = write_tsk_kdb(tmp_path / "notable.kdb", [Digests("a").md5, Digests("b").md5])
    assert list(parse_tsk_kdb(path)) == [HashRecord(1, md5=Digests("a").md5), HashRecord(2, md5=Digests("b").md5)]


def test_tsk_kdb_sha1_blobs_are_read_when_present(tmp_path: Path) -> None:
    path = write_tsk_kdb(tmp_path / "set.kdb", [Digests("a").md5], sha1s=[Digests("a").sha1])
    assert list(parse_tsk_kdb(path)) == [HashRecord(1, md5=Digests("a").md5, sha1=Digests("a").sha1)]


def test_tsk_kdb_md5_written_as_hex_text_is_accepted(tmp_path: Path) -> None:
    path = write_tsk_kdb(tmp_path / "set.kdb", [Digests("a").md5.hex().upper()])
    assert list(parse_tsk_kdb(path)) == [HashRecord(1, md5=Digests("a").md5)]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\x01" * 15, "MD5 '<15-byte blob>' is not 32 hex digits"),
        (Digests("x").sha1, "MD5 '<20-byte blob>' is not 32 hex digits"),
        ("g" * 32, f"MD5 '{'g' * 32}' is not 32 hex digits"),
        (None, "no MD5, SHA1 or SHA256 value"),
    ],
)
def test_tsk_kdb_bad_md5_is_reported_with_its_row_and_reading_goes_on(
    tmp_path: Path, value: object, reason: str
) -> None:
    path = write_tsk_kdb(tmp_path / "set.kdb", [value, Digests("b").md5])
    assert list(parse_tsk_kdb(path)) == [ParseProblem(1, reason), HashRecord(2, md5=Digests("b").md5)]


def test_tsk_kdb_reading_leaves_the_database_bytes_mtime_and_folder_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "autopsy"
    folder.mkdir()
    path = write_tsk_kdb(folder / "set.kdb", [Digests(str(n)).md5 for n in range(300)])
    before = (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder)))
    assert len(list(parse_tsk_kdb(path))) == 300
    assert (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder))) == before


def test_tsk_kdb_declared_for_an_nsrl_database_fails_naming_its_tables(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(Digests("a"))])
    with pytest.raises(ValueError, match=r"rds\.db: not a TSK/Autopsy hash database.*it holds 'distinct_hash', 'file'"):
        next(parse_tsk_kdb(path))


def test_tsk_kdb_declared_for_a_text_file_fails_saying_it_is_not_sqlite(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "set.kdb", Digests("a").md5.hex())
    with pytest.raises(ValueError, match=r"set\.kdb: not an SQLite database"):
        next(parse_tsk_kdb(path))
