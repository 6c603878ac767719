"""Carving inside LVM: a logical volume's extents lie anywhere on its physical volumes, so the free space of its file
system is carved through the logical volume (``partition:N|lvm:0|carved:O+L``, or ``partition:N|luks:|lvm:0|...``
in the Ubuntu and Fedora encrypted layout: LUKS2 > LVM > ext4), read, matched and opened again through it.  The
volume groups are made by lvm2's own tools (``tests/evidence/lvm_builders.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import fieldlab
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import UnlockOptions
from fieldlab.evidence.reopen import reopen
from fieldlab.evidence.sources import SourceSpec
from fieldlab.validation.disks import PlantedFile, build_disk
from fieldlab.validation.luks import build_luks2_disk
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.lvm_builders import build_volume_group, write_logical_volume

PASSPHRASE = "ubuntu encrypted install"
GONE = procedural_jpeg(170, 640, 480)
LEFT = procedural_jpeg(171, 320, 240)  # in extents no logical volume uses
KEEP = PlantedFile("home/alex/notes.txt", b"shopping list\n" * 50)


def _laptop_volume_group(root: Path) -> tuple[Path, int]:
    """A physical volume in a file, as a Linux installer lays it out: vg/root (ext4 with GONE deleted) and vg/swap.
    Returns the file and where GONE's bytes lie in the root logical volume."""
    plain = build_disk(root / "root.img", "none", [("ext4", 8, [
        KEEP, PlantedFile("home/alex/Pictures/gone.jpg", GONE, deleted=True)])]).path
    data = plain.read_bytes()
    at = data.find(GONE)
    assert at > 0
    (root / "evidence").mkdir(exist_ok=True)
    pv = root / "evidence" / "pv.img"
    runs = build_volume_group([pv], 16, [("root", 8), ("swap", 4)])
    write_logical_volume([pv], runs["root"], data)
    write_logical_volume([pv], runs["swap"], bytes(4096 - 10) + b"SWAPSPACE2")
    return pv, at


def _carved_items(case: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return db.execute("SELECT locator, flags FROM items WHERE flags LIKE '%carved%' ORDER BY locator").fetchall()


def _read(spec: SourceSpec, locator: str) -> bytes:
    with EvidenceContext() as context:
        handle = reopen(spec, locator, context)
        buffer = bytearray(handle.size + 1)
        return bytes(buffer[:handle.readinto(buffer)])


@pytest.fixture(scope="module")
def known_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lvm-known")
    fieldlab.import_hashset(write_csv_hashset(root / "known.csv", [KnownFile("gone.jpg", GONE, "A"),
                                                                   KnownFile("left.jpg", LEFT, "B")]),
                            name="known", home=root / "home")
    return root / "home"


def test_a_deleted_picture_in_a_logical_volumes_free_space_is_a_carved_hit_addressed_through_it(
        tmp_path: Path, known_home: Path) -> None:
    pv, at = _laptop_volume_group(tmp_path)
    case = tmp_path / "case"
    fieldlab.scan(pv, case, exhibit_ref="SERVER", home=known_home, perceptual=False)
    located = f"partition:0|lvm:0|carved:{at}+{len(GONE)}"
    assert {(hit.locator, hit.category) for hit in fieldlab.hits(case)} == {(located, "A")}
    assert _carved_items(case) == [(located, "carved,unallocated")]  # once: not again through the physical volume
    with sqlite3.connect(case / "case.sqlite") as db:
        regions = db.execute("SELECT kind, offset, length, volume FROM regions ORDER BY volume, offset").fetchall()
    assert {volume for *_, volume in regions} == {"partition:0|lvm:0", "partition:0|lvm:1"}  # none of the media
    assert ("volume", 0, 4 << 20, "partition:0|lvm:1") in regions  # the swap logical volume, carved whole
    assert _read(SourceSpec(str(pv), "image"), located) == GONE


def test_the_ubuntu_layout_luks2_lvm_ext4_carves_a_deleted_picture_with_the_passphrase_only(
        tmp_path: Path, known_home: Path) -> None:
    pv, at = _laptop_volume_group(tmp_path)
    with open(pv, "r+b") as out:  # root and swap take 12 of the 15 extents from 1 MiB: the last three are free
        out.seek(14 << 20)
        out.write(LEFT)
    disk = build_luks2_disk(tmp_path / "laptop" / "laptop.raw", "gpt", pv, PASSPHRASE)
    assert GONE not in disk.path.read_bytes()
    locked, unlocked = tmp_path / "locked", tmp_path / "unlocked"
    fieldlab.scan(disk.path, locked, exhibit_ref="LAPTOP", home=known_home, perceptual=False)
    assert list(fieldlab.hits(locked)) == []
    fieldlab.scan(disk.path, unlocked, exhibit_ref="LAPTOP", home=known_home, perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    located = f"partition:{disk.volume_offset}|luks:|lvm:0|carved:{at}+{len(GONE)}"
    left = f"partition:{disk.volume_offset}|luks:|carved:{14 << 20}+{len(LEFT)}"  # the physical volume's own space
    assert {(hit.locator, hit.category) for hit in fieldlab.hits(unlocked)} == {(located, "A"), (left, "B")}
    assert _carved_items(unlocked) == [(left, "carved,unallocated"), (located, "carved,unallocated")]
    assert _read(SourceSpec(str(disk.path), "image", UnlockOptions(luks_password=PASSPHRASE)), located) == GONE


def test_a_picture_left_in_the_extents_of_a_removed_logical_volume_is_carved_from_the_physical_volume(
        tmp_path: Path, known_home: Path) -> None:
    """lvremove changes only the metadata: the extents keep their bytes, and no logical volume holds them now, so
    they are carved as the physical volume's own space (a run of the media here, the volume being a plain file)."""
    (tmp_path / "evidence").mkdir()
    pv = tmp_path / "evidence" / "pv.img"
    runs = build_volume_group([pv], 16, [("root", 4), ("old", 4), ("swap", 2)], removed=["old"])
    write_logical_volume([pv], runs["old"], bytes(65536) + GONE)
    case = tmp_path / "case"
    fieldlab.scan(pv, case, exhibit_ref="SERVER", home=known_home, perceptual=False)
    [old] = runs["old"]
    located = f"carved:{old.offset + 65536}+{len(GONE)}"
    assert {(hit.locator, hit.category) for hit in fieldlab.hits(case)} == {(located, "A")}
    assert _carved_items(case) == [(located, "carved,unallocated")]
    with sqlite3.connect(case / "case.sqlite") as db:
        media = db.execute("SELECT kind, offset, length FROM regions WHERE volume = ''").fetchall()
    held = [(run.offset, run.offset + run.length) for name in ("root", "swap") for run in runs[name]]
    assert media and all(kind == "unallocated" and not any(offset < end and start < offset + length
                                                           for start, end in held) for kind, offset, length in media)
    assert any(offset <= old.offset + 65536 and old.offset + 65536 + len(GONE) <= offset + length
               for _, offset, length in media)  # the file is sparse: regions are only where it stores data
    assert _read(SourceSpec(str(pv), "image"), located) == GONE
