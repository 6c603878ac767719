"""The audit trail: hash-chained, append-only, and any edit, removal or insertion is detected."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fieldlab.case.store import DATABASE_FILE, CaseStore


@pytest.fixture()
def case_with_log(tmp_path: Path) -> Path:
    store = CaseStore.open(tmp_path / "case")
    for n in range(5):
        store.audit.append("viewed_item", {"item": n}, actor="examiner-1")
    store.close()
    return tmp_path / "case"


def _raw(case_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(case_dir / DATABASE_FILE)
    conn.execute("DROP TRIGGER audit_log_no_update")  # what someone editing the file directly would do first
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def _verify(case_dir: Path):  # noqa: ANN202
    store = CaseStore.open(case_dir, create=False)
    try:
        return store.audit.verify()
    finally:
        store.close()


def test_an_untouched_log_verifies_and_chains_each_entry_to_the_previous(case_with_log: Path) -> None:
    result = _verify(case_with_log)
    assert result.ok and result.entries == 6  # case_created + 5
    store = CaseStore.open(case_with_log, create=False)
    entries = store.audit.entries()
    store.close()
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in zip(entries, entries[1:]))
    assert entries[1].actor == "examiner-1" and entries[1].detail == {"item": 0}


def test_the_database_itself_refuses_to_update_or_delete_audit_entries(case_with_log: Path) -> None:
    conn = sqlite3.connect(case_with_log / DATABASE_FILE)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor='someone else' WHERE seq=2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq=2")


def test_editing_an_entry_is_detected(case_with_log: Path) -> None:
    conn = _raw(case_with_log)
    conn.execute("""UPDATE audit_log SET detail='{"item": 99}' WHERE seq=3""")
    conn.commit()
    result = _verify(case_with_log)
    assert not result.ok and "entry 3 was altered" in result.problem


def test_deleting_an_entry_in_the_middle_is_detected(case_with_log: Path) -> None:
    conn = _raw(case_with_log)
    conn.execute("DELETE FROM audit_log WHERE seq=3")
    conn.commit()
    result = _verify(case_with_log)
    assert not result.ok and "entry 3 is missing" in result.problem


def test_deleting_the_newest_entries_is_detected_through_the_head_file(case_with_log: Path) -> None:
    conn = _raw(case_with_log)
    conn.execute("DELETE FROM audit_log WHERE seq >= 5")
    conn.commit()
    result = _verify(case_with_log)
    assert not result.ok and "entries were removed" in result.problem


def test_rewriting_the_whole_chain_from_an_entry_still_disagrees_with_the_head(case_with_log: Path) -> None:
    from fieldlab.case.audit import _entry_hash

    conn = _raw(case_with_log)
    rows = conn.execute("SELECT seq, at, actor, action, detail, tool_version, prev_hash FROM audit_log ORDER BY seq").fetchall()
    prev = rows[2][6]
    for seq, at, actor, action, detail, version, _ in rows[2:]:
        if seq == 3:
            actor = "forger"
        new_hash = _entry_hash(seq, at, actor, action, detail, version, prev)
        conn.execute("UPDATE audit_log SET actor=?, prev_hash=?, entry_hash=? WHERE seq=?", (actor, prev, new_hash, seq))
        prev = new_hash
    conn.commit()
    result = _verify(case_with_log)
    assert not result.ok and "audit.head" in result.problem


def test_reordering_two_entries_is_detected_and_located(case_with_log: Path) -> None:
    conn = _raw(case_with_log)
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
    conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
    conn.commit()
    result = _verify(case_with_log)
    assert not result.ok and "entry 3 does not follow entry 2" in result.problem


def test_audit_show_lists_every_entry_readably(case_with_log: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    shown = CliRunner().invoke(app, ["audit", "show", str(case_with_log)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert shown.output.count("viewed_item") == 5 and "case_created" in shown.output and "examiner-1" in shown.output
    only = CliRunner().invoke(app, ["audit", "show", str(case_with_log), "--action", "case_created"],
                              env={"COLUMNS": "200"})
    assert "viewed_item" not in only.output and "case_created" in only.output
