"""Regions to carve may lie inside a decrypted volume, each named by the volume's locator: a case recorded before
that still opens (read-only too), its regions kept as regions of the media, and the volume joins their unique key."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import fieldlab
from fieldlab.case.store import CaseStore

VOLUME = "partition:1048576|luks:"
_OLD_REGIONS = """CREATE TABLE regions (
    id INTEGER NOT NULL PRIMARY KEY, exhibit_id INTEGER NOT NULL REFERENCES exhibits (id), kind VARCHAR(32) NOT NULL,
    "offset" BIGINT NOT NULL, length BIGINT NOT NULL, carved_at FLOAT,
    CONSTRAINT uq_region UNIQUE (exhibit_id, "offset", kind))"""


def _old_case(case_dir: Path) -> int:
    """A case as an earlier fieldlab left it: regions of the media only, unique on (exhibit, offset, kind)."""
    store = CaseStore.open(case_dir)
    exhibit, _ = store.ensure_exhibit("LAPTOP", "/evidence/laptop.raw", "image")
    store.close()
    with closing(sqlite3.connect(case_dir / "case.sqlite")) as db, db:
        db.execute("DROP TABLE regions")
        db.execute(_OLD_REGIONS)
        db.executemany('INSERT INTO regions (exhibit_id, kind, "offset", length, carved_at) VALUES (?, ?, ?, ?, ?)',
                       [(exhibit.id, "gap", 0, 1048576, 1.0), (exhibit.id, "unallocated", 4096, 8192, None)])
    return exhibit.id


def test_an_older_case_opens_with_its_regions_kept_as_the_media_s(tmp_path: Path) -> None:
    exhibit = _old_case(tmp_path / "case")
    assert [counts.ref for counts in fieldlab.summary(tmp_path / "case")] == ["LAPTOP"]  # the read-only path
    store = CaseStore.open(tmp_path / "case", create=False)
    try:
        ((_, kind, offset, length, volume),) = store.uncarved_regions(exhibit)
        assert (kind, offset, length, volume) == ("unallocated", 4096, 8192, "")
        store.add_regions(exhibit, [("unallocated", 4096, 8192)], volume=VOLUME)  # same offset, inside the volume
        store.add_regions(exhibit, [("unallocated", 4096, 8192)], volume=VOLUME)  # recorded once
        assert [row[1:] for row in store.uncarved_regions(exhibit)] == [
            ("unallocated", 4096, 8192, ""), ("unallocated", 4096, 8192, VOLUME)]
    finally:
        store.close()
    with closing(sqlite3.connect(tmp_path / "case" / "case.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM regions WHERE carved_at IS NOT NULL").fetchone() == (1,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'regions%'").fetchall() == [("regions",)]
