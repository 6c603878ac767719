"""Project VIC VICS JSON: both versions, both layouts, and the untidy exports seen in the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fieldlab.hashsets.formats.vics import parse_vics
from fieldlab.hashsets.records import HashRecord, ParseProblem

CONTEXT_2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#"
METADATA_1 = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#"


def md5(label: str) -> str:
    return hashlib.md5(label.encode()).hexdigest()


def sha1(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def media(label: str, category: object = 1, **extra: object) -> dict[str, object]:
    """A media object shaped like real exports (generated label, never real material)."""
    return {
        "MediaID": 1,
        "MD5": md5(label).upper(),
        "SHA1": sha1(label).upper(),
        "Category": category,
        "VictimIdentified": False,
        "IsPrecategorized": True,
        "MediaSize": 1234,
        "MimeType": "image/jpeg",
        "MediaFiles": [{"FileName": f"{label}.jpg", "FilePath": "C:\\x", "Deleted": False, "PhysicalLocation": 4096}],
        **extra,
    }


def case_file(path: Path, *cases: list[dict[str, object]], version: int = 2) -> Path:
    head = {"@odata.context": CONTEXT_2 + "Cases"} if version == 2 else {"odata.metadata": METADATA_1 + "Cases"}
    value = [{"CaseID": "5f1c0c4e-0000-0000-0000-000000000000", "CaseNumber": "T-1", "Media": items} for items in cases]
    path.write_text(json.dumps({**head, "value": value}), encoding="utf-8")
    return path


def media_file(path: Path, *items: object) -> Path:
    path.write_text(json.dumps({"@odata.context": CONTEXT_2 + "Media", "value": list(items)}), encoding="utf-8")
    return path


def records(path: Path) -> list[HashRecord]:
    found = list(parse_vics(path))
    assert all(isinstance(item, HashRecord) for item in found), found
    return found  # type: ignore[return-value]


def test_vics_1x_case_file_yields_one_record_per_media_numbered_from_one(tmp_path: Path) -> None:
    path = case_file(tmp_path / "v1.json", [media("a"), media("b", category=2)], version=1)
    assert records(path) == [
        HashRecord(1, md5=bytes.fromhex(md5("a")), sha1=bytes.fromhex(sha1("a")), category="1"),
        HashRecord(2, md5=bytes.fromhex(md5("b")), sha1=bytes.fromhex(sha1("b")), category="2"),
    ]


def test_vics_2_case_file_numbers_media_across_cases(tmp_path: Path) -> None:
    path = case_file(tmp_path / "v2.json", [media("a"), media("b")], [media("c")])
    found = records(path)
    assert [record.line for record in found] == [1, 2, 3]
    assert found[2].md5 == bytes.fromhex(md5("c"))


def test_vics_2_media_file_reads_media_straight_from_value(tmp_path: Path) -> None:
    path = media_file(tmp_path / "media.json", media("a"), media("b", category=3))
    assert [(record.line, record.md5, record.category) for record in records(path)] == [
        (1, bytes.fromhex(md5("a")), "1"),
        (2, bytes.fromhex(md5("b")), "3"),
    ]


def test_vics_layout_is_found_from_the_data_when_the_context_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "bare.json"
    path.write_text(json.dumps({"value": [media("a")]}))
    assert records(path)[0].md5 == bytes.fromhex(md5("a"))


def test_vics_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = media_file(tmp_path / "bom.json", media("a"))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert records(path)[0].sha1 == bytes.fromhex(sha1("a"))


def test_vics_hex_is_read_in_either_case(tmp_path: Path) -> None:
    path = media_file(tmp_path / "case.json", media("a", MD5=md5("a").lower(), SHA1=sha1("a").upper()))
    assert records(path)[0].md5 == bytes.fromhex(md5("a"))
    assert records(path)[0].sha1 == bytes.fromhex(sha1("a"))


def test_vics_booleans_and_numbers_written_as_strings_do_not_break_parsing(tmp_path: Path) -> None:
    item = media("a", VictimIdentified="true", IsPrecategorized="false", MediaSize="1234", IsDistributed="False")
    path = case_file(tmp_path / "strings.json", [item])
    assert records(path)[0].md5 == bytes.fromhex(md5("a"))


@pytest.mark.parametrize(
    ("category", "expected"),
    [("1", "1"), (1, "1"), (0, "0"), (" 2 ", "2"), (None, None), ("", None), (True, "true")],
)
def test_vics_category_is_kept_as_text_whether_written_as_number_or_string(
    tmp_path: Path, category: object, expected: str | None
) -> None:
    path = media_file(tmp_path / "cat.json", media("a", category=category))
    assert records(path)[0].category == expected


def test_vics_missing_category_is_none(tmp_path: Path) -> None:
    item = media("a")
    del item["Category"]
    assert records(media_file(tmp_path / "nocat.json", item))[0].category is None


def test_vics_pdq_comes_from_alternative_hashes_whatever_the_case_of_its_name(tmp_path: Path) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    alternatives = [
        {"MD5": md5("a"), "HashName": "PhotoDNA", "HashValue": "ignored"},
        {"MD5": md5("a"), "HashName": "pdq", "HashValue": pdq.upper()},
    ]
    path = media_file(tmp_path / "pdq.json", media("a", AlternativeHashes=alternatives))
    assert records(path)[0].pdq == bytes.fromhex(pdq)


def test_vics_sha256_field_is_read_when_present(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"a").hexdigest()
    path = media_file(tmp_path / "sha256.json", media("a", SHA256=digest))
    assert records(path)[0].sha256 == bytes.fromhex(digest)


def test_vics_alternative_sha1_fills_in_when_the_media_has_none(tmp_path: Path) -> None:
    item = media("a", AlternativeHashes=[{"HashName": "SHA1", "HashValue": sha1("a")}])
    item["SHA1"] = ""
    assert records(media_file(tmp_path / "alt.json", item))[0].sha1 == bytes.fromhex(sha1("a"))


def test_vics_invalid_md5_is_reported_with_its_media_number(tmp_path: Path) -> None:
    bad = media("b", MD5="XYZ")
    del bad["SHA1"]
    path = case_file(tmp_path / "bad.json", [media("a"), bad, media("c")])
    found = list(parse_vics(path))
    assert [type(item).__name__ for item in found] == ["HashRecord", "ParseProblem", "HashRecord"]
    assert found[1] == ParseProblem(2, "MD5 'XYZ' is not 32 hex digits")
    assert found[2].line == 3


def test_vics_invalid_sha1_beside_a_valid_md5_keeps_the_record_and_reports_the_sha1(tmp_path: Path) -> None:
    path = media_file(tmp_path / "half.json", media("a", SHA1="not-a-sha1"))
    record, problem = parse_vics(path)
    assert record == HashRecord(1, md5=bytes.fromhex(md5("a")), category="1")
    assert isinstance(problem, ParseProblem) and problem.line == 1
    assert "SHA1 'not-a-sha1' is not 40 hex digits" in problem.reason


def test_vics_media_without_any_digest_is_a_problem(tmp_path: Path) -> None:
    path = media_file(tmp_path / "none.json", {"MediaID": 1, "Category": 1}, "not an object")
    assert list(parse_vics(path)) == [
        ParseProblem(1, "no MD5, SHA1 or SHA256 value"),
        ParseProblem(2, "no MD5, SHA1 or SHA256 value"),
    ]


def test_vics_md5_that_is_not_a_string_is_reported_not_crashed_on(tmp_path: Path) -> None:
    path = media_file(tmp_path / "types.json", media("a", MD5={"x": 1}, SHA1=[1, 2]))
    (problem,) = parse_vics(path)
    assert problem == ParseProblem(1, "MD5 '{...}' is not 32 hex digits; SHA1 '[...]' is not 40 hex digits")


def test_vics_problem_quotes_at_most_80_characters_of_a_bad_value(tmp_path: Path) -> None:
    path = media_file(tmp_path / "long.json", media("a", MD5="Z" * 100_000, SHA1=None))
    (problem,) = parse_vics(path)
    assert isinstance(problem, ParseProblem)
    assert len(problem.reason) < 150
    assert problem.reason.startswith("MD5 '" + "Z" * 80 + "'...")


def test_vics_truncated_json_keeps_earlier_records_and_reports_where_it_broke(tmp_path: Path) -> None:
    whole = case_file(tmp_path / "whole.json", [media("a"), media("b"), media("c")]).read_text()
    path = tmp_path / "truncated.json"
    path.write_text(whole[: whole.index(md5("c").upper()) + 10])
    found = list(parse_vics(path))
    assert [item.line for item in found if isinstance(item, HashRecord)] == [1, 2]
    problem = found[-1]
    assert isinstance(problem, ParseProblem) and problem.line == 3
    assert "after media 2" in problem.reason and "premature EOF" in problem.reason


def test_vics_malformed_json_midway_stops_with_a_problem(tmp_path: Path) -> None:
    text = json.dumps({"@odata.context": CONTEXT_2 + "Media", "value": [media("a"), "MARK"]})
    path = tmp_path / "garbled.json"
    path.write_text(text.replace('"MARK"', "{,,}"))
    found = list(parse_vics(path))
    assert isinstance(found[0], HashRecord)
    assert isinstance(found[-1], ParseProblem) and found[-1].line == 2
    assert len(found[-1].reason) < 250


def test_vics_integer_too_big_for_the_parser_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = json.dumps({"value": [media("a"), media("b", MediaSize="BIG")]}).replace('"BIG"', "9" * 5000)
    path = tmp_path / "bigint.json"
    path.write_text(text)
    found = list(parse_vics(path))
    assert isinstance(found[0], HashRecord)
    assert isinstance(found[-1], ParseProblem) and "integer overflow" in found[-1].reason


def test_vics_empty_media_list_yields_nothing(tmp_path: Path) -> None:
    assert list(parse_vics(media_file(tmp_path / "empty.json"))) == []


def test_vics_file_whose_layout_cannot_be_told_says_so(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"value": [{"Name": "x"}], "odata.metadata": "http://example.org/other.xml#Things"}))
    assert list(parse_vics(path)) == [
        ParseProblem(1, "no media found: expected value[].Media[] (cases) or value[] of media")
    ]


def test_vics_case_file_with_its_context_after_the_data_is_read(tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    case = {"CaseID": "5f1c0c4e-0000-0000-0000-000000000000", "Media": [media("a"), media("b")]}
    path.write_text(json.dumps({"value": [case], "@odata.context": CONTEXT_2 + "Cases"}))
    assert [record.md5 for record in records(path)] == [bytes.fromhex(md5("a")), bytes.fromhex(md5("b"))]


def test_vics_deeply_nested_json_is_refused_quickly_instead_of_exhausting_memory(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"value":[{"MD5":"' + md5("a").encode() + b'","X":' + b"[" * 500_000 + b"]" * 500_000 + b"}]}")
    (problem,) = parse_vics(path)
    assert isinstance(problem, ParseProblem) and "nested deeper than" in problem.reason


def test_vics_brackets_quotes_and_backslashes_inside_long_strings_are_not_taken_for_nesting(tmp_path: Path) -> None:
    awkward = '[[{{\\"\\\\' * 30_000  # spans many of ijson's 64 KB reads
    path = media_file(tmp_path / "awkward.json", media("a", Comments=awkward), media("b", Tags=awkward + "\\"))
    assert [record.md5 for record in records(path)] == [bytes.fromhex(md5("a")), bytes.fromhex(md5("b"))]


def test_vics_non_utf8_bytes_stop_reading_with_a_readable_problem(tmp_path: Path) -> None:
    path = media_file(tmp_path / "latin1.json", media("a"), media("b", Comments="MARK"))
    path.write_bytes(path.read_bytes().replace(b"MARK", b"caf\xe9"))
    record, problem = parse_vics(path)
    assert isinstance(record, HashRecord)
    assert isinstance(problem, ParseProblem) and "UTF8" in problem.reason and "b'" not in problem.reason


def test_vics_media_with_only_a_pdq_among_its_alternative_hashes_is_a_record(tmp_path: Path) -> None:
    pdq = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
    path = media_file(tmp_path / "pdq.json", {"MediaID": 1, "Category": 2,
                                              "AlternativeHashes": [{"HashName": "PDQ", "HashValue": pdq}]})
    assert list(parse_vics(path)) == [HashRecord(1, pdq=bytes.fromhex(pdq), category="2")]
