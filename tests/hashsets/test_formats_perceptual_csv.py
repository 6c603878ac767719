"""PDQ lists as organisations exchange them: a header naming a PDQ column, with or without file digests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fieldlab.hashsets.export import export_set
from fieldlab.hashsets.formats import detect_format, parse_hash_file
from fieldlab.hashsets.formats.csvlist import parse_csv
from fieldlab.hashsets.formats.pdq import parse_pdq
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.hashsets.matcher import HashMatcher
from fieldlab.hashsets.records import HashRecord, ParseProblem
from fieldlab.hashsets.update import update_set
from tests.hashsets.hashset_builders import Digests, write_lines

A, B, C = Digests("a"), Digests("b"), Digests("c")


def pdq_only(line: int, digests: Digests, category: str | None = None) -> HashRecord:
    return HashRecord(line, pdq=digests.pdq, category=category)


def test_a_categorised_pdq_list_without_file_digests_is_a_csv_set(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "shared.csv", "pdq,category", f"{A.pdq.hex()},A", f"{B.pdq.hex()},C")
    assert detect_format(path) == "csv"
    assert list(parse_hash_file(path)) == [pdq_only(2, A, "A"), pdq_only(3, B, "C")]


def test_an_empty_md5_cell_beside_a_valid_pdq_is_no_problem(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "shared.csv", "md5,pdq,category", f",{A.pdq.hex()},B",
                       f"{B.md5.hex()},{B.pdq.hex()},A")
    assert list(parse_csv(path)) == [pdq_only(2, A, "B"), HashRecord(3, md5=B.md5, pdq=B.pdq, category="A")]


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("PDQ,Category", "{pdq},B"),
        ("pdq_hash,category", "{pdq},B"),
        ('"PDQ Hash";"Category"', "{pdq};B"),
        ("pdq_hash_hex,category,note", "{pdq},B,seen twice"),
        ("sha1\tpdq\tcategory", "\t{pdq}\tB"),  # TSV with an empty SHA-1 cell
        ("hash,quality,filename,category", "{pdq},100,reg_test/a.jpg,B"),  # pdq-photo-hasher's output, given a header
        ("Category,SHA-256,PDQ", "B,,{pdq}"),
    ],
)
def test_header_variants_naming_a_pdq_column_are_recognised_and_read(tmp_path: Path, header: str, row: str) -> None:
    path = write_lines(tmp_path / "shared.csv", header, row.format(pdq=A.pdq.hex()))
    assert detect_format(path) == "csv"
    assert list(parse_hash_file(path)) == [pdq_only(2, A, "B")]


def test_a_utf8_bom_before_the_header_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "shared.csv"
    path.write_bytes(b"\xef\xbb\xbfPDQ,Category\r\n" + f"{A.pdq.hex().upper()},A\r\n".encode())
    assert detect_format(path) == "csv"
    assert list(parse_hash_file(path)) == [pdq_only(2, A, "A")]


def test_python_threatexchange_signal_rows_are_read_by_their_signal_type(tmp_path: Path) -> None:
    # the header and layout of python-threatexchange's pdq_samples.csv, plus rows of other signal types
    path = write_lines(
        tmp_path / "signals.csv",
        "collab,signal_type,signal_str,category,tags",
        f"Sample Signals,pdq,{A.pdq.hex()},WORTH_INVESTIGATING,",
        f"Sample Signals,video_md5,{B.md5.hex()},WORTH_INVESTIGATING,",
        "Sample Signals,url,https://example.org/x,WORTH_INVESTIGATING,",
        f"Sample Signals,PDQ,{C.pdq.hex()},,media_type_photo",
    )
    assert detect_format(path) == "csv"
    assert list(parse_hash_file(path)) == [
        pdq_only(2, A, "WORTH_INVESTIGATING"),
        HashRecord(3, md5=B.md5, category="WORTH_INVESTIGATING"),
        ParseProblem(4, "signal type 'url' is not a PDQ or MD5: not imported"),
        pdq_only(5, C),
    ]


def test_a_hash_column_beside_a_signal_type_column_is_read_the_same_way(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bank.csv", "signal_type,hash,category", f"pdq,{A.pdq.hex()},A")
    assert list(parse_hash_file(path)) == [pdq_only(2, A, "A")]


def test_a_bare_hash_column_is_not_guessed_to_be_pdq(tmp_path: Path) -> None:
    # Meta's PDQ test data has FilePath,Hash: a 64-digit "hash" could as well be a SHA-256
    path = write_lines(tmp_path / "hashes.csv", "FilePath,Hash", f"data/b.jpg,{A.pdq.hex()}")
    with pytest.raises(ValueError, match="names a hash column without saying which hash it holds"):
        detect_format(path)
    with pytest.raises(ValueError, match="'hash' beside 'quality' or 'signal_type'"):
        list(parse_csv(path))


def test_a_row_with_nothing_usable_is_a_problem_with_its_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "shared.csv", "md5,pdq,category", ",,A", f",{A.pdq.hex()[:-2]},B",
                       f",{B.pdq.hex()},C")
    assert list(parse_csv(path)) == [
        ParseProblem(2, "no MD5, SHA1, SHA256 or PDQ value"),
        ParseProblem(3, f"PDQ '{A.pdq.hex()[:-2]}' is not 64 hex digits"),
        pdq_only(4, B, "C"),
    ]


def test_a_pdq_of_quality_under_50_is_kept_and_reported_with_its_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hasher.csv", "pdq,quality,category", f"{A.pdq.hex()},49,A",
                       f"{B.pdq.hex()},50,A", f"{C.pdq.hex()},high,A")
    found = list(parse_csv(path))
    assert found[0] == pdq_only(2, A, "A") and found[2] == pdq_only(3, B, "A") and found[3] == pdq_only(4, C, "A")
    assert isinstance(found[1], ParseProblem) and found[1].line == 2 and "quality 49 is under 50" in found[1].reason
    assert found[4] == ParseProblem(4, "PDQ quality 'high' is not a number; the PDQ is kept")
    assert len(found) == 5


@pytest.mark.parametrize(
    "line",
    ["{hash},12,reg_test/blank.jpg", "hash={hash},norm=100,delta=0,quality=12,filename=reg_test/blank.jpg"],
)
def test_the_plain_pdq_list_reads_the_hashers_quality_the_same_way(tmp_path: Path, line: str) -> None:
    path = write_lines(tmp_path / "hasher.txt", line.format(hash=A.pdq.hex()), f"{B.pdq.hex()},100,b.jpg")
    record, problem, other = parse_pdq(path)
    assert record == HashRecord(1, pdq=A.pdq) and other == HashRecord(2, pdq=B.pdq)
    assert problem.line == 1 and "quality 12 is under 50" in problem.reason


def test_a_headerless_hasher_output_asks_for_the_format_to_be_declared(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hasher.txt", f"{A.pdq.hex()},100,a.jpg")
    with pytest.raises(ValueError, match="may be a SHA-256 or a PDQ hash: .* pass --format pdq"):
        detect_format(path)
    assert list(parse_hash_file(path, "pdq")) == [HashRecord(1, pdq=A.pdq)]


def test_an_imported_categorised_pdq_list_counts_its_categories_and_exports_back(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "shared.csv", "pdq,category", f"{A.pdq.hex()},A", f"{B.pdq.hex()},C", ",B")
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(path, name="shared")
    assert (report.info.format, report.info.entries, report.info.counts) == ("csv", 2, {"pdq": 2})
    assert report.info.per_category == {"A": 1, "C": 1}
    assert report.problems == (ParseProblem(4, "no MD5, SHA1, SHA256 or PDQ value"),)
    exported = tmp_path / "out.csv"
    assert export_set(library, "shared", "csv", target=exported) == 2
    again = library.import_file(exported, name="again")  # the export of a PDQ-only set imports back
    assert again.info.per_category == {"A": 1, "C": 1} and again.info.problems == 0


def test_an_update_of_a_categorised_pdq_list_recategorises_and_adds(tmp_path: Path) -> None:
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(write_lines(tmp_path / "v1.csv", "pdq,category", f"{A.pdq.hex()},C"), name="shared")
    report = update_set(library, "shared", write_lines(tmp_path / "v2.csv", "pdq,category", f"{A.pdq.hex()},A",
                                                       f"{B.pdq.hex()},B"))
    assert report.info.counts == {"pdq": 2}
    matches = HashMatcher(library.load(["shared"])).match_pdq(np.frombuffer(A.pdq + B.pdq, np.uint8).reshape(2, 32), 0)
    assert sorted((m.query_index, m.category) for m in matches) == [(0, "A"), (1, "B")]


def test_hasher_matcher_actioners_headerless_sample_data_is_a_declared_pdq_list(tmp_path: Path) -> None:
    # the layout of HMA's sample_data/pdq.csv: hash, ThreatExchange id, time, tags; no header, no category
    line = "{hash},2880742865368386,2020-07-31T18:47:52+0000,media_priority_pdq_samples disputed media_type_photo"
    path = write_lines(tmp_path / "pdq.csv", line.format(hash=A.pdq.hex()), line.format(hash=B.pdq.hex()))
    with pytest.raises(ValueError, match="pass --format pdq"):
        detect_format(path)
    assert list(parse_hash_file(path, "pdq")) == [HashRecord(1, pdq=A.pdq), HashRecord(2, pdq=B.pdq)]
