"""The hash-set library: import, categories through profiles, problems counted, look-ups exact."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fieldlab.hashsets.library import HashSetError, HashSetLibrary
from fieldlab.hashsets.matcher import DigestQuery, HashMatcher


def _md5(n: int) -> str:
    return hashlib.md5(str(n).encode()).hexdigest()


def _sha1(n: int) -> str:
    return hashlib.sha1(str(n).encode()).hexdigest()


def test_csv_import_records_provenance_and_counts(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text("category,sha1,md5\nA,%s,%s\nB,,%s\nC,%s,\n" % (_sha1(1), _md5(1), _md5(2), _sha1(3)))
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(source, name="caid-2026-11", profile="uk")
    (info,) = library.list()
    assert info == report.info
    assert info.name == "caid-2026-11" and info.profile == "uk" and info.format == "csv"
    assert info.entries == 3 and info.counts == {"md5": 2, "sha1": 2}
    assert info.per_category == {"A": 1, "B": 1, "C": 1}
    assert info.source_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()


def test_invalid_lines_are_counted_with_line_numbers_and_valid_ones_still_import(tmp_path: Path) -> None:
    source = tmp_path / "list.md5"
    source.write_text(f"{_md5(1)}  a.jpg\nnot-a-hash  b.jpg\n{_md5(2)}  c.jpg\n{_md5(3)[:-1]}  d.jpg\n")
    report = HashSetLibrary(tmp_path / "home").import_file(source, fmt="md5sum")
    assert report.info.entries == 2
    assert report.info.problems == 2
    assert [p.line for p in report.problems] == [2, 4]
    written = report.problems_file.read_text()
    assert "line 2:" in written and "line 4:" in written


def test_look_ups_find_exactly_the_imported_digests(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text("md5,sha1,category\n" + "".join(f"{_md5(n)},{_sha1(n)},{'ABC'[n % 3]}\n" for n in range(0, 2000, 2)))
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, name="even")
    matcher = HashMatcher(library.load())
    queries = [DigestQuery(md5=_md5(n), sha1=_sha1(n)) for n in range(2000)]
    matches = matcher.match(queries)
    matched = {(m.query_index, m.method, m.category) for m in matches}
    expected = {(n, method, "ABC"[n % 3]) for n in range(0, 2000, 2) for method in ("md5", "sha1")}
    assert matched == expected


def test_a_digest_ending_in_zero_bytes_is_not_confused_with_a_shorter_one(tmp_path: Path) -> None:
    with_zeros = "ab" * 14 + "0000"
    neighbour = "ab" * 14 + "0001"
    source = tmp_path / "set.txt"
    source.write_text(with_zeros + "\n")
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, fmt="md5sum")
    matcher = HashMatcher(library.load())
    found = matcher.match([DigestQuery(md5=with_zeros), DigestQuery(md5=neighbour), DigestQuery(md5="ab" * 14 + "00" + "00")])
    assert sorted(m.query_index for m in found) == [0, 2]


def test_a_query_digest_of_the_wrong_length_matches_nothing_and_moves_no_other_query(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text("md5,category\n" + "".join(f"{_md5(n)},A\n" for n in range(4)))
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source)
    queries = [DigestQuery(md5=_md5(0)), DigestQuery(md5=_md5(1)[:30]), DigestQuery(md5=_md5(2)), DigestQuery(md5=_md5(3))]
    found = HashMatcher(library.load()).match(queries)
    assert sorted(m.query_index for m in found) == [0, 2, 3]


def test_a_digest_listed_twice_with_different_categories_keeps_the_most_serious(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5,category\n{_md5(1)},C\n{_md5(1)},A\n{_md5(1)},B\n")
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(source)
    assert report.info.conflicts == 1
    (match,) = HashMatcher(library.load()).match([DigestQuery(md5=_md5(1))])
    assert match.category == "A"


def test_a_mapping_file_turns_numeric_codes_into_uk_categories(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5,category\n{_md5(1)},1\n{_md5(2)},2\n{_md5(3)},3\n{_md5(4)},9\n")
    mapping = tmp_path / "codes.json"
    mapping.write_text(json.dumps({"1": "A", "2": "B", "3": "C"}))
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(source, mapping_file=mapping)
    assert report.info.per_category == {"A": 1, "B": 1, "C": 1, "uncategorised": 1}
    assert report.info.unmapped_categories == {"9": 1}


def test_us_profile_keeps_project_vic_numbers(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5,category\n{_md5(1)},1\n{_md5(2)},0\n{_md5(3)},\n")
    report = HashSetLibrary(tmp_path / "home").import_file(source, profile="us")
    assert report.info.per_category == {"1": 1, "0": 1, "uncategorised": 1}


def test_mapping_to_a_label_the_profile_lacks_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5\n{_md5(1)}\n")
    mapping = tmp_path / "codes.json"
    mapping.write_text(json.dumps({"1": "Z"}))
    with pytest.raises(ValueError, match="does not have: Z"):
        HashSetLibrary(tmp_path / "home").import_file(source, mapping_file=mapping)


def test_an_existing_name_is_not_overwritten_without_replace(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5\n{_md5(1)}\n")
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, name="s")
    with pytest.raises(HashSetError, match="--replace"):
        library.import_file(source, name="s")
    source.write_text(f"md5\n{_md5(1)}\n{_md5(2)}\n")
    assert library.import_file(source, name="s", replace=True).info.entries == 2
    assert [i.entries for i in library.list()] == [2]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 101])
def test_set_names_that_could_become_paths_are_refused(tmp_path: Path, name: str) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5\n{_md5(1)}\n")
    with pytest.raises(HashSetError):
        HashSetLibrary(tmp_path / "home").import_file(source, name=name)


def test_compiled_sets_open_memory_mapped(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text("md5\n" + "".join(f"{_md5(n)}\n" for n in range(100)))
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, name="s")
    (loaded,) = library.load(["s"])
    assert isinstance(loaded.columns["md5"].digests, np.memmap)
    assert list(loaded.columns["md5"].digests) == sorted(loaded.columns["md5"].digests)


def test_loading_an_unknown_set_names_the_known_ones(tmp_path: Path) -> None:
    source = tmp_path / "set.csv"
    source.write_text(f"md5\n{_md5(1)}\n")
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(source, name="real")
    with pytest.raises(HashSetError, match="known sets: real"):
        library.load(["typo"])


def test_a_plain_list_takes_the_category_the_examiner_gives(tmp_path: Path) -> None:
    source = tmp_path / "list.md5"
    source.write_text(f"{_md5(1)}  a.jpg\n{_md5(2)}  b.jpg\n")
    report = HashSetLibrary(tmp_path / "home").import_file(source, fmt="md5sum", category="A")
    assert report.info.per_category == {"A": 2}
    csv_source = tmp_path / "set.csv"
    csv_source.write_text(f"md5,category\n{_md5(3)},C\n{_md5(4)},\n")  # a category the source gives wins
    report = HashSetLibrary(tmp_path / "home").import_file(csv_source, category="A")
    assert report.info.per_category == {"C": 1, "A": 1}
