"""Carving in a scan: known pictures written where no file system looks are found at their exact offsets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import fieldlab
from fieldlab.demo import procedural_jpeg, procedural_png
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.disk_builders import PlantedFile, build_disk


def test_pictures_in_unpartitioned_space_are_carved_read_and_matched(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr",
                      [("fat32", 40, [PlantedFile("DCIM/a.jpg", procedural_jpeg(120))])], gap_mib=4)
    hidden_jpeg, hidden_png = procedural_jpeg(121, 800, 600), procedural_png(122, 300, 200)
    gap_offset, gap_length = disk.gaps[0]
    placed = {gap_offset + 4096: hidden_jpeg, gap_offset + 512 * 1000: hidden_png}
    with open(disk.path, "r+b") as raw:
        for offset, data in placed.items():
            raw.seek(offset)
            raw.write(data)
    known = [KnownFile("hidden.jpg", hidden_jpeg, "A"), KnownFile("hidden.png", hidden_png, "B")]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD")
    hits = {h.locator: h for h in fieldlab.hits(tmp_path / "case")}
    assert set(hits) == {f"carved:{offset}+{len(data)}" for offset, data in placed.items()}
    assert {h.category for h in hits.values()} == {"A", "B"}
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    flags = {f for (f,) in db.execute("SELECT flags FROM items WHERE locator LIKE 'carved:%'")}
    assert flags == {"carved,unallocated"}
    assert db.execute("SELECT COUNT(*) FROM regions WHERE carved_at IS NULL").fetchone() == (0,)
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD")  # run again: nothing carved twice
    assert db.execute("SELECT COUNT(*) FROM items WHERE locator LIKE 'carved:%'").fetchone() == (2,)
