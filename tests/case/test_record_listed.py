"""A first walk's entries are inserted once, complete (``CaseStore.record_listed``): a file read as it should be
goes through a statement of its own, every other entry through the general one, and both store the same values, as
results recorded over pending rows do (none binds None or a boolean where it can be helped: store._INSERT_READ_FILES)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from fieldlab.case.store import CaseStore, ItemRow
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import ItemResult

COLUMNS = ("locator, path, kind, size, mtime, atime, ctime, btime, link_target, flags, state, md5, sha1, sha256, "
           "file_type, mime, family, extension_mismatch, known_good")


def _row(name: str, kind: str = "file", btime: float | None = None, link_target: str | None = None) -> ItemRow:
    return ItemRow(f"file:{name}", name, kind, 3 if kind == "file" else 0, 10.5, 11.5, 12.5, btime, link_target, "",
                   "pending" if kind == "file" else "done")


def _read(position: int, *, sha256: str | None = None, mismatch: bool = False, error: Problem | None = None,
          truncated: bool = False) -> ItemResult:
    if error:
        return ItemResult(position, error=error)
    return ItemResult(position, f"{position:032x}", f"{position:040x}", sha256, "jpeg", "image/jpeg", "image",
                      mismatch, size=3, truncated=truncated)


def test_files_and_other_entries_are_stored_with_their_values_in_the_walks_order(tmp_path: Path) -> None:
    rows = [_row("a.jpg"), _row("b.txt", btime=0.0), _row("link", "symlink", link_target="../x"), _row("c.jpg"),
            _row("pipe", "special"), _row("bad.jpg"), _row("cut.jpg"), _row("good.dll")]
    results = [_read(0), _read(1, sha256="f" * 64, mismatch=True), _read(3),
               _read(5, error=Problem(ProblemKind.UNREADABLE, "read failed: EIO")), _read(6, truncated=True), _read(7)]
    store = CaseStore.open(tmp_path / "case")
    exhibit, _ = store.ensure_exhibit("E1", "/evidence", "folder")
    store.record_listed(exhibit.id, rows, results, [], known_good={7})
    store.close()
    with closing(sqlite3.connect(tmp_path / "case" / "case.sqlite")) as db:
        stored = db.execute(f"SELECT {COLUMNS} FROM items ORDER BY id").fetchall()
        types = db.execute("SELECT typeof(btime), typeof(sha256), typeof(link_target), typeof(extension_mismatch) "
                           "FROM items WHERE path = 'a.jpg'").fetchone()
    assert stored == [
        ("file:a.jpg", "a.jpg", "file", 3, 10.5, 11.5, 12.5, None, None, "", "done", f"{0:032x}", f"{0:040x}", None,
         "jpeg", "image/jpeg", "image", 0, 0),
        ("file:b.txt", "b.txt", "file", 3, 10.5, 11.5, 12.5, 0.0, None, "", "done", f"{1:032x}", f"{1:040x}", "f" * 64,
         "jpeg", "image/jpeg", "image", 1, 0),
        ("file:link", "link", "symlink", 0, 10.5, 11.5, 12.5, None, "../x", "", "done", None, None, None, None, None,
         None, None, 0),
        ("file:c.jpg", "c.jpg", "file", 3, 10.5, 11.5, 12.5, None, None, "", "done", f"{3:032x}", f"{3:040x}", None,
         "jpeg", "image/jpeg", "image", 0, 0),
        ("file:pipe", "pipe", "special", 0, 10.5, 11.5, 12.5, None, None, "", "done", None, None, None, None, None, None,
         None, 0),
        ("file:bad.jpg", "bad.jpg", "file", 3, 10.5, 11.5, 12.5, None, None, "", "error", None, None, None, None, None,
         None, None, 0),
        ("file:cut.jpg", "cut.jpg", "file", 3, 10.5, 11.5, 12.5, None, None, ",truncated", "done", f"{6:032x}",
         f"{6:040x}", None, "jpeg", "image/jpeg", "image", 0, 0),
        ("file:good.dll", "good.dll", "file", 3, 10.5, 11.5, 12.5, None, None, "", "done", f"{7:032x}", f"{7:040x}",
         None, "jpeg", "image/jpeg", "image", 0, 1),
    ]
    assert types == ("null", "null", "null", "integer")


def test_results_recorded_over_pending_items_store_the_same_values(tmp_path: Path) -> None:
    """A walk recorded as it goes (resumed, an image's) updates pending rows: a missing SHA-256 is NULL, a boolean
    an integer, as a first walk writes them."""
    store = CaseStore.open(tmp_path / "case")
    exhibit, _ = store.ensure_exhibit("E1", "/evidence", "folder")
    store.add_item_rows(exhibit.id, [_row("a.jpg"), _row("b.txt"), _row("bad.jpg")])
    a, b, bad = (p.id for p in store.pending_items(exhibit.id, 0, 10))
    store.record_results(exhibit.id, [_read(a), _read(b, sha256="f" * 64, mismatch=True),
                                      _read(bad, error=Problem(ProblemKind.UNREADABLE, "read failed: EIO"))],
                         [], {a: "a.jpg", b: "b.txt", bad: "bad.jpg"})
    store.close()
    with closing(sqlite3.connect(tmp_path / "case" / "case.sqlite")) as db:
        stored = db.execute("SELECT path, state, sha256, typeof(sha256), extension_mismatch, typeof(extension_mismatch) "
                            "FROM items ORDER BY id").fetchall()
    assert stored == [("a.jpg", "done", None, "null", 0, "integer"),
                      ("b.txt", "done", "f" * 64, "text", 1, "integer"),
                      ("bad.jpg", "error", None, "null", None, "null")]
