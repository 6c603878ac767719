"""The case database answers the scan's per-batch questions through an index, not a scan of every item: a question
asked once per batch that reads every item makes a scan's time grow with the square of the disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fieldlab.case.store import CaseStore
from fieldlab.evidence.item import Item, ItemKind
from fieldlab.locator import Locator


def _plan(case_dir: Path, sql: str, args: tuple) -> str:
    with sqlite3.connect(case_dir / "case.sqlite") as conn:
        return " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))


def _listed_md5s_sql() -> str:
    return ("SELECT DISTINCT items.md5 FROM items WHERE items.exhibit_id = ? AND items.md5 IN (?, ?) "
            "AND items.flags NOT LIKE '%unallocated%'")


def test_carved_copies_are_looked_up_by_md5_through_an_index(tmp_path: Path) -> None:
    store = CaseStore.open(tmp_path / "case")
    exhibit, _ = store.ensure_exhibit("E1", "/evidence", "image")
    store.add_items(exhibit.id, [Item(Locator.for_file(f"f{n}".encode()), f"f{n}", ItemKind.FILE, 1) for n in range(50)])
    assert store.listed_md5s(exhibit.id, ["0" * 32]) == set()
    store.close()
    assert "ix_items_md5" in _plan(tmp_path / "case", _listed_md5s_sql(), (exhibit.id, "a" * 32, "b" * 32))


def test_a_case_made_before_the_index_gets_it_when_opened(tmp_path: Path) -> None:
    CaseStore.open(tmp_path / "case").close()
    with sqlite3.connect(tmp_path / "case" / "case.sqlite") as conn:
        conn.execute("DROP INDEX ix_items_md5")
    CaseStore.open(tmp_path / "case").close()
    with sqlite3.connect(tmp_path / "case" / "case.sqlite") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_items_md5" in names
