"""Carving inside an unlocked encrypted volume: the media holds ciphertext, so the free space of the file system inside
a LUKS volume is carved through the decrypted volume, and what is found there is addressed through it
(``partition:N|luks:|carved:O+L``), read, hashed, matched and told apart from the files still listed, as on a plain
disk.  Without the passphrase nothing changes: the volume is recorded locked and its ciphertext carved for nothing."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

import fieldlab
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence import image
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.sources import SourceSpec
from fieldlab.evidence.volume_layers import LockedVolume, RangeVolume, Region, VolumeLayer
from fieldlab.locator import Locator
from fieldlab.problems import ProblemKind
from fieldlab.triage.unallocated import RegionTask, carve_region
from fieldlab.validation.disks import MIB, PlantedFile, build_disk
from fieldlab.validation.luks import LuksDisk, build_luks1_disk, build_luks2_disk
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.free_space_oracles import make_ext

PASSPHRASE = "deleted but not gone"
LOCKED = "LUKS volume: locked, give --luks-password to read it"
GONE = procedural_jpeg(160, 640, 480)
KEEP = PlantedFile("home/alex/notes.txt", b"shopping list\n" * 50)


def _luks_laptop(root: Path, fs_type: str, size_mib: int, version: int = 1) -> tuple[LuksDisk, int]:
    """A GPT laptop whose LUKS volume holds ``fs_type`` with GONE deleted: the disk, and where GONE's bytes lie in
    the decrypted volume (found in the plaintext before it was encrypted)."""
    plain = build_disk(root / f"plain-{fs_type}.img", "none", [(fs_type, size_mib, [
        KEEP, PlantedFile("home/alex/Pictures/gone.jpg", GONE, deleted=True)])]).path
    at = plain.read_bytes().find(GONE)
    assert at > 0
    path = root / "evidence" / f"laptop-{fs_type}-luks{version}.raw"
    disk = (build_luks1_disk(path, "gpt", plain, PASSPHRASE) if version == 1 else
            build_luks2_disk(path, "gpt", plain, PASSPHRASE))
    return disk, at


@pytest.fixture(scope="module")
def ext4_laptop(tmp_path_factory: pytest.TempPathFactory) -> tuple[LuksDisk, int, Path]:
    root = tmp_path_factory.mktemp("luks-carving")
    disk, at = _luks_laptop(root, "ext4", 8)
    fieldlab.import_hashset(write_csv_hashset(root / "known.csv", [KnownFile("gone.jpg", GONE, "A")]),
                            name="known", home=root / "home")
    return disk, at, root / "home"


def _regions(case: Path) -> list[tuple[str, int, int, str, bool]]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return [(k, o, n, v, bool(c)) for k, o, n, v, c in db.execute(
            "SELECT kind, offset, length, volume, carved_at FROM regions ORDER BY volume, offset")]


def test_a_deleted_picture_inside_a_luks_volume_is_a_carved_hit_addressed_through_the_volume(
        ext4_laptop: tuple[LuksDisk, int, Path], tmp_path: Path) -> None:
    disk, at, home = ext4_laptop
    assert GONE not in disk.path.read_bytes()  # on the media it is ciphertext: carving the media cannot find it
    case = tmp_path / "case"
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    volume = f"partition:{disk.volume_offset}|luks:"
    assert {(hit.locator, hit.category) for hit in fieldlab.hits(case)} == {(f"{volume}|carved:{at}+{len(GONE)}", "A")}
    assert fieldlab.list_problems(case, ProblemKind.ENCRYPTED) == []
    inside = [region for region in _regions(case) if region[3]]
    assert inside and all(volume == v and carved for _, _, _, v, carved in inside)
    assert any(offset <= at and at + len(GONE) <= offset + length for _, offset, length, _, _ in inside)
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False,  # again: nothing carved twice
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    with sqlite3.connect(case / "case.sqlite") as db:
        assert db.execute("SELECT locator, flags FROM items WHERE flags LIKE '%carved%'").fetchall() == [
            (f"{volume}|carved:{at}+{len(GONE)}", "carved,unallocated")]


def test_without_the_passphrase_nothing_inside_is_carved_and_the_only_problem_is_the_locked_volume(
        ext4_laptop: tuple[LuksDisk, int, Path], tmp_path: Path) -> None:
    disk, _, home = ext4_laptop
    case = tmp_path / "case"
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False)
    assert list(fieldlab.hits(case)) == []
    assert [(p.kind, p.message) for p in fieldlab.list_problems(case)] == [(ProblemKind.ENCRYPTED, LOCKED)]
    (volume,) = [(offset, length) for kind, offset, length, _, _ in _regions(case) if kind == "volume"]
    assert volume[0] == disk.volume_offset  # its ciphertext is carved as a volume without a file system, as before
    assert all(not v for *_, v, _ in _regions(case))


def test_regions_inside_a_volume_left_locked_by_a_later_run_wait_for_a_run_given_the_passphrase(
        ext4_laptop: tuple[LuksDisk, int, Path], tmp_path: Path) -> None:
    disk, at, home = ext4_laptop
    case = tmp_path / "case"
    unlocked = UnlockOptions(luks_password=PASSPHRASE)
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False, unlock=unlocked, carve=False)
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False)  # carves, but has no key
    assert {carved for *_, v, carved in _regions(case) if v} == {False}
    assert list(fieldlab.hits(case)) == [] and fieldlab.list_problems(case, ProblemKind.INTERNAL) == []
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=home, perceptual=False, unlock=unlocked)
    assert {hit.locator for hit in fieldlab.hits(case)} == {  # one row per matching digest
        f"partition:{disk.volume_offset}|luks:|carved:{at}+{len(GONE)}"}


def test_a_deleted_picture_inside_a_luks2_volume_is_carved_the_same_way(tmp_path: Path) -> None:
    disk, at = _luks_laptop(tmp_path, "ext4", 8, version=2)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("gone.jpg", GONE, "A")]),
                            name="known", home=tmp_path / "home")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="LAPTOP", home=tmp_path / "home", perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    assert {hit.locator for hit in fieldlab.hits(tmp_path / "case")} == {
        f"partition:{disk.volume_offset}|luks:|carved:{at}+{len(GONE)}"}


def test_a_carved_copy_of_a_deleted_file_fat_still_lists_inside_the_volume_is_not_counted_twice(
        tmp_path: Path) -> None:
    disk, at = _luks_laptop(tmp_path, "fat32", 40)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("gone.jpg", GONE, "A")]),
                            name="known", home=tmp_path / "home")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="LAPTOP", home=tmp_path / "home", perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    (hit,) = {hit.locator for hit in fieldlab.hits(tmp_path / "case")}
    assert hit.startswith(f"partition:{disk.volume_offset}|luks:|fsfile:")  # the deleted file FAT still names
    with sqlite3.connect(tmp_path / "case" / "case.sqlite") as db:
        assert db.execute("SELECT locator, flags FROM items WHERE flags LIKE '%carved%'").fetchall() == [
            (f"partition:{disk.volume_offset}|luks:|carved:{at}+{len(GONE)}", "carved,unallocated,duplicate")]


def test_an_unlocked_volume_holding_no_file_system_is_carved_whole_through_the_decryption(tmp_path: Path) -> None:
    """A volume TSK finds no file system in (a wiped or unknown one) was carved as ciphertext; decrypted, what it
    holds is found."""
    raw = tmp_path / "raw-volume.img"
    raw.write_bytes(bytes(MIB) + GONE + bytes(3 * MIB - len(GONE)))
    disk = build_luks1_disk(tmp_path / "evidence" / "laptop.raw", "mbr", raw, PASSPHRASE)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("gone.jpg", GONE, "A")]),
                            name="known", home=tmp_path / "home")
    case = tmp_path / "case"
    fieldlab.scan(disk.path, case, exhibit_ref="LAPTOP", home=tmp_path / "home", perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    volume = f"partition:{disk.volume_offset}|luks:"
    assert {hit.locator for hit in fieldlab.hits(case)} == {f"{volume}|carved:{MIB}+{len(GONE)}"}
    assert [(kind, offset, length, v) for kind, offset, length, v, _ in _regions(case) if kind == "volume"] == [
        ("volume", 0, 4 * MIB, volume)]  # the decrypted volume, not its ciphertext on the media


def test_a_free_space_map_inside_the_volume_that_does_not_add_up_is_bounded_and_said(tmp_path: Path) -> None:
    """Group 3's block bitmap is said to lie far past the end of the decrypted volume: its blocks are left out, the
    rest listed, every region inside the volume, and the examiner told."""
    staging = tmp_path / "staging"
    plain = make_ext(tmp_path / "ext.img", 40, "mkfs.ext4", ["-b", "1024", "-g", "1024", "-O",
                                                              "^metadata_csum,^uninit_bg"], staging,
                     {"home/a/keep.bin": b"k" * 50_000})
    data = bytearray(plain.read_bytes())
    wide = struct.unpack_from("<I", data, 1024 + 96)[0] & 0x80
    descriptor_size = struct.unpack_from("<H", data, 1024 + 254)[0] if wide else 32
    struct.pack_into("<I", data, 2 * 1024 + 3 * descriptor_size, 0xFFFF_FFF0)  # the descriptors follow block 1
    plain.write_bytes(data)
    disk = build_luks1_disk(tmp_path / "laptop.raw", "mbr", plain, PASSPHRASE)
    source = ImageSource(disk.path, UnlockOptions(luks_password=PASSPHRASE))
    try:
        (inside,) = source.decrypted_carving_regions(source.carving_regions())
        assert inside.volume.to_text() == f"partition:{disk.volume_offset}|luks:"
        assert inside.regions and all(0 <= offset and offset + length <= len(data)
                                      for _, offset, length in inside.regions)
        group_3 = ((1 + 3 * 1024) * 1024, (1 + 4 * 1024) * 1024)  # 1 KiB blocks from block 1, 1,024 a group
        assert not any(offset < group_3[1] and group_3[0] < offset + length for _, offset, length in inside.regions)
        assert source.facts.problems == [
            f"free space of the ext4 volume inside the luks volume at {disk.volume_offset} partly listed: 1 of 40 ext "
            "block groups have their block bitmap outside the volume; their blocks are left out"]
    finally:
        source.close()


def test_a_region_that_does_not_lie_inside_the_decrypted_volume_is_carved_only_as_far_as_it_does_and_said(
        ext4_laptop: tuple[LuksDisk, int, Path]) -> None:
    disk, at, _ = ext4_laptop
    volume = f"partition:{disk.volume_offset}|luks:"
    spec = SourceSpec(str(disk.path), "image", UnlockOptions(luks_password=PASSPHRASE))
    with EvidenceContext() as context:
        size = context.exhibit(spec).source.inner_volume(Locator.parse(volume)).size
        past = carve_region(spec, RegionTask(1, "unallocated", at, 1 << 40, volume), context)
        assert [item.locator.to_text() for item in past.items] == [f"{volume}|carved:{at}+{len(GONE)}"]
        assert past.problem is not None and past.problem.kind == ProblemKind.DAMAGED
        assert f"does not lie inside its volume ({size:,} bytes): only its first {size - at:,} bytes" in (
            past.problem.message)
        beyond = carve_region(spec, RegionTask(2, "unallocated", size + 4096, 4096, volume), context)
        assert beyond.items == () and beyond.problem is not None and "nothing is carved" in beyond.problem.message
        for not_encrypted in (f"partition:{disk.volume_offset}", "fsfile:12:home", "partition:%zz|luks:"):
            refused = carve_region(spec, RegionTask(3, "unallocated", 0, 4096, not_encrypted), context)
            assert refused.items == () and refused.problem is not None
            assert refused.problem.kind == ProblemKind.INTERNAL
    locked = SourceSpec(str(disk.path), "image")
    with EvidenceContext() as context:
        refused = carve_region(locked, RegionTask(4, "unallocated", at, len(GONE), volume), context)
    assert refused.items == () and refused.problem is not None and refused.problem.kind == ProblemKind.ENCRYPTED


def _stand_in_bitlocker(parent: RangeVolume, _: bytes, unlock: UnlockOptions) -> RangeVolume:
    """A BitLocker-shaped layer: a 1 MiB header, then the volume's bytes (in the clear: only the layering is tested)."""
    if unlock.bitlocker_password != PASSPHRASE:
        raise LockedVolume("encrypted volume (BitLocker): the password or recovery key given does not unlock it")
    return RangeVolume(Region(parent.data, MIB, parent.data.size - MIB))


