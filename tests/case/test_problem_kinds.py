"""Problems have kinds in the store: a case recorded before kinds existed still opens, its rows classified."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import fieldlab
from fieldlab.api import list_problems as problems
from fieldlab.case.store import CaseStore
from fieldlab.evidence.item import Item, ItemKind
from fieldlab.locator import Locator
from fieldlab.problems import Problem, ProblemKind, merged
from fieldlab.results import MediaResult


def _old_case(case_dir: Path, rows: list[tuple[str, str, str]]) -> None:
    """A case as an earlier fieldlab left it: an errors table without ``kind``, every warning at stage "changed"."""
    store = CaseStore.open(case_dir)
    exhibit, _ = store.ensure_exhibit("EX1", "/evidence", "folder")
    store.close()
    with sqlite3.connect(case_dir / "case.sqlite") as db:
        db.execute("ALTER TABLE errors DROP COLUMN kind")
        db.executemany("INSERT INTO errors (exhibit_id, stage, path, message, at) VALUES (?, ?, ?, ?, 0)",
                       [(exhibit.id, *row) for row in rows])


def test_an_older_case_opens_and_its_problems_are_classified_by_stage_and_words(tmp_path: Path) -> None:
    _old_case(tmp_path / "case", [
        ("changed", "log.txt", "changed since it was listed (listed 5 bytes, now 9)"),
        ("changed", "statement.pdf", "damaged PDF, rebuilt: xref not found"),
        ("changed", "deep.zip", "archive nested deeper than 5 levels: not opened"),
        ("changed", "secret.zip", "a.jpg: encrypted: its content needs the password"),
        ("read", "gone.jpg", "cannot be opened: Permission denied"),
        ("read", "odd.bin", "internal error while reading: ValueError: boom"),
        ("decode", "broken.jpg", "cannot identify image file"),
        ("walk", "Users/x", "folder cannot be opened: Permission denied"),
    ])
    found = {(r.path, r.kind, r.stage) for r in problems(tmp_path / "case")}
    assert found == {
        ("log.txt", ProblemKind.CHANGED, "read"), ("statement.pdf", ProblemKind.DAMAGED, "read"),
        ("deep.zip", ProblemKind.NESTING, "read"), ("secret.zip", ProblemKind.ENCRYPTED, "read"),
        ("gone.jpg", ProblemKind.UNREADABLE, "read"), ("odd.bin", ProblemKind.INTERNAL, "read"),
        ("broken.jpg", ProblemKind.DAMAGED, "decode"), ("Users/x", ProblemKind.UNREADABLE, "walk"),
    }
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.errors == 8 and counts.problems["damaged"] == 2


def test_problems_are_listed_grouped_by_kind_and_filtered(tmp_path: Path) -> None:
    store = CaseStore.open(tmp_path / "case")
    exhibit, _ = store.ensure_exhibit("EX1", "/evidence", "folder")
    store.add_error(exhibit.id, "read", "b.db", Problem(ProblemKind.NORMAL, "no thumbnails stored"))
    store.add_error(exhibit.id, "read", "a.pdf", Problem(ProblemKind.DAMAGED, "damaged PDF"))
    store.add_error(exhibit.id, "walk", "c", Problem(ProblemKind.UNREADABLE, "folder cannot be opened"))
    store.close()
    assert [r.kind for r in problems(tmp_path / "case")] == [ProblemKind.UNREADABLE, ProblemKind.DAMAGED,
                                                             ProblemKind.NORMAL]
    assert [r.path for r in problems(tmp_path / "case", ProblemKind.DAMAGED)] == ["a.pdf"]


def test_merged_problems_keep_one_row_per_kind_and_bound_the_message() -> None:
    found = [Problem(ProblemKind.DAMAGED, f"member {n}: bad CRC") for n in range(25)]
    found.insert(3, Problem(ProblemKind.ENCRYPTED, "secret.jpg: encrypted"))
    damaged, encrypted = merged(found)
    assert (damaged.kind, encrypted.kind) == (ProblemKind.DAMAGED, ProblemKind.ENCRYPTED)
    assert damaged.message.startswith("member 0: bad CRC; member 1") and damaged.message.endswith("; and 5 more")
    assert encrypted.message == "secret.jpg: encrypted"


def test_a_decode_records_why_it_failed_or_why_a_video_was_hashed_only_in_part(tmp_path: Path) -> None:
    case = tmp_path / "case"
    store = CaseStore.open(case)
    try:
        exhibit, _ = store.ensure_exhibit("EX1", str(tmp_path / "evidence"), "folder")
        names = ("broken.jpg", "cut.mp4", "whole.mp4")
        store.add_items(exhibit.id, [Item(Locator.for_file(n.encode()), n, ItemKind.FILE, 1) for n in names])
        ids = dict(sqlite3.connect(case / "case.sqlite").execute("SELECT path, id FROM items"))
        store.record_media(exhibit.id, [
            MediaResult(ids["broken.jpg"], "image", error=Problem(ProblemKind.DAMAGED, "not a JPEG")),
            MediaResult(ids["cut.mp4"], "video", partial=Problem(ProblemKind.TRUNCATED, "stream ends at 3 s")),
            MediaResult(ids["whole.mp4"], "video"),
        ], [], {ids[n]: n for n in names})
    finally:
        store.close()
    rows = sqlite3.connect(case / "case.sqlite").execute(
        "SELECT path, stage, kind, message FROM errors ORDER BY path").fetchall()
    assert rows == [("broken.jpg", "decode", "damaged", "not a JPEG"),
                    ("cut.mp4", "decode", "truncated", "partly hashed: stream ends at 3 s")]
