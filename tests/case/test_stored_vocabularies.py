"""Typed vocabularies change no stored byte: a hit's method is the same plain text the case always held."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fieldlab.case.store import CaseStore, HitRecord
from fieldlab.evidence.item import Item, ItemKind
from fieldlab.hashsets.records import EXACT_METHODS, MatchMethod
from fieldlab.locator import Locator
from fieldlab.report.hits import METHOD_ORDER


def test_each_match_method_is_stored_as_plain_text_and_exact_ones_are_told_apart(tmp_path: Path) -> None:
    case = tmp_path / "case"
    store = CaseStore.open(case)
    try:
        exhibit, _ = store.ensure_exhibit("EX1", str(tmp_path / "evidence"), "folder")
        store.add_items(exhibit.id, [Item(Locator.for_file(f"{m}.jpg".encode()), f"{m}.jpg", ItemKind.FILE, 1)
                                     for m in MatchMethod])
        ids = dict(sqlite3.connect(case / "case.sqlite").execute("SELECT path, id FROM items"))
        store.add_hits([HitRecord(ids[f"{m}.jpg"], "set", "0" * 64, "uk", "A", m, distance=None if m in EXACT_METHODS else 3)
                        for m in MatchMethod])
        exact = store.items_with_exact_hits(list(ids.values()))
    finally:
        store.close()
    stored = sqlite3.connect(case / "case.sqlite").execute("SELECT method, typeof(method) FROM hits ORDER BY id").fetchall()
    assert stored == [("md5", "text"), ("sha1", "text"), ("sha256", "text"), ("pdq", "text"), ("vpdq", "text")]
    assert exact == {ids["md5.jpg"], ids["sha1.jpg"], ids["sha256.jpg"]}
    assert METHOD_ORDER == ("md5", "sha1", "sha256", "pdq", "vpdq")  # the hits export's column order, as before
