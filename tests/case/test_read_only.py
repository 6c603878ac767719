"""``fieldlab summary`` and ``hits`` read a case through sqlite3 (case/read_only.py), running the SQLite text of the
same SQLAlchemy Core statements (case/read_sql.py, generated from them): the text cannot drift from the
statements, both ways give the same answers, and the case is neither written nor brought up to date needlessly."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fieldlab
from fieldlab.case import read_only, read_sql_source
from fieldlab.case.queries import exhibit_counts, hits_query
from fieldlab.case.read_only import ReadOnlyCase
from fieldlab.case.read_rows import hit_from_row
from fieldlab.case.store import DATABASE_FILE, CaseError, CaseStore, HitRecord
from fieldlab.cli import app
from fieldlab.evidence.item import Item, ItemFlag, ItemKind
from fieldlab.locator import Locator
from fieldlab.problems import Problem, ProblemKind
from fieldlab.report.hits import write_hits_csv, write_hits_json
from fieldlab.report.verdict import summary_json
from fieldlab.results import ItemResult, MediaResult

runner = CliRunner()


def test_the_checked_in_sql_is_what_the_core_statements_compile_to_today() -> None:
    assert read_sql_source.GENERATED.read_text(encoding="utf-8") == read_sql_source.module_text(), (
        "a query or table changed: run python -m fieldlab.case.read_sql_source and commit case/read_sql.py")


def test_a_changed_statement_changes_the_generated_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: ordering the hits otherwise is a different text."""
    before = read_sql_source.module_text()
    monkeypatch.setattr(read_sql_source, "hits_query", lambda: hits_query().order_by(None).order_by("id"))
    assert read_sql_source.module_text() != before


def _file(path: str, size: int = 10, *flags: ItemFlag, kind: ItemKind = ItemKind.FILE) -> Item:
    return Item(Locator.for_file(path.encode()), path, kind, size, mtime=1_700_000_000.5, flags=frozenset(flags))


def _hit(item_id: int, hash_set: str, method: str, category: str, **more: object) -> HitRecord:
    return HitRecord(item_id, hash_set, "ab" * 32, "uk", category, method, **more)


