"""EnCase .hash sets: binary header, 18-byte MD5 records, the set's category on every record."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldlab.hashsets.formats.encase import HEADER_SIZE, RECORD_SIZE, EncaseHeader, parse_encase, read_header
from fieldlab.hashsets.records import HashRecord, ParseProblem
from tests.hashsets.hashset_builders import Digests, encase_bytes


def md5s(*labels: str) -> list[bytes]:
    return [Digests(label).md5 for label in labels]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_encase_records_are_md5s_numbered_from_one_with_the_set_category(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes(md5s("a", "b"), category="Notable"))
    assert list(parse_encase(path)) == [
        HashRecord(1, md5=Digests("a").md5, category="Notable"),
        HashRecord(2, md5=Digests("b").md5, category="Notable"),
    ]


def test_encase_header_gives_name_category_and_count() -> None:
    data = encase_bytes(md5s("a", "b", "c"), name="Known Д files", category="Kategorie A")
    header = read_header(data[:HEADER_SIZE])
    assert header == EncaseHeader("Known Д files", "Kategorie A", 3, bytes.fromhex("0200000001000000"))


def test_encase_set_without_category_gives_records_without_one(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes(md5s("a"), category=""))
    assert list(parse_encase(path)) == [HashRecord(1, md5=Digests("a").md5)]


def test_encase_empty_set_yields_nothing(tmp_path: Path) -> None:
    assert list(parse_encase(write(tmp_path / "set.hash", encase_bytes([])))) == []


def test_encase_file_cut_inside_a_record_keeps_the_whole_ones_and_reports_the_rest(tmp_path: Path) -> None:
    data = encase_bytes(md5s("a", "b", "c"))
    path = write(tmp_path / "set.hash", data[: HEADER_SIZE + 2 * RECORD_SIZE + 7])
    assert list(parse_encase(path)) == [
        HashRecord(1, md5=Digests("a").md5, category="Notable"),
        HashRecord(2, md5=Digests("b").md5, category="Notable"),
        ParseProblem(3, "file cut short: the last record has 7 of 18 bytes"),
        ParseProblem(3, "the header announces 3 records, the file holds 2"),
    ]


def test_encase_file_cut_between_records_is_caught_by_the_announced_count(tmp_path: Path) -> None:
    data = encase_bytes(md5s("a", "b", "c"))
    path = write(tmp_path / "set.hash", data[: HEADER_SIZE + RECORD_SIZE])
    assert list(parse_encase(path))[1:] == [ParseProblem(2, "the header announces 3 records, the file holds 1")]


def test_encase_file_cut_inside_the_header_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes(md5s("a"))[:600])
    assert list(parse_encase(path)) == [
        ParseProblem(1, "file cut short: it ends at byte 600, inside the 1152-byte header")
    ]


def test_encase_more_records_than_announced_are_all_read_and_the_mismatch_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes(md5s("a", "b"), count=1))
    *records, problem = parse_encase(path)
    assert [record.line for record in records] == [1, 2]
    assert problem == ParseProblem(0, "the header announces 1 records, the file holds 2; all were read")


def test_encase_all_zero_md5_is_reported_as_padding_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes([bytes(16), Digests("a").md5]))
    assert list(parse_encase(path)) == [
        ParseProblem(1, "MD5 is all zeros (padding, not a file's hash)"),
        HashRecord(2, md5=Digests("a").md5, category="Notable"),
    ]


def test_encase_unknown_version_bytes_are_reported_and_the_records_still_read(tmp_path: Path) -> None:
    path = write(tmp_path / "set.hash", encase_bytes(md5s("a"), version=bytes.fromhex("0300000001000000")))
    problem, record = parse_encase(path)
    assert problem == ParseProblem(0, "unknown version bytes 03 00 00 00 01 00 00 00; read as EnCase 4 to 6")
    assert record == HashRecord(1, md5=Digests("a").md5, category="Notable")


def test_encase_set_larger_than_one_read_block_is_read_whole_and_in_order(tmp_path: Path) -> None:
    labels = [str(n) for n in range(70_000)]  # over 1 MiB of records: several blocks
    path = write(tmp_path / "set.hash", encase_bytes(md5s(*labels)))
    found = list(parse_encase(path))
    assert len(found) == 70_000 and all(isinstance(record, HashRecord) for record in found)
    assert [found[n].md5 for n in (0, 65_535, 65_536, 69_999)] == md5s("0", "65535", "65536", "69999")
    assert found[-1].line == 70_000


@pytest.mark.parametrize("content", [b"0cc175b9c0f1b6a831c399e269772661  a.jpg\n", b"", b"HASH\r\n", b"\x00" * 2000])
def test_encase_declared_for_another_file_fails_at_once_naming_the_signature(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "list.md5", content)
    with pytest.raises(ValueError, match=r"list\.md5: not an EnCase hash set: it starts with b.*not b'HASH\\r\\n\\xff"):
        next(parse_encase(path))
