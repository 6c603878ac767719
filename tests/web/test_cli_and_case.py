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
    case = str(web_case.case)
    prompted = runner.invoke(app, ["user", "add", case, "viewer9", "--role", "viewer"],
                             input="another long password\nanother long password\n")
    assert prompted.exit_code == 0, prompted.output
    assert runner.invoke(app, ["user", "add", case, "x", "--role", "admin"]).exit_code == 2
    differ = runner.invoke(app, ["user", "add", case, "y"], input="a long password 1\na long password 2\n")
    assert differ.exit_code == 2 and "differ" in differ.output
    again = runner.invoke(app, ["user", "add", case, "viewer9"], input="another long password\nanother long password\n")
    assert again.exit_code == 2 and "already" in again.output


def test_the_password_rule_is_said_before_typing_and_a_short_one_is_refused_before_the_repeat(web_case) -> None:
    case = str(web_case.case)
    # a short password, then a good one typed twice: the refusal comes after the first typing, not the second
    result = runner.invoke(app, ["user", "add", case, "dc5"], input="short\nlong enough now\nlong enough now\n")
    assert result.exit_code == 0, result.output
    assert "Password (at least 10 characters)" in result.output
    assert result.output.index("at least 10 characters\n") < result.output.index("The same password again")
    never = runner.invoke(app, ["user", "add", case, "dc6"], input="short\nshort\nshort\n")
    assert never.exit_code == 2 and "nothing was changed" in never.output
    assert "dc6" not in runner.invoke(app, ["user", "list", case]).output


def test_user_commands_take_the_case_first_and_the_old_spelling_still_works(web_case, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("a sufficiently long one\n")
    case = str(web_case.case)
    assert runner.invoke(app, ["user", "add", case, "new1", "--password-file", str(secret)]).exit_code == 0
    assert runner.invoke(app, ["user", "add", "old1", "--case", case, "--password-file", str(secret)]).exit_code == 0
    for listed in (runner.invoke(app, ["user", "list", case]), runner.invoke(app, ["user", "list", "--case", case])):
        assert listed.exit_code == 0 and "new1" in listed.output and "old1" in listed.output
    missing = runner.invoke(app, ["user", "add", case])
    assert missing.exit_code == 2 and "fieldlab user add CASE NAME" in missing.output


def test_disable_enable_reset_and_remove_accounts_from_the_command_line(web_case, tmp_path: Path) -> None:
    case = str(web_case.case)
    assert runner.invoke(app, ["user", "disable", case, "examiner1"]).exit_code == 0
    assert "disabled" in runner.invoke(app, ["user", "list", case]).output
    store = CaseStore.open(web_case.case, create=False)
    try:
        assert authenticate(store, "examiner1", "examiner-password-1") is None
    finally:
        store.close()
    assert runner.invoke(app, ["user", "enable", case, "examiner1"]).exit_code == 0
    new = tmp_path / "new.txt"
    new.write_text("a brand new password\n")
    reset = runner.invoke(app, ["user", "password", case, "examiner1", "--password-file", str(new)])
    assert reset.exit_code == 0, reset.output
    unknown = runner.invoke(app, ["user", "password", case, "nobody", "--password-file", str(new)])
    assert unknown.exit_code == 2 and "no user named 'nobody'" in unknown.output
    assert runner.invoke(app, ["user", "remove", case, "viewer1"]).exit_code == 0
    store = CaseStore.open(web_case.case, create=False)
    try:
        assert authenticate(store, "examiner1", "examiner-password-1") is None
        assert authenticate(store, "examiner1", "a brand new password") is not None
        assert authenticate(store, "viewer1", "viewer-password-1") is None
        # examiner2 has seen a picture: the exposure log names the account, so it can only be disabled
        with store.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO exposure_log (user_id, examiner, item_id, how, revealed_at) "
                                 "SELECT id, name, (SELECT MIN(id) FROM items), 'key', 0 FROM users WHERE name = 'examiner2'")
        actions = [e.action for e in store.audit.entries()]
    finally:
        store.close()
    assert {"user_disabled", "user_enabled", "password_reset", "user_removed"} <= set(actions)
    kept = runner.invoke(app, ["user", "remove", case, "examiner2"])
    assert kept.exit_code == 2 and "disable it instead" in kept.output
    assert "examiner2" in runner.invoke(app, ["user", "list", case]).output
    assert "viewer1" not in runner.invoke(app, ["user", "list", case]).output


def test_serve_warns_loudly_beyond_loopback_and_passes_its_options(web_case, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("fieldlab.web.server.serve", lambda case, **options: calls.append(options["listening"]))
    quiet = runner.invoke(app, ["serve", str(web_case.case)])
    assert quiet.exit_code == 0 and "WARNING" not in quiet.output and "http://127.0.0.1:8765" in quiet.output
    loud = runner.invoke(app, ["serve", str(web_case.case), "--host", "0.0.0.0", "--port", "9000"])
    assert loud.exit_code == 0 and "WARNING" in loud.output and "reachable from the network" in loud.output
    assert [(c.host, c.port) for c in calls] == [("127.0.0.1", 8765), ("0.0.0.0", 9000)]
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
