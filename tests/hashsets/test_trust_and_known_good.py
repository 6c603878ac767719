"""Known-good sets exclude files from the counts; disagreeing sets are listed and decided by trust order."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

import fieldlab
from fieldlab.cli import app
from fieldlab.hashsets.conflicts import find_conflicts
from fieldlab.hashsets.library import HashSetLibrary
from tests.builders import write_tree

runner = CliRunner()
FILES = {"a.jpg": b"first picture", "b.jpg": b"second picture", "notepad.exe": b"MZ ordinary program"}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _set(path: Path, rows: dict[bytes, str]) -> Path:
    path.write_text("md5,category\n" + "".join(f"{_md5(d)},{c}\n" for d, c in rows.items()))
    return path


def test_known_good_files_are_counted_apart_and_never_hits(tmp_path: Path) -> None:
    write_tree(tmp_path / "evidence", FILES)
    fieldlab.import_hashset(_set(tmp_path / "bad.csv", {FILES["a.jpg"]: "A"}), name="bad")
    nsrl = tmp_path / "nsrl.txt"
    nsrl.write_text(_md5(FILES["notepad.exe"]) + "\n")
    report = fieldlab.import_hashset(nsrl, name="nsrl", fmt="md5sum", known_good=True)
    assert report.info.known_good
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case")
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.known_good == 1 and counts.hits_by_category == {"A": 1}
    assert {h.path for h in fieldlab.hits(tmp_path / "case")} == {"a.jpg"}


def test_the_most_trusted_set_decides_an_items_category_and_both_hits_are_kept(tmp_path: Path) -> None:
    write_tree(tmp_path / "evidence", FILES)
    fieldlab.import_hashset(_set(tmp_path / "one.csv", {FILES["a.jpg"]: "C", FILES["b.jpg"]: "B"}), name="one")
    fieldlab.import_hashset(_set(tmp_path / "two.csv", {FILES["a.jpg"]: "A"}), name="two")
    library = HashSetLibrary()
    library.set_trust_order(["one", "two"])
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case1")
    (counts,) = fieldlab.summary(tmp_path / "case1")
    assert counts.hits_by_category == {"C": 1, "B": 1}  # "one" is trusted: its C wins over "two"'s A
    assert {(h.hash_set, h.category) for h in fieldlab.hits(tmp_path / "case1") if h.path == "a.jpg"} == {
        ("one", "C"), ("two", "A")}
    library.set_trust_order(["two", "one"])
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case2")
    (counts,) = fieldlab.summary(tmp_path / "case2")
    assert counts.hits_by_category == {"A": 1, "B": 1}


def test_conflicts_between_sets_are_listed_with_the_deciding_set_first(tmp_path: Path) -> None:
    fieldlab.import_hashset(_set(tmp_path / "one.csv", {FILES["a.jpg"]: "C", FILES["b.jpg"]: "B"}), name="one")
    fieldlab.import_hashset(_set(tmp_path / "two.csv", {FILES["a.jpg"]: "A", FILES["b.jpg"]: "B"}), name="two")
    library = HashSetLibrary()
    library.set_trust_order(["two"])
    (conflict,) = list(find_conflicts(library.load()))
    assert (conflict.digest, conflict.trusted_set, conflict.trusted_category, conflict.other_set, conflict.other_category) == (
        _md5(FILES["a.jpg"]), "two", "A", "one", "C")
    result = runner.invoke(app, ["hashset", "conflicts"])
    assert result.exit_code == 0 and _md5(FILES["a.jpg"]) in result.output and "1 disagreement" in result.output


def test_lookup_and_info_show_which_sets_hold_a_digest(tmp_path: Path) -> None:
    fieldlab.import_hashset(_set(tmp_path / "one.csv", {FILES["a.jpg"]: "B"}), name="one")
    result = runner.invoke(app, ["hashset", "lookup", _md5(FILES["a.jpg"]), _md5(b"nothing")])
    assert result.exit_code == 0
    assert "B (uk)" in result.output and "not in any set" in result.output
    info = runner.invoke(app, ["hashset", "info", "one"])
    assert info.exit_code == 0 and "Source SHA-256" in info.output and "one@" in info.output
    assert runner.invoke(app, ["hashset", "lookup", "xyz"]).exit_code == 2


def test_an_nsrl_rds_database_imports_as_known_good_by_itself(tmp_path: Path) -> None:
    from tests.hashsets.hashset_builders import Digests, rds_row, write_nsrl_rds

    write_tree(tmp_path / "evidence", FILES)
    program = hashlib.sha1(FILES["notepad.exe"]).hexdigest().upper()
    rds = write_nsrl_rds(tmp_path / "RDS_minimal.db", [rds_row(Digests("other")), ("0" * 64, program, "0" * 32)])
    report = fieldlab.import_hashset(rds, name="nsrl")
    assert report.info.format == "nsrl-rds" and report.info.known_good
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case")
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.known_good == 1 and counts.hit_items == 0