def test_free_space_inside_a_bitlocker_volume_goes_the_same_way_through_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No BitLocker image opens with libbde here (dfvfs's bdetogo.raw is cut short) and nothing on Linux writes one,
    so libbde is stood in for by a layer of the same table entry: nothing on the way is LUKS's own."""
    plain = build_disk(tmp_path / "plain.img", "none", [("ext4", 8, [
        KEEP, PlantedFile("home/alex/Pictures/gone.jpg", GONE, deleted=True)])]).path
    at = plain.read_bytes().find(GONE)
    disk = build_disk(tmp_path / "laptop.raw", "mbr", [("fat16", 9, [])])
    with open(disk.path, "r+b") as out:
        out.seek(disk.partitions[0].start_offset)
        out.write(b"\xebX\x90-FVE-FS-".ljust(MIB, b"\0") + plain.read_bytes())
    bde = image.VOLUME_LAYERS["bde"]
    stand_in = VolumeLayer("bde", "encryption", _stand_in_bitlocker,
                           lambda parent: (b"",) if parent.data.read(3, 8) == b"-FVE-FS-" else (), bde.unlock, bde.fact)
    monkeypatch.setitem(image.VOLUME_LAYERS, "bde", stand_in)
    monkeypatch.setattr(image, "ENCRYPTIONS", (stand_in, *image.ENCRYPTIONS[1:]))
    volume = f"partition:{disk.partitions[0].start_offset}|bde:"
    spec = SourceSpec(str(disk.path), "image", UnlockOptions(bitlocker_password=PASSPHRASE))
    with EvidenceContext() as context:
        source = context.exhibit(spec).source
        assert isinstance(source, ImageSource)
        (inside,) = source.decrypted_carving_regions(source.carving_regions())
        assert inside.volume.to_text() == volume
        tasks = [RegionTask(n, kind, offset, length, volume) for n, (kind, offset, length) in enumerate(inside.regions)]
        carved = [item for task in tasks for item in carve_region(spec, task, context).items]
        assert [item.locator.to_text() for item in carved] == [f"{volume}|carved:{at}+{len(GONE)}"]
        reader = source.open_item(carved[0].locator)
        buffer = bytearray(len(GONE) + 1)
        assert bytes(buffer[:reader.readinto(buffer)]) == GONE
    with EvidenceContext() as context:
        locked = SourceSpec(str(disk.path), "image")
        assert context.exhibit(locked).source.facts.volumes[0].unlocked is False
        refused = carve_region(locked, tasks[0], context)
    assert refused.items == () and refused.problem is not None and refused.problem.kind == ProblemKind.ENCRYPTED
