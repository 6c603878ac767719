"""The disk builders are right: The Sleuth Kit's own tools, and each file system's fsck, agree with what they record.

Scan tests trust BuiltDisk as ground truth, so here every recorded fact is checked by an
independent reader: mmls for the partition tables, fls for every planted path and its
deletion mark, icat for the bytes, blkls for what deleted files leave in unallocated
space, ewfinfo/ewfverify for the E01 and plain concatenation for split raw.
"""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.evidence.disk_builders import (
    MIB,
    SECTOR,
    BuiltDisk,
    BuiltPartition,
    PlantedFile,
    build_disk,
    random_bytes,
    standard_gpt_fat_ext_disk,
    standard_mbr_ntfs_disk,
    to_e01,
    to_split_raw,
)

DISKS = ("ntfs_disk", "gpt_disk", "mixed_mbr_disk", "bare_disk")
FSSTAT_TYPE = {"ntfs": "NTFS", "fat32": "FAT32", "fat16": "FAT16", "ext4": "Ext4", "exfat": "exFAT"}
MBR_TYPE = {"ntfs": "(0x07)", "exfat": "(0x07)", "fat32": "(0x0c)", "fat16": "(0x0e)", "ext4": "(0x83)"}
GPT_NAME = {"ntfs": "Basic data partition", "exfat": "Basic data partition", "fat32": "Basic data partition",
            "fat16": "Basic data partition", "ext4": "Linux filesystem"}
FSCK = {
    "ntfs": ["ntfsfix", "-n"],
    "fat16": ["fsck.fat", "-n"],
    "fat32": ["fsck.fat", "-n"],
    "exfat": ["fsck.exfat", "-n"],
    "ext4": ["e2fsck", "-f", "-n"],
}


# --- disks, built once per module ------------------------------------------------------


@pytest.fixture(scope="module")
def ntfs_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    return standard_mbr_ntfs_disk(tmp_path_factory.mktemp("ntfs"))


@pytest.fixture(scope="module")
def gpt_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    return standard_gpt_fat_ext_disk(tmp_path_factory.mktemp("gpt"))


@pytest.fixture(scope="module")
def mixed_mbr_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """Four primary partitions, one of every other kind, with names a reader can trip over."""
    fat16 = [
        PlantedFile("DCIM/IMG_0007.JPG", random_bytes(1, 40_000)),
        PlantedFile("DCIM/gone.jpg", random_bytes(2, 30_000), deleted=True),
        PlantedFile("Ordner mit Umlauten/Bild ä.png", random_bytes(3, 9_000)),
    ]
    exfat = [
        PlantedFile("DCIM/100MEDIA/VID_0001.MP4", random_bytes(11, 120_000)),
        PlantedFile("DCIM/100MEDIA/Clip with a rather long name.jpg", random_bytes(12, 20_000), deleted=True),
        PlantedFile("empty.txt", b""),
        PlantedFile("Größe/ÄÖÜ.bin", random_bytes(13, 5_000)),
    ]
    ntfs = [
        PlantedFile("Bilder/Urlaub ä.jpg", random_bytes(21, 25_000)),
        PlantedFile("Bilder/Urlaub ä.jpg", random_bytes(22, 9_000), stream="versteckt"),
        PlantedFile("Temp/tiny.bin", random_bytes(23, 100), deleted=True),  # resident in its MFT record
    ]
    ext4 = [
        PlantedFile("srv/data/blob.bin", random_bytes(31, 64_000)),
        PlantedFile("srv/data/old blob.bin", random_bytes(32, 20_000), deleted=True),
    ]
    return build_disk(
        tmp_path_factory.mktemp("mixed") / "mixed.raw",
        "mbr",
        [("fat16", 8, fat16), ("exfat", 8, exfat), ("ntfs", 4, ntfs), ("ext4", 4, ext4)],
        gap_mib=1,
    )


@pytest.fixture(scope="module")
def bare_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    """An SD card formatted without a partition table."""
    files = [
        PlantedFile("DCIM/100MEDIA/IMG_0001.JPG", random_bytes(41, 30_000)),
        PlantedFile("DCIM/100MEDIA/IMG_0002.JPG", random_bytes(42, 30_000), deleted=True),
    ]
    return build_disk(tmp_path_factory.mktemp("bare") / "sdcard.raw", "none", [("exfat", 8, files)])


