"""HashKeeper CSV: the MD5 is the fifth field, whatever the names around it hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldlab.hashsets.formats.hashkeeper import parse_hashkeeper
from fieldlab.hashsets.records import HashRecord, ParseProblem
from tests.hashsets.hashset_builders import HASHKEEPER_HEADER, Digests, hashkeeper_line, write_lines


def md5_record(line: int, label: str) -> HashRecord:
    return HashRecord(line, md5=Digests(label).md5)


def test_hashkeeper_rows_give_the_fifth_field_as_md5_numbered_by_line(tmp_path: Path) -> None:
    rows = hashkeeper_line(1, Digests("a")), hashkeeper_line(2, Digests("b"))
    path = write_lines(tmp_path / "set.hke", HASHKEEPER_HEADER, *rows)
    assert list(parse_hashkeeper(path)) == [md5_record(2, "a"), md5_record(3, "b")]


def test_hashkeeper_names_with_commas_and_quotes_do_not_shift_the_hash(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "set.hke", HASHKEEPER_HEADER, hashkeeper_line(1, Digests("a"), 'x, ""y"".jpg'))
    assert list(parse_hashkeeper(path)) == [md5_record(2, "a")]


def test_hashkeeper_header_is_recognised_in_any_case_and_without_quotes(tmp_path: Path) -> None:
    header = "FILE_ID,HashSet_ID,file_name,directory,Hash,file_size"
    path = write_lines(tmp_path / "set.hke", header, hashkeeper_line(1, Digests("a")))
    assert list(parse_hashkeeper(path)) == [md5_record(2, "a")]


def test_hashkeeper_bad_and_short_rows_are_reported_with_their_lines_and_skipped(tmp_path: Path) -> None:
    bad_hash = hashkeeper_line(2, Digests("b")).replace(Digests("b").md5.hex(), "12345")
    good_a, good_d = hashkeeper_line(1, Digests("a")), hashkeeper_line(4, Digests("d"))
    path = write_lines(tmp_path / "set.hke", HASHKEEPER_HEADER, good_a, bad_hash, '3,7,"c.jpg"', "", good_d)
    assert list(parse_hashkeeper(path)) == [
        md5_record(2, "a"),
        ParseProblem(3, "MD5 '12345' is not 32 hex digits"),
        ParseProblem(4, "no 5th field (the hash): the row has only 3"),
        md5_record(6, "d"),
    ]


def test_hashkeeper_file_cut_inside_the_last_hash_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "set.hke"
    text = f"{HASHKEEPER_HEADER}\r\n{hashkeeper_line(1, Digests('a'))}\r\n{hashkeeper_line(2, Digests('b'))}"
    path.write_bytes(text[: text.rindex(Digests("b").md5.hex()) + 20].encode())
    record, problem = parse_hashkeeper(path)
    assert record == md5_record(2, "a")
    assert problem.line == 3 and problem.reason.startswith("MD5 ")


def test_hashkeeper_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert list(parse_hashkeeper(write_lines(tmp_path / "set.hke", ""))) == []


def test_hashkeeper_declared_for_an_md5sum_list_fails_quoting_its_first_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "list.md5", f"{Digests('a').md5.hex()}  a.jpg")
    with pytest.raises(ValueError, match=r"list\.md5: not a HashKeeper file: line 1 is '[0-9a-f]{32}  a\.jpg'"):
        next(parse_hashkeeper(path))
