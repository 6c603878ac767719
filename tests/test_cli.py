"""The command line: discoverable help with examples, the demo end to end, clear errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
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
    (counts,) = json.loads(runner.invoke(app, ["summary", str(case), "--json"]).output)
    assert counts["exhibit"] == "X1" and counts["known_items"] == len(demo.planted) and counts["finished"]
    assert sum(counts["hits_by_category"].values()) == len(demo.planted)
    for width in (80, 120):
        shown = subprocess.run([sys.executable, "-m", "fieldlab", "summary", str(case)], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": str(width)}, check=True).stdout
        assert max(map(len, shown.splitlines())) <= width and "Media (decoded)" in shown and "…" not in shown
        # the demo's damaged PDF: the verdict says where each problem is listed, and that list fits too
        assert f"Each problem, by kind: fieldlab errors {case}" in " ".join(shown.split())
        listed = subprocess.run([sys.executable, "-m", "fieldlab", "errors", str(case)], capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": str(width)}, check=True).stdout
        assert max(map(len, listed.splitlines())) <= width and "damaged" in listed and "…" not in listed
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


def _all_commands() -> list[list[str]]:
    import typer.main

    def walk(command, path: list[str]) -> list[list[str]]:
        found = [path] if path else []
        for name, sub in getattr(command, "commands", {}).items():
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("command", _all_commands(), ids=" ".join)
def test_help_reads_like_a_manual_not_like_python(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    for pythonish in ("<bool>", "<str>", "<int", "<float", "<path>", "list[", "{", "x>=", "<=x"):
        assert pythonish not in result.output, f"{pythonish!r} in the help of {' '.join(command)}"


def test_help_names_values_humanly_and_shows_flag_defaults() -> None:
    scan = " ".join(runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "120"}).output.split())
    assert "scan [OPTIONS] SOURCE" in scan and "--case PATH" in scan and "--workers N" in scan
    assert "disk image" in scan and "phone extraction" in scan and "archive" in scan
    assert "fieldlab[classify]" in scan  # square brackets survive rich markup
    assert "[default: --live]" in scan and "[default: --no-sha256]" in scan and "0 to 64" in scan
    from fieldlab.evidence.archives import MAX_DEPTH  # --help states it without importing the archive readers

    assert f"(default {MAX_DEPTH})" in scan and "--max-depth N [1 to 1000]" in scan
    report = " ".join(runner.invoke(app, ["report", "--help"], env={"COLUMNS": "120"}).output.split())
    assert "--thumbnails" in report and "[default: off]" in report
    lookup = " ".join(runner.invoke(app, ["hashset", "lookup", "--help"], env={"COLUMNS": "120"}).output.split())
    assert "DIGESTS..." in lookup and "--radius N" in lookup


def test_version() -> None:
    from fieldlab import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"fieldlab {__version__}"


def test_old_spellings_still_work_as_hidden_aliases(tmp_path: Path) -> None:
    demo = build_demo_case(tmp_path / "d")
    home = tmp_path / "home"
    assert runner.invoke(app, ["hashset", "import", str(demo.csv_path), "--name", "demo", "--home", str(home)]).exit_code == 0
    shown = runner.invoke(app, ["hashset", "show", "demo", "--home", str(home)])
    assert shown.exit_code == 0 and "demo" in shown.output
    assert runner.invoke(app, ["hashset", "info", "demo", "--home", str(home)]).output == shown.output
    top = runner.invoke(app, ["hashset", "--help"]).output
    assert " show " in top and " info " not in top and " audit" not in top
    audit = runner.invoke(app, ["audit", "--help"]).output
    assert " list " in audit and " show " not in audit


def test_start_up_loads_no_evidence_database_or_imaging_library() -> None:
    """fieldlab --help, and building every command's help, import typer and rich, not the heavy libraries."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from fieldlab.cli import app\n"
            "for args in (['--help'], ['scan', '--help'], ['summary', '--help'], ['user', 'add', '--help']):\n"
            "    assert CliRunner().invoke(app, args).exit_code == 0\n"
            "heavy = ('pytsk3', 'pyewf', 'sqlalchemy', 'numpy', 'PIL', 'av', 'fastapi', 'argon2', 'weasyprint')\n"
            "print(' '.join(m for m in heavy if m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_summary_and_hits_load_only_the_case_database(tmp_path: Path) -> None:
    """summary and hits read the case through the stdlib sqlite3 module (case/read_only.py): no SQLAlchemy, NumPy
    (the classifier's types), evidence reader, decoder or web library (issue 17), and no hand-written second copy
    of their queries (tests/case/test_read_only.py)."""
    from fieldlab.case.store import CaseStore

    case = tmp_path / "case"
    store = CaseStore.open(case)
    store.ensure_exhibit("X1", str(tmp_path / "evidence"), "folder")
    store.close()
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from fieldlab.cli import app\n"
            f"case, out = {str(case)!r}, {str(tmp_path / 'hits.json')!r}\n"
            "for args in (['summary', case], ['summary', case, '--json'], ['hits', case],\n"
            "             ['hits', case, '--format', 'json', '-o', out]):\n"
            "    result = CliRunner().invoke(app, args)\n"
            "    assert result.exit_code == 0, (args, result.output)\n"
            "heavy = ('sqlalchemy', 'numpy', 'pytsk3', 'pyewf', 'PIL', 'av', 'fieldlab.evidence.sources',\n"
            "         'fieldlab.triage.scan', 'fieldlab.case.store', 'fastapi', 'jinja2', 'argon2', 'weasyprint')\n"
            "print('sqlite3' in sys.modules, ' '.join(m for m in heavy if m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["True"]  # the case database is read, and nothing heavy is loaded for it