@pytest.fixture(params=DISKS)
def disk(request: pytest.FixtureRequest) -> BuiltDisk:
    return request.getfixturevalue(request.param)


# --- TSK, read back ----------------------------------------------------------------------


def run(*args: str | Path) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result.stdout


def mmls(image: Path) -> list[tuple[str, int, int, str]]:
    """(slot, start sector, length in sectors, description) for every row mmls prints."""
    rows = []
    for line in run("mmls", image).splitlines():
        match = re.match(r"^\d+:\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(.*)$", line)
        if match:
            rows.append((match[1], int(match[2]), int(match[4]), match[5]))
    return rows


def fls(image: Path, partition: BuiltPartition) -> dict[str, tuple[str, bool]]:
    """path -> (TSK address for icat, deleted?)."""
    listing = {}
    for line in run("fls", "-r", "-p", "-o", partition.sector_offset, image).splitlines():
        match = re.match(r"^\S+\s+(\*\s+)?([\w-]+)(\(realloc\))?:\t(.*)$", line)
        assert match, f"unexpected fls line: {line!r}"
        listing[match[4]] = (match[2], bool(match[1]))
    return listing


def icat(image: Path, partition: BuiltPartition, address: str) -> bytes:
    result = subprocess.run(["icat", "-o", str(partition.sector_offset), str(image), address], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def partition_bytes(disk: BuiltDisk, partition: BuiltPartition) -> bytes:
    with open(disk.path, "rb") as f:
        f.seek(partition.start_offset)
        return f.read(partition.size)


def md5_of(paths: list[Path]) -> str:
    digest = hashlib.md5()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# --- partition tables --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ntfs_disk", "gpt_disk", "mixed_mbr_disk"])
def test_mmls_finds_each_partition_at_its_recorded_offset_and_size(name: str, request: pytest.FixtureRequest) -> None:
    disk: BuiltDisk = request.getfixturevalue(name)
    found = [(start, length, description) for slot, start, length, description in mmls(disk.path)
             if slot not in ("Meta", "-------")]
    assert [(start, length) for start, length, _ in found] == [
        (p.start_offset // SECTOR, p.size // SECTOR) for p in disk.partitions
    ]
    expected = MBR_TYPE if disk.scheme == "mbr" else GPT_NAME
    for (_, _, description), partition in zip(found, disk.partitions):
        assert expected[partition.fs_type] in description


@pytest.mark.parametrize("name", ["ntfs_disk", "gpt_disk", "mixed_mbr_disk"])
def test_recorded_gaps_are_unallocated_to_mmls(name: str, request: pytest.FixtureRequest) -> None:
    disk: BuiltDisk = request.getfixturevalue(name)
    unallocated = [(start * SECTOR, (start + length) * SECTOR) for slot, start, length, _ in mmls(disk.path)
                   if slot == "-------"]
    assert len(disk.gaps) == len(disk.partitions)
    for offset, length in disk.gaps:
        assert length >= MIB
        assert any(low <= offset and offset + length <= high for low, high in unallocated), (offset, length)


def test_gpt_backup_header_matches_the_primary_table(gpt_disk: BuiltDisk) -> None:
    """mmls reads only the primary GPT; tools that repair or verify disks read the backup too."""
    image = gpt_disk.path.read_bytes()
    last = len(image) // SECTOR - 1

    def header(lba: int) -> tuple[int, int, int, bytes]:
        raw = image[lba * SECTOR: lba * SECTOR + 92]
        assert raw[:8] == b"EFI PART"
        assert zlib.crc32(raw[:16] + b"\0\0\0\0" + raw[20:]) == struct.unpack_from("<I", raw, 16)[0]
        (my_lba,) = struct.unpack_from("<Q", raw, 24)
        table_lba, count, size, table_crc = struct.unpack_from("<QIII", raw, 72)
        table = image[table_lba * SECTOR: table_lba * SECTOR + count * size]
        assert zlib.crc32(table) == table_crc
        return my_lba, table_lba, table_crc, table

    primary, backup = header(1), header(last)
    assert (primary[0], backup[0]) == (1, last)
    assert primary[3] == backup[3]


def test_bare_file_system_has_no_partition_table_and_no_gaps(bare_disk: BuiltDisk) -> None:
    result = subprocess.run(["mmls", str(bare_disk.path)], capture_output=True, text=True)
    assert result.returncode != 0  # nothing for mmls to find
    assert bare_disk.gaps == ()
    assert [(p.start_offset, p.size) for p in bare_disk.partitions] == [(0, bare_disk.size)]


# --- file systems --------------------------------------------------------------------------


def test_fsstat_recognises_the_requested_file_system(disk: BuiltDisk) -> None:
    for partition in disk.partitions:
        out = run("fsstat", "-o", partition.sector_offset, disk.path)
        assert f"File System Type: {FSSTAT_TYPE[partition.fs_type]}\n" in out


def test_each_file_system_passes_its_own_fsck(disk: BuiltDisk, tmp_path: Path) -> None:
    for partition in disk.partitions:
        image = tmp_path / f"partition-{partition.index}.img"
        image.write_bytes(partition_bytes(disk, partition))
        result = subprocess.run([*FSCK[partition.fs_type], str(image)], capture_output=True, text=True)
        assert result.returncode == 0, f"{partition.fs_type}: {result.stdout}{result.stderr}"


def test_fls_lists_every_planted_path_and_marks_exactly_the_deleted_ones(disk: BuiltDisk) -> None:
    for partition in disk.partitions:
        listing = fls(disk.path, partition)
        for file in partition.files:
            path = partition.listed_path(file)
            assert path in listing, f"{partition.fs_type}: {path} not in {sorted(listing)}"
            assert listing[path][1] == file.deleted, f"{partition.fs_type}: {path}"


def test_icat_returns_the_planted_bytes_of_every_allocated_file(disk: BuiltDisk) -> None:
    for partition in disk.partitions:
        listing = fls(disk.path, partition)
        for file in partition.files:
            if not file.deleted:
                address = listing[partition.listed_path(file)][0]
                assert hashlib.md5(icat(disk.path, partition, address)).hexdigest() == file.md5, file.path


def test_icat_recovers_deleted_content_where_the_file_system_keeps_it(disk: BuiltDisk) -> None:
    checked = 0
    for partition in disk.partitions:
        if not partition.deleted_content_recoverable:
            continue
        listing = fls(disk.path, partition)
        for file in partition.files:
            if file.deleted:
                address = listing[partition.listed_path(file)][0]
                assert hashlib.md5(icat(disk.path, partition, address)).hexdigest() == file.md5, file.path
                checked += 1
    assert checked, "every test disk has a deleted file where content is recoverable"


def test_deleted_ext4_files_keep_their_name_but_their_inode_no_longer_leads_to_content(gpt_disk: BuiltDisk) -> None:
    """As after a kernel delete: size 0 and an empty extent tree, so only carving finds the bytes."""
    partition = next(p for p in gpt_disk.partitions if p.fs_type == "ext4")
    assert not partition.deleted_content_recoverable
    listing = fls(gpt_disk.path, partition)
    deleted = [f for f in partition.files if f.deleted]
    assert deleted
    for file in deleted:
        assert len(icat(gpt_disk.path, partition, listing[file.path][0])) == 0, file.path


def test_deleted_content_lies_in_unallocated_space_for_carving(disk: BuiltDisk) -> None:
    """blkls prints the unallocated blocks; content of a deleted (non-resident) file is among them."""
    for partition in disk.partitions:
        deleted = [f for f in partition.files if f.deleted and len(f.data) > 4096]
        if not deleted:
            continue
        unallocated = subprocess.run(["blkls", "-o", str(partition.sector_offset), str(disk.path)],
                                     capture_output=True, check=True).stdout
        for file in deleted:
            found = file.data in unallocated
            assert found, f"{partition.fs_type}: {file.path} not in unallocated space"


def test_ntfs_alternate_stream_holds_its_bytes_and_the_main_stream_other_content(
    ntfs_disk: BuiltDisk, mixed_mbr_disk: BuiltDisk
) -> None:
    for disk in (ntfs_disk, mixed_mbr_disk):
        partition = next(p for p in disk.partitions if p.fs_type == "ntfs")
        listing = fls(disk.path, partition)
        for file in (f for f in partition.files if f.stream):
            stream_address = listing[f"{file.path}:{file.stream}"][0]
            main_address = listing[file.path][0]
            assert re.fullmatch(r"\d+-128-\d+", stream_address)
            assert stream_address.split("-")[0] == main_address.split("-")[0]  # one MFT record, two $DATA
            assert hashlib.md5(icat(disk.path, partition, stream_address)).hexdigest() == file.md5
            main = hashlib.md5(icat(disk.path, partition, main_address)).hexdigest()
            assert main != file.md5
            planted_main = [f.md5 for f in partition.files if f.path == file.path and f.stream is None]
            assert main == (planted_main[0] if planted_main else main)


def test_standard_ntfs_disk_has_the_promised_shape(ntfs_disk: BuiltDisk) -> None:
    (partition,) = ntfs_disk.partitions
    assert (ntfs_disk.scheme, partition.fs_type) == ("mbr", "ntfs")
    assert len([f for f in partition.files if f.stream is None]) == 8
    assert len([f for f in partition.files if f.deleted]) == 2
    assert len([f for f in partition.files if f.stream]) == 1
    assert len({f.md5 for f in partition.files}) == len(partition.files)  # every planted file is unique


def test_standard_gpt_disk_has_fat32_and_ext4_with_deleted_files(gpt_disk: BuiltDisk) -> None:
    assert gpt_disk.scheme == "gpt"
    assert [p.fs_type for p in gpt_disk.partitions] == ["fat32", "ext4"]
    for partition in gpt_disk.partitions:
        assert any(f.deleted for f in partition.files) and any(not f.deleted for f in partition.files)
    hashes = [f.md5 for p in gpt_disk.partitions for f in p.files]
    assert len(set(hashes)) == len(hashes)


def test_deleted_fat_short_name_loses_its_first_letter_and_long_name_stays_whole(gpt_disk: BuiltDisk) -> None:
    fat = gpt_disk.partitions[0]
    short = next(f for f in fat.files if f.path == "DCIM/100CANON/IMG_0002.JPG")
    long = next(f for f in fat.files if f.path == "Pictures/old scan.png")
    assert fat.listed_path(short) == "DCIM/100CANON/_MG_0002.JPG"
    assert fat.listed_path(long) == "Pictures/old scan.png"


def test_exfat_folders_grow_to_hold_many_files(tmp_path: Path) -> None:
    """A fresh exFAT root holds one cluster of entries; planting more must grow it, and size subfolders."""
    files = [PlantedFile(f"photo number {n:03d} from the camera.jpg", random_bytes(500 + n, 600)) for n in range(80)]
    files += [PlantedFile(f"DCIM/100MEDIA/IMG_{n:04d}.JPG", random_bytes(700 + n, 600), deleted=n % 10 == 0)
              for n in range(120)]
    disk = build_disk(tmp_path / "many.raw", "none", [("exfat", 8, files)])
    (partition,) = disk.partitions
    listing = fls(disk.path, partition)
    assert all(listing.get(f.path, ("", not f.deleted))[1] == f.deleted for f in files)
    image = tmp_path / "many.img"
    image.write_bytes(partition_bytes(disk, partition))
    run("fsck.exfat", "-n", image)


# --- acquisitions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def e01(gpt_disk: BuiltDisk, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return to_e01(gpt_disk.path, tmp_path_factory.mktemp("e01") / "gpt-disk", segment_size_mib=8,
                  case_number="CASE-2024-117", evidence_number="EXH-3", examiner="DC Morgan",
                  description="seized laptop disk")


def test_small_segment_size_splits_the_e01_into_ordered_segments(e01: list[Path], gpt_disk: BuiltDisk) -> None:
    assert [p.suffix for p in e01] == [f".E{n:02d}" for n in range(1, len(e01) + 1)]
    assert len(e01) >= gpt_disk.size // (8 * MIB)
    assert all(p.stat().st_size <= 8 * MIB for p in e01)


def test_ewfinfo_reports_the_case_metadata_and_the_raw_images_hashes(e01: list[Path], gpt_disk: BuiltDisk) -> None:
    info = run("ewfinfo", e01[0])
    raw = gpt_disk.path.read_bytes()
    for label, value in (("Case number", "CASE-2024-117"), ("Evidence number", "EXH-3"),
                         ("Examiner name", "DC Morgan"), ("Description", "seized laptop disk"),
                         ("MD5", hashlib.md5(raw).hexdigest()), ("SHA1", hashlib.sha1(raw).hexdigest())):
        assert re.search(rf"^\s*{label}:\s+{re.escape(value)}$", info, re.MULTILINE), label
    assert f"Media size:\t\t{gpt_disk.size // MIB} MiB ({gpt_disk.size} bytes)" in info


def test_ewfverify_succeeds_on_the_e01(e01: list[Path]) -> None:
    assert "ewfverify: SUCCESS" in run("ewfverify", "-q", e01[0])


def test_tsk_lists_the_same_files_through_the_e01_as_through_the_raw(e01: list[Path], gpt_disk: BuiltDisk) -> None:
    for partition in gpt_disk.partitions:
        assert fls(e01[0], partition) == fls(gpt_disk.path, partition)


def test_to_e01_refuses_to_overwrite_existing_segments(e01: list[Path], gpt_disk: BuiltDisk) -> None:
    with pytest.raises(FileExistsError):
        to_e01(gpt_disk.path, e01[0].with_suffix(""))


@pytest.mark.parametrize(("style", "suffixes"),
                         [("numeric", [".001", ".002", ".003"]), ("alpha", [".aa", ".ab", ".ac"])])
def test_split_raw_segments_concatenate_to_the_raw(ntfs_disk: BuiltDisk, tmp_path: Path, style: str,
                                                   suffixes: list[str]) -> None:
    segments = to_split_raw(ntfs_disk.path, tmp_path / "disk", 4, style=style)
    assert [p.suffix for p in segments] == suffixes  # 11 MiB in 4 MiB pieces
    assert [p.stat().st_size for p in segments] == [4 * MIB, 4 * MIB, 3 * MIB]
    assert md5_of(segments) == md5_of([ntfs_disk.path])


def test_tsk_opens_numeric_split_raw_from_its_first_segment(ntfs_disk: BuiltDisk, tmp_path: Path) -> None:
    segments = to_split_raw(ntfs_disk.path, tmp_path / "disk", 4)
    (partition,) = ntfs_disk.partitions
    assert fls(segments[0], partition) == fls(ntfs_disk.path, partition)


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/Users/a.jpg", "Users//a.jpg", "Users/../a.jpg", "Users\\a.jpg", ""])
def test_planted_paths_must_be_relative_and_clean(path: str) -> None:
    with pytest.raises(ValueError):
        PlantedFile(path, b"x")


def test_streams_are_refused_outside_ntfs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only on NTFS"):
        build_disk(tmp_path / "d.raw", "mbr", [("fat16", 8, [PlantedFile("a.txt", b"x", stream="s")])])


def test_a_file_and_its_streams_are_deleted_together(tmp_path: Path) -> None:
    files = [PlantedFile("a.txt", b"x", deleted=True), PlantedFile("a.txt", b"y", stream="s")]
    with pytest.raises(ValueError, match="deleted together"):
        build_disk(tmp_path / "d.raw", "mbr", [("ntfs", 4, files)])


def test_fat32_too_small_for_its_cluster_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 33 MiB"):
        build_disk(tmp_path / "d.raw", "mbr", [("fat32", 16, [])])


def test_mbr_refuses_a_fifth_primary_partition(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most 4"):
        build_disk(tmp_path / "d.raw", "mbr", [("fat16", 4, [])] * 5)


def test_names_differing_only_in_case_are_refused_where_windows_ignores_case(tmp_path: Path) -> None:
    files = [PlantedFile("Pictures/a.jpg", b"x"), PlantedFile("pictures/b.jpg", b"y")]
    with pytest.raises(ValueError, match="ignores case"):
        build_disk(tmp_path / "d.raw", "mbr", [("exfat", 4, files)])
    build_disk(tmp_path / "e.raw", "mbr", [("ext4", 4, files)])  # ext4 tells them apart