def _rich_case(case: Path) -> None:
    """Two exhibits with exact hits (one item in two sets that disagree, one matched by MD5 and SHA-1), a near match
    alone and one beside an exact hit, decoded and undecodable media, problems of several kinds (one a later
    fieldlab's), deleted files and names, a pseudo-entry, known-good, links, special files, a mismatch, an item
    left pending; and an exhibit with nothing in it."""
    store = CaseStore.open(case)
    try:
        first, _ = store.ensure_exhibit("EX1", "/evidence/laptop.E01", "image")
        second, _ = store.ensure_exhibit("EX2", "/evidence/phone", "folder")
        store.ensure_exhibit("EX3", "/evidence/empty", "folder")
        store.add_items(first.id, [
            _file("a.jpg"), _file("b.jpg"), _file("c.png"), _file("d.mp4", 5000), _file("e.txt", 3),
            _file("gone.jpg", 7, ItemFlag.DELETED), _file("$OrphanFiles/x", 0, ItemFlag.DELETED, ItemFlag.ORPHAN),
            _file("name.jpg", 0, ItemFlag.DELETED, kind=ItemKind.NAME_ONLY), _file("$MFT", 9, ItemFlag.PSEUDO),
            _file("link", 0, kind=ItemKind.SYMLINK), _file("fifo", 0, kind=ItemKind.SPECIAL), _file("later.bin", 99),
        ])
        store.add_items(second.id, [_file("DCIM/1.jpg"), _file("DCIM/2.jpg"), _file("notes.jpg")])
        with closing(sqlite3.connect(case / DATABASE_FILE)) as db:
            ids = dict(db.execute("SELECT path, id FROM items"))
        read = [ItemResult(ids[p], md5=f"{n:032x}", sha1=f"{n:040x}", family=family, file_type=kind,
                           extension_mismatch=p == "e.txt")
                for n, (p, family, kind) in enumerate([
                    ("a.jpg", "image", "jpeg"), ("b.jpg", "image", "jpeg"), ("c.png", "image", "png"),
                    ("d.mp4", "video", "mp4"), ("e.txt", "image", "jpeg"), ("gone.jpg", "image", "jpeg"),
                    ("$MFT", None, None), ("DCIM/1.jpg", "image", "jpeg"), ("DCIM/2.jpg", "image", "jpeg"),
                    ("notes.jpg", None, None)])]
        store.record_results(first.id, read[:7], [
            _hit(ids["a.jpg"], "caid", "md5", "A"), _hit(ids["a.jpg"], "caid", "sha1", "A"),
            _hit(ids["a.jpg"], "local", "md5", "C", trust_rank=1),
            _hit(ids["gone.jpg"], "caid", "md5", "B"),
        ], {i: p for p, i in ids.items()}, known_good=[ids["e.txt"]])
        store.record_results(second.id, read[7:], [_hit(ids["DCIM/1.jpg"], "caid", "md5", "C")],
                             {i: p for p, i in ids.items()})
        store.record_media(first.id, [
            MediaResult(ids["a.jpg"], "image", pdq="f" * 64, pdq_quality=90),
            MediaResult(ids["b.jpg"], "image", pdq="e" * 64, pdq_quality=80),
            MediaResult(ids["c.png"], "image", error=Problem(ProblemKind.DAMAGED, "cannot identify image file")),
            MediaResult(ids["d.mp4"], "video", partial=Problem(ProblemKind.TRUNCATED, "stream ends early")),
        ], [_hit(ids["b.jpg"], "caid", "pdq", "A", distance=12, transform="rot90", matched_hash="d" * 64),
            _hit(ids["b.jpg"], "local", "pdq", "B", distance=20, transform="flipx", matched_hash="c" * 64),
            _hit(ids["a.jpg"], "caid", "pdq", "A", distance=0, transform="original", matched_hash="f" * 64),
            _hit(ids["d.mp4"], "videos", "vpdq", "B", distance=75, matched_hash="known.mp4")],
            {ids["c.png"]: "c.png", ids["d.mp4"]: "d.mp4"})
        store.add_error(first.id, "walk", "Users/x", Problem(ProblemKind.UNREADABLE, "folder cannot be opened"))
        store.add_error(second.id, "read", "thumbs.db", Problem(ProblemKind.NORMAL, "no thumbnails stored"))
        store.update_exhibit(first.id, walk_complete=True, scan_finished_at=1_700_000_100.0, hash_state="verified")
        store.update_exhibit(second.id, walk_complete=True)
    finally:
        store.close()
    with closing(sqlite3.connect(case / DATABASE_FILE)) as db, db:  # a kind a later fieldlab may write
        db.execute("INSERT INTO errors (exhibit_id, stage, kind, path, message, at) "
                   "VALUES (2, 'read', 'quantum', 'q.bin', 'a later kind', 0)")


def _store_rows(case: Path) -> tuple[list, list]:
    """Counts and hits as the SQLAlchemy path reads them: the Core statements run by SQLAlchemy."""
    store = CaseStore.open(case, create=False)
    try:
        with store.engine.connect() as conn:
            found = [hit_from_row(r) for r in conn.execute(hits_query())]
        return exhibit_counts(store), found
    finally:
        store.close()


