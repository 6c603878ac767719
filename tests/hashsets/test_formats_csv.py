"""CSV hash sets: loose headers, any column order, three delimiters, exact line numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fieldlab.hashsets.formats.csvlist import parse_csv
from fieldlab.hashsets.records import HashRecord, ParseProblem


def md5(label: str) -> str:
    return hashlib.md5(label.encode()).hexdigest()


def sha1(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def write(path: Path, *lines: str) -> Path:
    path.write_bytes("\n".join(lines).encode() + b"\n")
    return path


def expected(line: int, label: str, category: str | None = None) -> HashRecord:
    return HashRecord(line, md5=bytes.fromhex(md5(label)), sha1=bytes.fromhex(sha1(label)), category=category)


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("md5,sha1,category", "{md5},{sha1},2"),
        ("category,sha1,md5", "2,{sha1},{md5}"),
        ("FileName,SHA1,Size,Category,MD5", "a.jpg,{sha1},10,2,{md5}"),
    ],
)
def test_csv_columns_are_found_in_any_order(tmp_path: Path, header: str, row: str) -> None:
    path = write(tmp_path / "set.csv", header, row.format(md5=md5("a"), sha1=sha1("a")))
    assert list(parse_csv(path)) == [expected(2, "a", "2")]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_csv_delimiter_is_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    header, row = delimiter.join(["MD5", "SHA1", "Category"]), delimiter.join([md5("a"), sha1("a"), "1"])
    path = write(tmp_path / "set.csv", header, row)
    assert list(parse_csv(path)) == [expected(2, "a", "1")]


@pytest.mark.parametrize(
    "header",
    ['"MD5 Hash","SHA-1","Category"', "md5sum,sha1_hash,CATEGORY", " Md5 , Sha1Hash , category "],
)
def test_csv_common_header_spellings_are_understood(tmp_path: Path, header: str) -> None:
    path = write(tmp_path / "set.csv", header, f"{md5('a')},{sha1('a')},B")
    assert list(parse_csv(path)) == [expected(2, "a", "B")]


def test_csv_with_only_a_sha1_column_yields_sha1_records(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "name,sha1", f"a.jpg,{sha1('a').upper()}")
    assert list(parse_csv(path)) == [HashRecord(2, sha1=bytes.fromhex(sha1("a")))]


def test_csv_sha256_and_pdq_columns_are_read(tmp_path: Path) -> None:
    sha256 = hashlib.sha256(b"a").hexdigest()
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    path = write(tmp_path / "set.csv", "SHA-256,PDQ Hash", f"{sha256},{pdq}")
    assert list(parse_csv(path)) == [HashRecord(2, sha256=bytes.fromhex(sha256), pdq=bytes.fromhex(pdq))]


def test_csv_invalid_rows_are_reported_with_their_physical_line_numbers(tmp_path: Path) -> None:
    lines = ["", "md5,category", f"{md5('a')},1", "", "nothex,2", "   ", f"{md5('c')},3", "abc"]
    path = write(tmp_path / "set.csv", *lines)
    found = list(parse_csv(path))
    assert [(type(item).__name__, item.line) for item in found] == [
        ("HashRecord", 3),
        ("ParseProblem", 5),
        ("HashRecord", 7),
        ("ParseProblem", 8),
    ]
    assert found[1] == ParseProblem(5, "MD5 'nothex' is not 32 hex digits")


def test_csv_blank_lines_are_skipped_without_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "md5", "", f"{md5('a')}", "", ",", "")
    assert list(parse_csv(path)) == [HashRecord(3, md5=bytes.fromhex(md5("a")))]


def test_csv_valid_md5_with_invalid_sha1_keeps_the_record_and_reports_the_sha1(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "md5,sha1", f"{md5('a')},{sha1('a')[:-1]}")
    record, problem = parse_csv(path)
    assert record == HashRecord(2, md5=bytes.fromhex(md5("a")))
    assert isinstance(problem, ParseProblem) and problem.line == 2
    assert problem.reason.startswith(f"SHA1 '{sha1('a')[:-1]}' is not 40 hex digits")


def test_csv_row_shorter_than_the_header_uses_the_cells_it_has(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "md5,sha1,category", md5("a"))
    assert list(parse_csv(path)) == [HashRecord(2, md5=bytes.fromhex(md5("a")))]


def test_csv_bom_and_crlf_line_endings_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_bytes(b"\xef\xbb\xbfMD5;SHA1\r\n" + f"{md5('a')};{sha1('a')}\r\n".encode())
    assert list(parse_csv(path)) == [expected(2, "a")]


def test_csv_quoted_cells_are_unquoted(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", '"SHA-1","MD5","FileName"', f'"{sha1("a")}","{md5("a")}","a, b.jpg"')
    assert list(parse_csv(path)) == [expected(2, "a")]


def test_csv_digest_with_inner_spaces_is_refused(tmp_path: Path) -> None:
    spaced = " ".join(md5("a")[i : i + 2] for i in range(0, 30, 2))[:32]
    path = write(tmp_path / "set.csv", "md5", spaced)
    assert [type(item) for item in parse_csv(path)] == [ParseProblem]


def test_csv_without_a_digest_column_is_refused_with_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "name,size", "a.jpg,10")
    with pytest.raises(ValueError, match=r"names no MD5, SHA1, SHA256 or PDQ column \(found 'name', 'size'\)"):
        list(parse_csv(path))


def test_csv_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"\n\n")
    assert list(parse_csv(path)) == []


def test_csv_row_that_csv_cannot_read_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", "md5", "a\rb", md5("a"))
    found = list(parse_csv(path))
    assert isinstance(found[0], ParseProblem) and found[0].line == 2 and "unreadable CSV" in found[0].reason
    assert found[1:] == [HashRecord(3, md5=bytes.fromhex(md5("a")))]
