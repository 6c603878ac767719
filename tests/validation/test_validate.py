"""fieldlab validate: the quick corpus end to end (as CI runs it), its reproducibility, and the scorer's rules."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

import fieldlab
from fieldlab.problems import ProblemKind
from fieldlab.validation import validate
from fieldlab.validation.corpus import CLASSES, build_corpus
from fieldlab.validation.run import import_corpus_sets, run_fieldlab
from fieldlab.validation.score import Finding, ReportedProblem, expected_charging, score, wilson
from fieldlab.validation.truth import NOT_REACHABLE, ClassInfo, KnownItem, Truth


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("validation") / "run"
    validate(out, seed=3, size="quick", peers=True)
    return out


@pytest.fixture(scope="module")
def record(quick: Path) -> dict:
    return json.loads((quick / "validation-record.json").read_text(encoding="utf-8"))


def file_digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_class_is_planted_and_scored_with_an_interval(record: dict) -> None:
    scored = {c["name"]: c for c in record["fieldlab"]["classes"]}
    assert list(scored) == [c.name for c in CLASSES]
    for c in scored.values():
        assert c["planted"] >= 1 and 0 <= c["found"] <= c["planted"]
        assert c["recall"] == pytest.approx(c["found"] / c["planted"])
        assert 0 <= c["low"] <= c["recall"] <= c["high"] <= 1
        assert 0 <= c["category_agreed"] <= c["found"]
    assert record["fieldlab"]["planted"] == sum(c["planted"] for c in scored.values())


def test_precision_and_the_negative_control_are_measured(record: dict) -> None:
    result = record["fieldlab"]
    assert result["benign_items"] > 0 and 0 <= result["benign_hit"] <= result["benign_items"]
    assert result["hit_items"] >= result["true_items"] > 0
    assert result["precision"] == pytest.approx(result["true_items"] / result["hit_items"])
    assert result["hit_items"] - result["true_items"] == len(result["false_findings"])


def test_every_class_below_full_recall_is_a_stated_limit_with_examples(record: dict) -> None:
    below = {c["name"]: c for c in record["fieldlab"]["classes"] if c["found"] < c["planted"]}
    limits = {limit["name"]: limit for limit in record["limits"]}
    assert limits.keys() == below.keys()
    for name, limit in limits.items():
        assert limit["missed"], name
        assert all(m.startswith("K") and "(EX0" in m for m in limit["missed"])


def test_new_extractions_and_containers_are_read_and_the_locked_zip_is_reported_not_reached(quick: Path,
                                                                                           record: dict) -> None:
    scored = {c["name"]: c for c in record["fieldlab"]["classes"]}
    for name in ("phone/ios-backup", "phone/android-ab", "phone/ufdr", "vhdx/allocated", "vhdx/deleted",
                 "hfsplus/allocated", "hfsplus/deleted", "luks/allocated",
                 "archive/password-not-given"):
        assert scored[name]["found"] == scored[name]["planted"] >= 1, name
    assert {b.kind for b in Truth.read(quick / "corpus").benign} == {"picture", "video", "document", "executable"}


def test_peers_are_scored_by_the_same_truth(record: dict) -> None:
    names = [p["name"] for p in record["peers"]]
    assert names == ["tsk_recover -e", "foremost", "photorec"]
    tsk = next(p for p in record["peers"] if p["name"] == "tsk_recover -e")
    assert tsk["found"]["ntfs/allocated"] == tsk["score"]["classes"][0]["planted"]  # an allocated file is easy
    assert tsk["found"]["near/rotate"] == 0  # an MD5 cannot match a rotated picture
    assert tsk["score"]["charging_differences"] is None
    for peer in record["peers"]:  # no peer reads inside LUKS: its classes are missed, not a crash
        assert peer["found"]["luks/allocated"] == 0, peer["name"]


def test_record_names_versions_corpus_and_machine(record: dict) -> None:
    environment = record["environment"]
    for key in ("fieldlab", "commit", "python", "pytsk3", "libewf-python", "pdqhash", "Pillow", "av", "machine"):
        assert environment[key], key
    assert len(record["corpus"]["sha256"]) == 64 and record["corpus"]["seed"] == 3
    assert {e["ref"] for e in record["corpus"]["exhibits"]} == {f"EX{n:02d}" for n in range(1, 11)}
    assert all(e["seconds"] > 0 for e in record["corpus"]["exhibits"])


def test_pdf_record_renders_the_results_table(quick: Path, record: dict) -> None:
    pdf = quick / "validation-record.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Validation record" in text and record["corpus"]["sha256"] in text
    for c in CLASSES:
        assert c.name.split("/")[1] in text, c.name
    html = (quick / "validation-record.html").read_text(encoding="utf-8")
    assert "<script" not in html and "foremost" in html


def test_the_encrypted_laptop_is_read_with_its_passphrase_and_without_it_reports_the_locked_volume(
        quick: Path, record: dict, tmp_path: Path) -> None:
    truth = Truth.read(quick / "corpus")
    (laptop,) = [e for e in truth.exhibits if e.ref == "EX10"]
    planted = [k for k in truth.known if k.klass == "luks/allocated"]
    assert laptop.luks_password and planted
    assert next(c for c in record["fieldlab"]["classes"] if c["name"] == "luks/allocated")["found"] == len(planted)
    found = {h.md5 for h in fieldlab.hits(quick / "work" / "case") if h.exhibit == "EX10"}
    assert {k.md5 for k in planted} <= found

    home = tmp_path / "library"
    import_corpus_sets(quick / "corpus", home)
    fieldlab.scan(quick / "corpus" / laptop.source, tmp_path / "case", exhibit_ref="EX10", home=home)
    assert list(fieldlab.hits(tmp_path / "case")) == []
    locked = fieldlab.list_problems(tmp_path / "case", ProblemKind.ENCRYPTED)
    assert [p.message for p in locked] == ["LUKS volume: locked, give --luks-password to read it"]


def test_same_seed_gives_the_same_corpus_bytes_and_the_same_results(quick: Path, record: dict,
                                                                     tmp_path: Path) -> None:
    again = build_corpus(tmp_path / "corpus", seed=3, size="quick")
    assert again.corpus_sha256 == record["corpus"]["sha256"]
    assert file_digests(tmp_path / "corpus") == file_digests(quick / "corpus")
    rerun = run_fieldlab(tmp_path / "corpus", again, tmp_path / "work")
    rescored = dataclasses.asdict(score(again, list(rerun.findings), rerun.charging, list(rerun.problems)))
    assert json.loads(json.dumps(rescored)) == record["fieldlab"]


def test_another_seed_gives_another_corpus(quick: Path, record: dict, tmp_path: Path) -> None:
    other = build_corpus(tmp_path / "corpus", seed=4, size="quick")
    assert other.corpus_sha256 != record["corpus"]["sha256"]


def test_wilson_interval_matches_published_values() -> None:
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def small_truth() -> Truth:
    classes = (ClassInfo("disk/allocated", "", "hash set"), ClassInfo("near/rotate", "", "indicative"))
    known = (KnownItem("K0001", "disk/allocated", "EX01", "a", "A", "still", "a" * 32, "b" * 40, "c" * 64),
             KnownItem("K0002", "near/rotate", "EX02", "b", "B", "still", "d" * 32, "e" * 40, "f" * 64))
    return Truth(1, "quick", "pw", classes, (), known, (), "0" * 64)


def test_a_match_on_an_item_planted_in_another_exhibit_is_a_false_positive_not_a_find() -> None:
    truth = small_truth()
    result = score(truth, [Finding("EX01", "x", "/x.jpg", "pdq", "f" * 64, "B")], None)
    assert [c.found for c in result.classes] == [0, 0]
    assert result.precision == 0 and result.false_findings[0].reason.startswith("matched K0002")


def test_category_agreement_needs_every_match_of_an_item_to_carry_the_truths_category() -> None:
    truth = small_truth()
    result = score(truth, [Finding("EX01", "x", "/x.jpg", "md5", "a" * 32, "A"),
                           Finding("EX01", "y", "/y.jpg", "sha1", "b" * 40, "C"),
                           Finding("EX02", "z", "/z.jpg", "pdq", "F" * 64, "B")], None)
    assert [(c.found, c.category_agreed) for c in result.classes] == [(1, 0), (1, 1)]
    assert result.precision == 1


def locked_truth() -> Truth:
    classes = (ClassInfo("archive/password-not-given", "", NOT_REACHABLE),)
    known = (KnownItem("K0001", "archive/password-not-given", "EX01", "a", "A", "still", "a" * 32, "b" * 40,
                       "c" * 64, "Downloads/locked.zip"),)
    return Truth(1, "quick", "pw", classes, (), known, (), "0" * 64)


@pytest.mark.parametrize(("findings", "problems", "reached"), [
    ([], [ReportedProblem("EX01", "encrypted", "vol2@1048576/Downloads/locked.zip")], 1),
    ([], [ReportedProblem("EX01", "encrypted", "vol2@1048576/Downloads/locked.zip › 0001.jpg")], 1),
    ([], [ReportedProblem("EX02", "encrypted", "Downloads/locked.zip")], 0),  # another exhibit's zip
    ([], [ReportedProblem("EX01", "damaged", "Downloads/locked.zip")], 0),  # not said to be encrypted
    ([], [ReportedProblem("EX01", "encrypted", "Downloads/notlocked.zip")], 0),
    ([Finding("EX01", "x", "Downloads/locked.zip", "md5", "a" * 32, "A")],
     [ReportedProblem("EX01", "encrypted", "Downloads/locked.zip")], 0),  # matched: not the expected result
])
def test_an_item_out_of_reach_counts_only_when_its_own_container_is_reported_encrypted_and_nothing_matched(
        findings: list[Finding], problems: list[ReportedProblem], reached: int) -> None:
    result = score(locked_truth(), findings, {}, problems)
    assert result.classes[0].found == reached
    assert len(result.classes[0].missed) == 1 - reached


def test_an_item_out_of_reach_is_not_in_the_truths_charging_table() -> None:
    assert expected_charging(locked_truth()) == {}


def test_truths_charging_table_counts_each_item_on_its_class_basis() -> None:
    assert expected_charging(small_truth()) == {("EX01", "hash set", "still", "A"): 1,
                                                  ("EX02", "indicative", "still", "B"): 1}


def test_cli_refuses_an_unknown_size_and_a_folder_already_in_use(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    runner = CliRunner()
    bad_size = runner.invoke(app, ["validate", "--out", str(tmp_path / "new"), "--size", "huge"])
    assert bad_size.exit_code == 2 and "quick, standard, large" in bad_size.output
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    in_use = runner.invoke(app, ["validate", "--out", str(tmp_path / "used")])
    assert in_use.exit_code == 2 and "not an empty folder" in in_use.output
    assert not (tmp_path / "new").exists()
    assert "fieldlab validate --out" in runner.invoke(app, ["validate", "--help"]).output


def test_a_tool_that_matches_nothing_has_no_precision_rather_than_a_perfect_one() -> None:
    result = score(small_truth(), [], None)
    assert result.precision is None and result.found == 0 and result.false_findings == ()