def test_summary_and_hits_give_the_same_output_through_sqlite3_as_through_sqlalchemy(tmp_path: Path) -> None:
    case = tmp_path / "case"
    _rich_case(case)
    counts, found = _store_rows(case)
    assert [c.ref for c in counts] == ["EX1", "EX2", "EX3"]  # the case holds what the comparison is about
    assert counts[0].hit_items == 2 and counts[0].near_items == 2 and counts[0].deleted == 2
    assert counts[1].problems["internal"] == 1 and len(found) == 9

    with ReadOnlyCase.open(case) as read:
        assert read.exhibit_counts() == counts
        assert list(read.hits()) == found
        assert [e.ref for e in read.exhibits()] == ["EX1", "EX2", "EX3"]
    shown = runner.invoke(app, ["summary", str(case), "--json"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == json.dumps([summary_json(c) for c in counts], indent=2) + "\n"
    table = runner.invoke(app, ["hits", str(case)])
    expected = io.StringIO(newline="")
    assert write_hits_csv(found, expected) == 7  # a.jpg's MD5, SHA-1 and PDQ matches of one set are one row
    assert table.exit_code == 0 and table.stdout_bytes == expected.getvalue().encode()  # CSV lines end in CRLF
    out = tmp_path / "hits.json"
    assert runner.invoke(app, ["hits", str(case), "--format", "json", "-o", str(out)]).exit_code == 0
    expected = io.StringIO()
    write_hits_json(found, expected)
    assert out.read_text(encoding="utf-8") == expected.getvalue()


def _snapshot(case: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(case.iterdir())}


def _contents(case: Path) -> dict[str, str]:
    """The case folder's files, SQLite's companions of a WAL database aside while they hold nothing: an empty
    ``-wal``, and the ``-shm`` index any reader writes (to see a scan's writes) and a read-only one cannot remove."""
    return {name: digest for name, digest in _snapshot(case).items()
            if not name.endswith("-shm") and not (name.endswith("-wal") and (case / name).stat().st_size == 0)}


def test_reading_writes_nothing_in_the_case_folder(tmp_path: Path) -> None:
    case = tmp_path / "op #1 ?x%20"  # sqlite3 opens the database by URI, SQLAlchemy by URL: no part of either
    _rich_case(case)
    before = _snapshot(case)
    assert set(before) == {DATABASE_FILE, "audit.head"}  # every connection closed: the database checkpointed
    assert [c.ref for c in fieldlab.summary(case)] == ["EX1", "EX2", "EX3"]
    assert len(list(fieldlab.hits(case))) == 9
    assert _contents(case) == before


def test_on_read_only_media_the_case_is_read_immutable_without_companions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where SQLite could not create the ``-wal`` and ``-shm`` files (a read-only mount: mounting is left out of the
    tests), nothing can be writing the case, so it is opened immutable and needs neither."""
    case = tmp_path / "case"
    _rich_case(case)
    before = _snapshot(case)
    monkeypatch.setattr(read_only, "_on_read_only_media", lambda _database: True)
    assert [c.ref for c in fieldlab.summary(case)] == ["EX1", "EX2", "EX3"]
    assert len(list(fieldlab.hits(case))) == 9
    assert _snapshot(case) == before


def test_an_older_case_is_brought_up_to_date_by_the_store_then_read(tmp_path: Path) -> None:
    """A case from before the errors' kinds and the review app's tables: opening adds them (as every command
    does), then its problems are counted by kind."""
    case = tmp_path / "case"
    store = CaseStore.open(case)
    exhibit, _ = store.ensure_exhibit("EX1", "/evidence", "folder")
    store.close()
    with closing(sqlite3.connect(case / DATABASE_FILE)) as db, db:
        db.execute("ALTER TABLE errors DROP COLUMN kind")
        db.execute("DROP TABLE pictures_sent")
        db.execute("INSERT INTO errors (exhibit_id, stage, path, message, at) "
                   "VALUES (?, 'read', 'secret.zip', 'a.jpg: encrypted: its content needs the password', 0)",
                   (exhibit.id,))
    (counts,) = fieldlab.summary(case)
    assert counts.problems == {"encrypted": 1}
    with closing(sqlite3.connect(case / DATABASE_FILE)) as db:
        assert db.execute("SELECT count(*) FROM pictures_sent").fetchone() == (0,)


def _refusal(opening, case: Path) -> str:  # noqa: ANN001
    with pytest.raises(CaseError) as refused:
        opening(case).close()
    return str(refused.value)


def test_a_case_too_old_to_read_is_refused_in_the_store_s_words_and_left_as_it_is(tmp_path: Path) -> None:
    case = tmp_path / "case"
    CaseStore.open(case).close()
    with closing(sqlite3.connect(case / DATABASE_FILE)) as db, db:
        db.execute("ALTER TABLE items DROP COLUMN place")
        db.execute("DROP TABLE pictures_sent")  # a table opening would add: not added, the case is refused first
    before = _snapshot(case)
    refused = _refusal(ReadOnlyCase.open, case)
    assert "made by an earlier fieldlab (it lacks items.place)" in refused
    assert _contents(case) == before
    assert refused == _refusal(lambda c: CaseStore.open(c, create=False), case)


def test_no_case_or_no_database_is_a_clear_error(tmp_path: Path) -> None:
    refused = _refusal(ReadOnlyCase.open, tmp_path)
    assert refused == _refusal(lambda c: CaseStore.open(c, create=False), tmp_path)
    assert refused.endswith("is not a fieldlab case (no case.sqlite)")
    (tmp_path / DATABASE_FILE).write_bytes(b"not a database, but a file of that name" * 200)
    assert "cannot be read as a case database: file is not a database" in _refusal(ReadOnlyCase.open, tmp_path)
