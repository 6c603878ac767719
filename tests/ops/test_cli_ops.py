"""``fieldlab db`` and ``fieldlab ops`` from the command line, on either database."""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from fieldlab.cli import app
from tests.ops.ops_data import OUR_FORCE

runner = CliRunner()


def _where(location) -> list[str]:  # noqa: ANN001
    return ["--ops-dir", str(location.head_dir)] if location.create else ["--database", location.url]


def test_the_commands_take_an_export_to_a_warrant_draft(ops_location, scenario, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FIELDLAB_EXAMINER", "DC 1 Intel")
    where = _where(ops_location)

    def run(*args: str):  # noqa: ANN202
        result = runner.invoke(app, [*args, *where])
        assert result.exit_code == 0, result.output
        return result.output

    areas = run("ops", "areas", str(scenario.areas))
    assert "5 networks" in areas and "2 areas" in areas and "line 8: 'not-a-network'" in areas
    assert OUR_FORCE in run("ops", "settings", "--force-area", OUR_FORCE)
    imported = run("ops", "import", str(scenario.sightings))
    assert "12 sightings added" in imported and f"line {scenario.lines['bad-ip']}:" in imported
    listed = run("ops", "targets")
    assert "same IP address within 7 days" in listed and "by category" in listed
    output = tmp_path / "draft.pdf"
    assert "SHA-256" in run("ops", "warrant", "1", "--output", str(output))
    text = subprocess.run(["pdftotext", str(output), "-"], capture_output=True, text=True, check=True).stdout
    assert "203.0.113.10" in text
    assert "intact" in run("ops", "audit")
    added = runner.invoke(app, ["ops", "user", "add", "super9", "--role", "supervisor", *where],
                          input="a long password\na long password\n")
    assert added.exit_code == 0 and "super9 (supervisor)" in added.output
    assert "super9" in run("ops", "user", "list")


def test_serve_refuses_a_case_and_an_operations_database_together(tmp_path) -> None:
    both = runner.invoke(app, ["serve", str(tmp_path), "--ops-dir", str(tmp_path / "ops")])
    assert both.exit_code == 2 and "not both" in both.output
    neither = runner.invoke(app, ["serve"])
    assert neither.exit_code == 2 and "--database" in neither.output


def test_serve_starts_the_operations_app_on_the_database_given(ops_location, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("fieldlab.web.server.serve_operations",
                        lambda location, **options: calls.append((location, options["listening"])))
    result = runner.invoke(app, ["serve", *_where(ops_location), "--port", "9001"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps lines where a long case path puts them
    assert "No accounts yet" in said and "public figures at /public" in said
    assert calls and calls[0][0].url == ops_location.url and calls[0][1].port == 9001
