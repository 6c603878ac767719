"""The command line: discoverable help with examples, the demo end to end, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldlab.cli import app
from fieldlab.demo import build_demo_case

runner = CliRunner()
COMMANDS = [["hashset", "import"], ["hashset", "list"], ["hashset", "remove"], ["hashset", "from-case"], ["scan"],
            ["summary"], ["hits"], ["group"], ["categorise"], ["audit", "verify"], ["demo"], ["hashset", "blocks"],
            ["prescan"], ["charges"], ["report"], ["export"], ["phones"], ["audit", "show"], ["serve"], ["user", "add"]]


def test_top_level_help_lists_every_command_with_a_one_line_explanation() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("hashset", "scan", "summary", "hits", "audit", "demo"):
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: fieldlab" in " ".join(result.output.split())


def test_demo_finds_exactly_the_planted_known_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "demo" / "hits.csv").read_text())))
    # Rebuild the same deterministic demo elsewhere to learn what was planted, independently of the scan.
    planted = build_demo_case(tmp_path / "again").planted
    assert {r["path"] for r in rows} == {p.relative_path for p in planted}
    assert {(r["path"], r["category"]) for r in rows} == {(p.relative_path, p.category) for p in planted}
    assert f"{len(planted)} known items found of {len(planted)} planted" in " ".join(result.output.split())


def test_scan_then_summary_and_hits_as_json(tmp_path: Path) -> None:
    demo = build_demo_case(tmp_path / "d")
    assert runner.invoke(app, ["hashset", "import", str(demo.csv_path), "--name", "demo"]).exit_code == 0
    listed = runner.invoke(app, ["hashset", "list"])
    assert "demo" in listed.output
    case = tmp_path / "case"
    scanned = runner.invoke(app, ["scan", str(demo.evidence_dir), "--case", str(case), "--exhibit", "X1"])
    assert scanned.exit_code == 0, scanned.output
    assert "X1" in runner.invoke(app, ["summary", str(case)]).output
    out = tmp_path / "hits.json"
    assert runner.invoke(app, ["hits", str(case), "--format", "json", "-o", str(out)]).exit_code == 0
    assert {h["path"] for h in json.loads(out.read_text())} == {p.relative_path for p in demo.planted}
    into_evidence = demo.evidence_dir / "hits.json"
    refused = runner.invoke(app, ["hits", str(case), "-o", str(into_evidence)])
    assert refused.exit_code == 2 and "inside the evidence" in refused.output and not into_evidence.exists()
    assert "intact" in runner.invoke(app, ["audit", "verify", str(case)]).output


def test_errors_are_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(tmp_path / "missing"), "--case", str(tmp_path / "case")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["summary", str(tmp_path / "not-a-case")])
    assert result.exit_code == 2 and "not a fieldlab case" in result.output
    source = tmp_path / "evidence"
    source.mkdir()
    result = runner.invoke(app, ["scan", str(source), "--case", str(source / "c")])
    assert result.exit_code == 2 and "inside the evidence" in result.output
    assert list(source.iterdir()) == []
    result = runner.invoke(app, ["scan", str(source), "--case", str(tmp_path / "c"), "--hashset", "nope"])
    assert result.exit_code == 2 and "no hash set named nope" in result.output
