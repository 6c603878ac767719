"""Carving in a scan: known pictures written where no file system looks are found at their exact offsets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("fs_type", ["ntfs", "fat32", "fat16"])
def test_pictures_in_free_clusters_are_carved_and_a_deleted_file_is_not_counted_twice(tmp_path: Path, fs_type: str) -> None:
    import pytsk3

    from fieldlab.evidence.unallocated import unallocated_runs

    deleted_jpeg, wiped_png = procedural_jpeg(130, 640, 480), procedural_png(131, 320, 240)
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr",
                      [(fs_type, 64, [PlantedFile("Users/x/keep.txt", b"hello" * 100),
                                      PlantedFile("Users/x/gone.jpg", deleted_jpeg, deleted=True)])], gap_mib=1)
    part = disk.partitions[0]
    image = pytsk3.Img_Info(str(disk.path))
    fs = pytsk3.FS_Info(image, offset=part.start_offset)
    runs = list(unallocated_runs(fs, fs_type, part.start_offset, part.size, lambda o, n: image.read(o, n)))
    # the PNG is written at the end of the last free run, where no file system entry points (a name wiped), and
    # away from the deleted JPEG's clusters, which are free space too
    start, length = runs[-1]
    assert length > 2 * len(wiped_png)
    offset = start + (length - len(wiped_png)) // 4096 * 4096
    with open(disk.path, "r+b") as raw:
        raw.seek(offset)
        raw.write(wiped_png)
    known = [KnownFile("gone.jpg", deleted_jpeg, "A"), KnownFile("wiped.png", wiped_png, "C")]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="USB")
    hits = {(h.locator, h.category) for h in fieldlab.hits(tmp_path / "case")}  # one row per matching digest
    assert sorted((category, locator.startswith("carved:")) for locator, category in hits) == [("A", False), ("C", True)]
    assert [locator for locator, category in hits if category == "C"] == [f"carved:{offset}+{len(wiped_png)}"]
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    carved = dict(db.execute("SELECT md5, flags FROM items WHERE locator LIKE 'carved:%'"))
    if part.deleted_content_recoverable:  # the deleted JPEG was carved too: a copy, with no hit or decoding of its own
        assert "duplicate" in carved[known[0].md5].split(",")
        assert db.execute("SELECT COUNT(*) FROM media m JOIN items i ON i.id = m.item_id WHERE i.flags LIKE '%duplicate%'"
                          ).fetchone() == (0,)
    assert "duplicate" not in carved[known[1].md5]


def test_without_carving_free_space_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr", [("fat32", 40, [])], gap_mib=2)
    with open(disk.path, "r+b") as raw:
        raw.seek(disk.gaps[0][0])
        raw.write(procedural_jpeg(140))
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD", carve=False)
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    assert db.execute("SELECT COUNT(*) FROM items WHERE locator LIKE 'carved:%'").fetchone() == (0,)
