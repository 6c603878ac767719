"""PDQ lists: 'pdq <hash>' lines, bare hashes and Meta's hasher output, PDQ only."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldlab.hashsets.formats import detect_format
from fieldlab.hashsets.formats.pdq import parse_pdq
from fieldlab.hashsets.records import HashRecord, ParseProblem
from tests.conftest import REALDATA
from tests.hashsets.hashset_builders import Digests, write_lines


def pdq(label: str) -> str:
    return Digests(label).pdq.hex()


def pdq_record(line: int, label: str) -> HashRecord:
    return HashRecord(line, pdq=Digests(label).pdq)


def test_pdq_prefixed_lines_as_threatexchange_prints_them_are_read(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "photos.txt", f"pdq {pdq('a')}", f"PDQ\t{pdq('b').upper()}")
    assert list(parse_pdq(path)) == [pdq_record(1, "a"), pdq_record(2, "b")]


@pytest.mark.parametrize(
    "line",
    [
        "{hash}",
        "{hash},100,reg_test/input/dih/bridge-1-original.jpg",
        "{hash},bridge-1-original.jpg",
        "hash={hash}",
        "pdq {hash} A some label",
        "  {hash}   # trailing words",
    ],
)
def test_pdq_hash_is_read_and_whatever_follows_it_is_ignored(tmp_path: Path, line: str) -> None:
    path = write_lines(tmp_path / "photos.txt", line.format(hash=pdq("a")))
    assert list(parse_pdq(path)) == [pdq_record(1, "a")]


def test_pdq_records_carry_only_the_pdq_and_no_category(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "photos.txt", f"pdq {pdq('a')} category-looking-text")
    (record,) = parse_pdq(path)
    assert (record.md5, record.sha1, record.sha256, record.category) == (None, None, None, None)


def test_pdq_blank_and_comment_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "photos.txt", "# from the hasher", "", "   ", pdq("a"))
    assert list(parse_pdq(path)) == [pdq_record(4, "a")]


def test_pdq_wrong_length_and_non_hex_lines_after_the_first_are_reported_and_skipped(tmp_path: Path) -> None:
    lines = [pdq("a"), pdq("b")[:-1], "pdq " + "z" * 64, Digests("c").md5.hex(), "pdq", pdq("d")]
    path = write_lines(tmp_path / "photos.txt", *lines)
    assert list(parse_pdq(path)) == [
        pdq_record(1, "a"),
        ParseProblem(2, f"'{pdq('b')[:-1]}' is not a 64-hex-digit PDQ hash"),
        ParseProblem(3, f"'{'z' * 64}' is not a 64-hex-digit PDQ hash"),
        ParseProblem(4, f"'{Digests('c').md5.hex()}' is not a 64-hex-digit PDQ hash"),
        ParseProblem(5, "'pdq' is not a 64-hex-digit PDQ hash"),
        pdq_record(6, "d"),
    ]


def test_pdq_problem_quotes_an_endless_line_briefly(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "photos.txt", pdq("a"), "f" * 200_000)
    record, problem = parse_pdq(path)
    assert record == pdq_record(1, "a") and problem.line == 2 and len(problem.reason) < 150


@pytest.mark.parametrize(
    "first_line",
    ["0cc175b9c0f1b6a831c399e269772661  a.jpg", "md5 0cc175b9c0f1b6a831c399e269772661", "SHA1,MD5", "\x00\x01binary"],
)
def test_pdq_declared_for_another_list_fails_at_its_first_line(tmp_path: Path, first_line: str) -> None:
    path = write_lines(tmp_path / "list.txt", "# comment", first_line, pdq("a"))
    with pytest.raises(ValueError, match=r"list\.txt: not a PDQ list: line 2 is "):
        next(parse_pdq(path))


THREATEXCHANGE_PDQ_MD5 = REALDATA / "facebook__ThreatExchange/pdq/wasm/test/TestData/PDQMD5TestData.csv"


def test_threatexchange_filepath_hash_csv_declared_pdq_gives_its_pdqs_and_its_videos_md5s() -> None:
    # 'FilePath,Hash': 16 pictures' PDQs (64 hex digits), then two videos' MD5s (32) in the same column.
    entries = list(parse_pdq(THREATEXCHANGE_PDQ_MD5))
    assert not [e for e in entries if isinstance(e, ParseProblem)]
    records = [e for e in entries if isinstance(e, HashRecord)]
    assert [r.line for r in records] == list(range(2, 20))
    assert records[0].pdq == bytes.fromhex("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")
    assert sum(r.pdq is not None for r in records) == 16
    assert [r.md5 for r in records[16:]] == [
        bytes.fromhex("0a21c8f85a55a9e276ffc2c53f6887c4"), bytes.fromhex("9ffbb242d27f51a14e9c3633abead255"),
    ]


def test_threatexchange_filepath_hash_csv_undeclared_asks_for_format_pdq() -> None:
    with pytest.raises(ValueError, match=r"names a hash column without saying which hash it holds.*--format pdq"):
        detect_format(THREATEXCHANGE_PDQ_MD5)
