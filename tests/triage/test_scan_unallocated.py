"""Carving in a scan: known pictures written where no file system looks are found at their exact offsets."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
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


def test_media_at_odd_offsets_in_free_space_are_carved_once_each_at_their_exact_offsets(tmp_path: Path) -> None:
    """The remains of a deleted document whose name and record are gone, in free NTFS clusters, hold a JPEG, a PNG,
    a GIF and an MP4 at odd byte offsets (and one JPEG on a cluster); the unpartitioned tail holds a JPEG at an
    odd offset; a deleted document NTFS still lists holds a PNG at an odd offset.  Each is found exactly once, at
    its offset, with the planted bytes' hashes; the listed document's PNG is its embedded child, and the copy
    carved from its free clusters is a duplicate with no hit of its own."""
    import pytsk3

    from fieldlab.evidence.unallocated import unallocated_runs
    from tests.detect import carve_builders as build
    from tests.evidence.disk_builders import random_bytes

    in_remains = {"jpeg": procedural_jpeg(150, 640, 480), "png": procedural_png(151, 320, 240),
                  "gif": build.gif(152), "mp4": build.mp4(153), "aligned jpeg": procedural_jpeg(154, 400, 300)}
    tail_jpeg, listed_png = procedural_jpeg(155, 500, 375), procedural_png(156, 200, 150)
    document = bytearray(random_bytes(157, 150_000))
    document[12_345 : 12_345 + len(listed_png)] = listed_png
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr",
                      [("ntfs", 64, [PlantedFile("Users/x/keep.txt", b"hello" * 100),
                                     PlantedFile("Users/x/Documents/old.doc", bytes(document), deleted=True)])],
                      gap_mib=1)
    part = disk.partitions[0]
    image = pytsk3.Img_Info(str(disk.path))
    fs = pytsk3.FS_Info(image, offset=part.start_offset)
    free_start, free_length = list(unallocated_runs(fs, "ntfs", part.start_offset, part.size,
                                                    lambda o, n: image.read(o, n)))[-1]

    remains, at = bytearray(build.filler(np.random.default_rng(158), 2 << 20, "text")), 1001
    inside: dict[str, int] = {}
    for name, data in in_remains.items():
        at = -(-at // 4096) * 4096 if name == "aligned jpeg" else at | 1
        remains[at : at + len(data)] = data
        inside[name] = at
        at += len(data) + 333
    assert at < len(remains) <= free_length
    remains_at = free_start + (free_length - len(remains)) // 4096 * 4096  # where no file system entry points
    planted = {name: (remains_at + inside[name], data) for name, data in in_remains.items()}
    planted["tail jpeg"] = (disk.gaps[0][0] + 12_345, tail_jpeg)
    with open(disk.path, "r+b") as raw:
        raw.seek(remains_at)
        raw.write(remains)
        raw.seek(planted["tail jpeg"][0])
        raw.write(tail_jpeg)
    assert all(offset % 2 for name, (offset, _) in planted.items() if name != "aligned jpeg")
    known = [KnownFile(f"{name}.bin", data, "A") for name, (_, data) in planted.items()]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known + [KnownFile("listed.png", listed_png, "B")]),
                            name="known")

    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD")

    hits = {(h.locator, h.category) for h in fieldlab.hits(tmp_path / "case")}
    assert {(locator, category) for locator, category in hits if category == "A"} == {
        (f"carved:{offset}+{len(data)}", "A") for offset, data in planted.values()}
    (listed_hit,) = [locator for locator, category in hits if category == "B"]
    assert listed_hit.endswith(f"|carved:12345+{len(listed_png)}")  # the child of the deleted document
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    free_space = db.execute("SELECT locator, md5, sha1, flags FROM items WHERE flags LIKE '%unallocated%'").fetchall()
    by_md5 = {md5: (locator, sha1, flags) for locator, md5, sha1, flags in free_space}
    assert len(by_md5) == len(free_space)  # nothing found twice
    for offset, data in planted.values():
        assert by_md5[hashlib.md5(data).hexdigest()] == (
            f"carved:{offset}+{len(data)}", hashlib.sha1(data).hexdigest(), "carved,unallocated")
    copy_locator, _, copy_flags = by_md5[hashlib.md5(listed_png).hexdigest()]
    assert "duplicate" in copy_flags.split(",") and copy_locator.startswith("carved:")
