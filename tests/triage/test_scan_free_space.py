"""Carving the free blocks of ext2/4, exFAT and HFS+: a known picture written where TSK says nothing is allocated is
found by a scan at its exact offset, and so is a deleted ext4 picture that no inode leads to any more."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import fieldlab
from fieldlab.demo import procedural_jpeg
from tests.builders import KnownFile, write_csv_hashset
from tests.conftest import REALDATA
from tests.evidence.disk_builders import SECTOR, PlantedFile, build_disk, random_bytes
from tests.evidence.free_space_oracles import as_runs, exfat_heap, make_ext, tsk_unallocated_blocks

HFSPLUS = REALDATA / "log2timeline__dfvfs" / "test_data" / "hfsplus.raw"


def _evidence(tmp_path: Path, fs_type: str, deleted_jpeg: bytes) -> tuple[Path, int, list[int], int]:
    """(image, offset of the file system, TSK's unallocated blocks, block size) of a fresh piece of evidence."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    if fs_type == "hfs":
        image = folder / "hfsplus.raw"
        shutil.copyfile(HFSPLUS, image)
        return image, 0, tsk_unallocated_blocks(image), 4096
    if fs_type == "ext2":
        image = make_ext(folder / "ext2.img", 16, "mkfs.ext2", ["-b", "1024", "-g", "2048"], tmp_path / "staging",
                         {"home/a/keep.bin": random_bytes(1, 300_000)})
        return image, 0, tsk_unallocated_blocks(image), 1024
    files = [PlantedFile("home/a/keep.bin", random_bytes(1, 300_000))]
    if fs_type == "ext4":
        files.append(PlantedFile("home/a/gone.jpg", deleted_jpeg, deleted=True))
    disk = build_disk(folder / "disk.raw", "mbr", [(fs_type, 32, files)])
    part = disk.partitions[0]
    blocks = tsk_unallocated_blocks(disk.path, part.sector_offset)
    if fs_type == "exfat":  # TSK counts sectors, and those past the last cluster too
        with open(disk.path, "rb") as raw:
            raw.seek(part.start_offset)
            heap_start, per_cluster, clusters = exfat_heap(raw.read(SECTOR))
        return disk.path, part.start_offset, [s for s in blocks if s < heap_start + per_cluster * clusters], SECTOR
    return disk.path, part.start_offset, blocks, 1024  # ext4 this small has 1 KiB blocks


@pytest.mark.parametrize("fs_type", ["ext4", "ext2", "exfat", "hfs"])
def test_a_picture_in_free_blocks_is_carved_at_its_exact_offset(tmp_path: Path, fs_type: str) -> None:
    wiped_jpeg, deleted_jpeg = procedural_jpeg(150, 640, 480), procedural_jpeg(151, 320, 240)
    image, fs_offset, free_blocks, block = _evidence(tmp_path, fs_type, deleted_jpeg)
    start, length = as_runs(free_blocks, block, fs_offset)[-1]
    assert length > 2 * len(wiped_jpeg)
    offset = start + (length - len(wiped_jpeg)) // 4096 * 4096  # at the end of the last free run, block-aligned
    with open(image, "r+b") as raw:
        raw.seek(offset)
        raw.write(wiped_jpeg)
    known = [KnownFile("wiped.jpg", wiped_jpeg, "C"), KnownFile("gone.jpg", deleted_jpeg, "A")]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")

    fieldlab.scan(image, tmp_path / "case", exhibit_ref="HDD")

    hits = {(h.locator, h.category) for h in fieldlab.hits(tmp_path / "case")}
    expected = {(f"carved:{offset}+{len(wiped_jpeg)}", "C")}
    if fs_type == "ext4":  # deleted: the inode no longer leads to the content, which only carving finds
        deleted_at = image.read_bytes().find(deleted_jpeg)
        assert deleted_at > 0
        expected.add((f"carved:{deleted_at}+{len(deleted_jpeg)}", "A"))
    assert hits == expected
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    assert {f for (f,) in db.execute("SELECT flags FROM items WHERE locator LIKE 'carved:%'")} == {"carved,unallocated"}
    facts = db.execute("SELECT facts FROM exhibits").fetchone()[0]
    assert "listed" not in facts  # no free space was left out
