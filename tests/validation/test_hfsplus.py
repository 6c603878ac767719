"""The corpus's HFS+ writer, read back by The Sleuth Kit: every file listed with its content, a deleted file only
in free blocks, and a catalog deep enough to need more than one index level."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from fieldlab.validation.disks import PlantedFile, build_disk
from fieldlab.validation.hfsplus import HfsFile, write_hfsplus

PARTITION_SECTOR = 2048  # build_disk's first partition starts at 1 MiB


def planted(count: int) -> list[PlantedFile]:
    return [PlantedFile(f"Users/robin/Album_{i % 7}/P_{i}_{'x' * (i % 30)}.jpg",
                        random.Random(i).randbytes(100 + (i % 50) * 37)) for i in range(count)]


def test_every_file_is_listed_by_the_sleuth_kit_with_its_content(tmp_path: Path) -> None:
    files = planted(600) + [PlantedFile("Users/robin/Documents/empty.txt", b"")]
    disk = build_disk(tmp_path / "mac.dd", "gpt", [("hfsplus", 16, files)])
    subprocess.run(["tsk_recover", "-a", "-o", str(PARTITION_SECTOR), str(disk.path), str(tmp_path / "out")],
                   check=True, capture_output=True)
    for file in files[:-1]:
        assert (tmp_path / "out" / file.path).read_bytes() == file.data, file.path
    listing = subprocess.run(["fls", "-r", "-p", "-o", str(PARTITION_SECTOR), str(disk.path)], check=True,
                             capture_output=True, text=True).stdout
    assert "\tUsers/robin/Documents/empty.txt\n" in listing  # tsk_recover writes no empty file
    fsstat = subprocess.run(["fsstat", "-o", str(PARTITION_SECTOR), str(disk.path)], check=True, capture_output=True,
                            text=True).stdout
    assert "File System Type: HFS+" in fsstat and "Volume Unmounted Properly" in fsstat
    assert "Number of files: 601" in fsstat


def test_a_deleted_file_is_not_listed_and_its_content_stays_in_free_blocks(tmp_path: Path) -> None:
    gone = random.Random(7).randbytes(9000)
    files = planted(20) + [PlantedFile("Users/robin/.Trash/gone.jpg", gone, deleted=True)]
    disk = build_disk(tmp_path / "mac.dd", "gpt", [("hfsplus", 8, files)])
    listing = subprocess.run(["fls", "-r", "-o", str(PARTITION_SECTOR), str(disk.path)], check=True,
                             capture_output=True, text=True).stdout
    assert "gone.jpg" not in listing and ".Trash" not in listing
    free = subprocess.run(["blkls", "-o", str(PARTITION_SECTOR), str(disk.path)], check=True,
                          capture_output=True).stdout  # the unallocated blocks only
    assert gone in free


def test_a_catalog_of_thousands_of_files_gets_a_third_level_and_stays_searchable(tmp_path: Path) -> None:
    names = [f"folder_{i % 3}/empty_{i:05d}_{'n' * (i % 40)}.txt" for i in range(9000)]
    image = tmp_path / "volume.img"
    with open(image, "wb") as out:
        out.truncate(16 << 20)
    write_hfsplus(image, [HfsFile(name, b"") for name in names], b"identity", 1_715_949_000)
    depth = int.from_bytes(image.read_bytes()[3 * 4096 + 14: 3 * 4096 + 16], "big")  # catalog header's treeDepth
    assert depth == 3
    listing = subprocess.run(["fls", "-r", "-p", str(image)], check=True, capture_output=True, text=True).stdout
    listed = [line.split("\t", 1)[1] for line in listing.splitlines() if line.startswith("r/r")]
    assert sorted(name for name in listed if not name.startswith("$")) == sorted(names)  # $: TSK's own entries
    found = subprocess.run(["ifind", "-n", names[4567], str(image)], capture_output=True, text=True)
    assert found.returncode == 0 and found.stdout.strip().isdigit()  # a lookup through the index, not a walk


def test_names_outside_ascii_are_refused(tmp_path: Path) -> None:
    image = tmp_path / "volume.img"
    image.write_bytes(bytes(4 << 20))
    with pytest.raises(ValueError, match="ASCII"):
        write_hfsplus(image, [HfsFile("Users/r\u00e9my/a.jpg", b"x")], b"identity", 0)
