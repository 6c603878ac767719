"""The ``fieldlab user`` and ``fieldlab serve`` commands, and cases made before the review app."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from fieldlab.case.store import CaseStore
from fieldlab.cli import app
from fieldlab.web.accounts import authenticate

runner = CliRunner()


def test_user_add_takes_the_password_from_a_file_and_user_list_shows_it(web_case, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("a sufficiently long one\n")
    added = runner.invoke(app, ["user", "add", "DC 1234 Smith", "--case", str(web_case.case), "--role", "supervisor",
                                "--password-file", str(secret)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["user", "list", "--case", str(web_case.case)])
    assert "DC 1234 Smith" in listed.output and "supervisor" in listed.output
    store = CaseStore.open(web_case.case, create=False)
    try:
        assert authenticate(store, "DC 1234 Smith", "a sufficiently long one") is not None
        assert [e.action for e in store.audit.entries()].count("user_added") == 5
    finally:
        store.close()


def test_user_add_prompts_twice_and_refuses_bad_input(web_case) -> None:
    prompted = runner.invoke(app, ["user", "add", "viewer9", "--case", str(web_case.case), "--role", "viewer"],
                             input="another long password\nanother long password\n")
    assert prompted.exit_code == 0, prompted.output
    assert runner.invoke(app, ["user", "add", "x", "--case", str(web_case.case), "--role", "admin"]).exit_code == 2
    short = runner.invoke(app, ["user", "add", "y", "--case", str(web_case.case)], input="short\nshort\n")
    assert short.exit_code == 2 and "at least 10" in short.output
    again = runner.invoke(app, ["user", "add", "viewer9", "--case", str(web_case.case)],
                          input="another long password\nanother long password\n")
    assert again.exit_code == 2 and "already" in again.output


def test_serve_warns_loudly_beyond_loopback_and_passes_its_options(web_case, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("fieldlab.web.server.serve", lambda *args: calls.append(args))
    quiet = runner.invoke(app, ["serve", str(web_case.case)])
    assert quiet.exit_code == 0 and "WARNING" not in quiet.output and "http://127.0.0.1:8765" in quiet.output
    loud = runner.invoke(app, ["serve", str(web_case.case), "--host", "0.0.0.0", "--port", "9000"])
    assert loud.exit_code == 0 and "WARNING" in loud.output and "reachable from the network" in loud.output
    assert calls[0][1:3] == ("127.0.0.1", 8765) and calls[1][1:3] == ("0.0.0.0", 9000)
    assert runner.invoke(app, ["serve", str(web_case.case / "nope")]).exit_code == 2


def test_a_case_made_before_the_review_app_gains_its_tables(web_case) -> None:
    db = sqlite3.connect(web_case.case / "case.sqlite")
    for table in ("exposure_log", "examiner_settings", "web_sessions", "users"):
        db.execute(f"DROP TABLE {table}")
    db.commit()
    db.close()
    store = CaseStore.open(web_case.case, create=False)  # no refusal: tables are added, no column is missing
    store.close()
    tables = {name for (name,) in sqlite3.connect(web_case.case / "case.sqlite").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "web_sessions", "examiner_settings", "exposure_log"} <= tables
