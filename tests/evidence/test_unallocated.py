"""Free space of ext2/3/4, exFAT and HFS+ as fieldlab reads it from the allocation maps, checked against The Sleuth Kit
(``blkls``) and e2fsprogs (``dumpe2fs``), and never an exception, whatever garbage the maps hold."""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import pytsk3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.unallocated import unallocated_runs
from tests.conftest import REALDATA
from tests.evidence.disk_builders import SECTOR, PlantedFile, build_disk, random_bytes
from tests.evidence.free_space_oracles import (
    as_runs,
    blocks_in,
    e2fsprogs_free_blocks,
    e2fsprogs_uninit_base_metadata,
    exfat_heap,
    fieldlab_runs,
    make_exfat,
    make_ext,
    tsk_unallocated_blocks,
)

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
HFSPLUS = DFVFS / "hfsplus.raw"

# (tool, MiB, options): several block groups in each, so bitmaps are found through the descriptors
EXT_VOLUMES = {
    "ext2": ("mkfs.ext2", 16, ["-b", "1024", "-g", "1024"]),
    "ext3": ("mkfs.ext3", 16, ["-b", "1024", "-g", "2048"]),
    "ext4 1k blocks, 64-bit, flex_bg of 4": ("mkfs.ext4", 24, ["-b", "1024", "-g", "1024", "-O", "64bit", "-G", "4"]),
    "ext4 4k blocks": ("mkfs.ext4", 64, ["-b", "4096", "-g", "4096"]),
    "ext4 128-byte descriptors": ("mkfs.ext4", 48, ["-b", "2048", "-g", "2048", "-O", "64bit", "-E", "desc_size=128"]),
    "ext4 meta_bg": ("mkfs.ext4", 48, ["-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"]),
    "ext4 sparse_super2": ("mkfs.ext4", 64, ["-b", "4096", "-g", "2048", "-O", "sparse_super2",
                                             "-E", "num_backup_sb=2"]),
    "ext4 superblock in every group": ("mkfs.ext4", 24, ["-b", "1024", "-g", "1024",
                                                         "-O", "^sparse_super,^resize_inode"]),
    "ext4 uninit_bg": ("mkfs.ext4", 40, ["-b", "1024", "-g", "1024", "-O", "^metadata_csum,uninit_bg"]),
    "ext4 no group checksums": ("mkfs.ext4", 40, ["-b", "1024", "-g", "1024", "-O", "^metadata_csum,^uninit_bg"]),
}


def _ext_volume(tmp_path: Path, name: str) -> Path:
    tool, size_mib, options = EXT_VOLUMES[name]
    files = {f"home/a/{n}.bin": random_bytes(n, 40_000 + 30_000 * n) for n in range(6)}
    files["home/a/gone.jpg"] = random_bytes(99, 200_000)  # deleted: a hole of free blocks between used ones
    return make_ext(tmp_path / "ext.img", size_mib, tool, options, tmp_path / "staging", files,
                    delete=["home/a/gone.jpg", "home/a/2.bin"])


def _block_size(image: Path, offset: int = 0) -> int:
    return int(pytsk3.FS_Info(pytsk3.Img_Info(str(image)), offset=offset).info.block_size)


@pytest.mark.parametrize("name", EXT_VOLUMES)
def test_ext_free_blocks_are_those_e2fsprogs_lists(tmp_path: Path, name: str) -> None:
    image = _ext_volume(tmp_path, name)
    runs, problems = fieldlab_runs(image)
    assert problems == []
    assert blocks_in(runs, _block_size(image)) == e2fsprogs_free_blocks(image)


@pytest.mark.parametrize("name", [n for n in EXT_VOLUMES if "meta_bg" not in n])  # TSK reads meta_bg descriptors amiss
def test_ext_free_blocks_are_tsks_unallocated_blocks(tmp_path: Path, name: str) -> None:
    """TSK reads a BLOCK_UNINIT group's bitmap block, never written, so it calls the group's superblock copy and
    descriptor blocks free too; apart from those, both agree block for block."""
    image = _ext_volume(tmp_path, name)
    runs, _ = fieldlab_runs(image)
    tsk = set(tsk_unallocated_blocks(image))
    misread = e2fsprogs_uninit_base_metadata(image)
    if name in ("ext2", "ext3", "ext4 no group checksums"):
        assert misread == set()
    assert misread <= tsk
    assert runs == as_runs(tsk - misread, _block_size(image))


def test_ext4_in_a_partition_is_listed_at_media_offsets(tmp_path: Path) -> None:
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("ext4", 32, [
        PlantedFile("home/a/keep.bin", random_bytes(1, 300_000)),
        PlantedFile("home/a/gone.bin", random_bytes(2, 300_000), deleted=True),
    ])])
    part = disk.partitions[0]
    runs, problems = fieldlab_runs(disk.path, part.start_offset, part.size)
    block = _block_size(disk.path, part.start_offset)
    tsk = set(tsk_unallocated_blocks(disk.path, part.sector_offset))
    alone = tmp_path / "partition.img"
    with open(disk.path, "rb") as raw:
        raw.seek(part.start_offset)
        alone.write_bytes(raw.read(part.size))
    assert problems == []
    assert runs == as_runs(tsk - e2fsprogs_uninit_base_metadata(alone), block, part.start_offset)
    assert blocks_in(runs, block, part.start_offset) == e2fsprogs_free_blocks(alone)


def _exfat_expected(image: Path, sector_offset: int = 0) -> list[tuple[int, int]]:
    """TSK's unallocated sectors inside the cluster heap (it also counts the few past its last cluster)."""
    with open(image, "rb") as raw:
        raw.seek(sector_offset * SECTOR)
        heap_start, per_cluster, clusters = exfat_heap(raw.read(SECTOR))
    heap = range(heap_start, heap_start + per_cluster * clusters)
    sectors = [s for s in tsk_unallocated_blocks(image, sector_offset) if s in heap]
    return as_runs(sectors, SECTOR, sector_offset * SECTOR)


@pytest.mark.parametrize(("size_mib", "cluster"), [(16, None), (40, "512"), (64, "32K"), (33, "4K")])
def test_fresh_exfat_free_clusters_are_tsks_unallocated_sectors(tmp_path: Path, size_mib: int, cluster: str) -> None:
    image = make_exfat(tmp_path / "exfat.img", size_mib, cluster)
    runs, problems = fieldlab_runs(image)
    assert problems == []
    assert runs and runs == _exfat_expected(image)


def test_used_exfat_free_clusters_are_tsks_unallocated_sectors(tmp_path: Path) -> None:
    files = [PlantedFile(f"DCIM/{n}.jpg", random_bytes(n, 20_000 * n), deleted=n % 3 == 0) for n in range(1, 12)]
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("exfat", 16, files)])
    part = disk.partitions[0]
    runs, problems = fieldlab_runs(disk.path, part.start_offset, part.size)
    assert problems == []
    assert len(runs) > 2 and runs == _exfat_expected(disk.path, part.sector_offset)


@pytest.mark.parametrize(("name", "block"), [("hfsplus.raw", 4096), ("ext2.E01", 1024)])
def test_free_space_of_real_volumes_is_tsks_unallocated_space(name: str, block: int) -> None:
    """dfVFS's test volumes, as a scan opens them (the ext2 one through its E01 container)."""
    source = ImageSource(DFVFS / name)
    runs = list(source.unallocated_regions())
    assert source.facts.problems == []
    assert len(runs) > 1 and runs == as_runs(tsk_unallocated_blocks(DFVFS / name), block)


# --- what does not add up ----------------------------------------------------------------


def _runs_of(data: bytearray, fs: pytsk3.FS_Info, fs_type: str) -> tuple[list[tuple[int, int]], list[str]]:
    problems: list[str] = []
    runs = list(unallocated_runs(fs, fs_type, 0, len(data), lambda at, size: bytes(data[at:at + size]),
                                 problems.append))
    return runs, problems


def _pristine_fs(image: Path) -> pytsk3.FS_Info:
    return pytsk3.FS_Info(pytsk3.Img_Info(str(image)))


def test_an_ext_group_whose_bitmap_lies_outside_is_left_out_and_said_so(tmp_path: Path) -> None:
    image = _ext_volume(tmp_path, "ext4 no group checksums")
    expected = e2fsprogs_free_blocks(image)
    data = bytearray(image.read_bytes())
    wide = struct.unpack_from("<I", data, 1024 + 96)[0] & 0x80
    descriptor_size = struct.unpack_from("<H", data, 1024 + 254)[0] if wide else 32
    descriptors = 2 * 1024  # 1 KiB blocks: the superblock is block 1, the descriptors follow
    struct.pack_into("<I", data, descriptors + 3 * descriptor_size, 0xFFFF_FFF0)  # group 3's block bitmap
    image.write_bytes(data)
    source = ImageSource(image)
    runs = list(source.unallocated_regions())
    group_3 = set(range(1 + 3 * 1024, 1 + 4 * 1024))
    assert blocks_in(runs, 1024) == expected - group_3
    assert source.facts.problems == [
        "free space of the ext4 volume at 0 partly listed: 1 of 40 ext block groups have their block bitmap "
        "outside the volume; their blocks are left out"]


def _set(data: bytearray, offset: int, fmt: str, *values: int) -> None:
    struct.pack_into(fmt, data, offset, *values)


EXT_DAMAGE: dict[str, tuple[Callable[[bytearray], None], str]] = {  # superblock at 1024
    "superblock signature wiped": (lambda d: _set(d, 1024 + 56, "<H", 0), "no EF53 signature"),
    "block size of 2^40": (lambda d: _set(d, 1024 + 24, "<I", 30), "block size"),
    "groups of 7 blocks": (lambda d: _set(d, 1024 + 32, "<I", 7), "block groups"),
    "descriptors of 48 bytes": (lambda d: _set(d, 1024 + 254, "<H", 48), "descriptors are said to be 48"),
    "first data block 5": (lambda d: _set(d, 1024 + 20, "<I", 5), "first ext data block"),
    "inodes of 100 bytes": (lambda d: _set(d, 1024 + 88, "<H", 100), "inodes are said to be 100"),
    "bigalloc": (lambda d: _set(d, 1024 + 100, "<I", struct.unpack_from("<I", d, 1124)[0] | 0x200), "bigalloc"),
}


@pytest.mark.parametrize("damage", EXT_DAMAGE)
def test_a_damaged_ext_superblock_lists_nothing_and_says_why(tmp_path: Path, damage: str) -> None:
    image = _ext_volume(tmp_path, "ext4 1k blocks, 64-bit, flex_bg of 4")
    data = bytearray(image.read_bytes())
    corrupt, reason = EXT_DAMAGE[damage]
    corrupt(data)
    runs, problems = _runs_of(data, _pristine_fs(image), "ext4")
    assert runs == []
    assert len(problems) == 1 and problems[0].startswith("free space of the ext4 volume at 0 not listed: ")
    assert reason in problems[0]


def _exfat_root_entry(data: bytearray, kind: int) -> int:
    heap_start, per_cluster, _ = exfat_heap(bytes(data[:SECTOR]))
    root = heap_start * SECTOR + (struct.unpack_from("<I", data, 96)[0] - 2) * per_cluster * SECTOR
    return next(root + slot for slot in range(0, per_cluster * SECTOR, 32) if data[root + slot] == kind)


EXFAT_DAMAGE: dict[str, tuple[Callable[[bytearray], None], str]] = {
    "signature wiped": (lambda d: d.__setitem__(slice(3, 11), b"NTFS    "), "no EXFAT signature"),
    "sectors of 2^20 bytes": (lambda d: d.__setitem__(108, 20), "inconsistent"),
    "heap past the end": (lambda d: _set(d, 88, "<I", 1 << 30), "past the volume's end"),
    "root folder outside the heap": (lambda d: _set(d, 96, "<I", 1 << 31), "no allocation bitmap entry"),
    "bitmap entry gone": (lambda d: d.__setitem__(_exfat_root_entry(d, 0x81), 0x01), "no allocation bitmap entry"),
    "bitmap outside the heap": (lambda d: _set(d, _exfat_root_entry(d, 0x81) + 20, "<I", 0xFFFF_FF00),
                                "outside the cluster heap"),
    "bitmap too short": (lambda d: _set(d, _exfat_root_entry(d, 0x81) + 24, "<Q", 3), "too short"),
}


@pytest.mark.parametrize("damage", EXFAT_DAMAGE)
def test_a_damaged_exfat_lists_nothing_and_says_why(tmp_path: Path, damage: str) -> None:
    image = make_exfat(tmp_path / "exfat.img", 16)
    data = bytearray(image.read_bytes())
    corrupt, reason = EXFAT_DAMAGE[damage]
    corrupt(data)
    runs, problems = _runs_of(data, _pristine_fs(image), "exfat")
    assert runs == []
    assert len(problems) == 1 and reason in problems[0], problems


HFS_DAMAGE: dict[str, tuple[Callable[[bytearray], None], str]] = {
    "an HFS wrapper": (lambda d: d.__setitem__(slice(1024, 1026), b"BD"), "not H+ or HX"),
    "blocks of 3000 bytes": (lambda d: _set(d, 1024 + 40, ">I", 3000), "block size"),
    "allocation file of 1 byte": (lambda d: _set(d, 1024 + 112, ">Q", 1), "too small"),
    "extent past the last block": (lambda d: _set(d, 1024 + 128, ">I", 5000), "lies past"),
    "extent past the volume": (lambda d: _set(d, 1024 + 40, ">2I", 4096, 0xFFFF_FFFF) or _set(d, 1152, ">I", 1 << 30),
                               "outside the volume"),
}


@pytest.mark.parametrize("damage", HFS_DAMAGE)
def test_a_damaged_hfsplus_lists_nothing_and_says_why(damage: str) -> None:
    data = bytearray(HFSPLUS.read_bytes())
    corrupt, reason = HFS_DAMAGE[damage]
    corrupt(data)
    runs, problems = _runs_of(data, _pristine_fs(HFSPLUS), "hfs")
    assert runs == []
    assert len(problems) == 1 and reason in problems[0], problems


def test_hfsplus_extents_short_of_the_fork_are_read_through_tsk(tmp_path: Path) -> None:
    """With the allocation file's extents in the header cut short, the rest would be in the extents overflow file:
    TSK is asked, and what it cannot give is said, never raised."""
    data = bytearray(HFSPLUS.read_bytes())
    _set(data, 1024 + 128 + 4, ">I", 0)  # the first extent counts no blocks
    copy = tmp_path / "hfsplus.raw"
    copy.write_bytes(data)
    runs, problems = _runs_of(data, _pristine_fs(copy), "hfs")
    assert runs == [] and len(problems) == 1 and "continued past its eight extents" in problems[0]
    runs, problems = _runs_of(data, _pristine_fs(HFSPLUS), "hfs")  # a TSK that still reads the file: all listed
    assert problems == [] and runs == as_runs(tsk_unallocated_blocks(HFSPLUS), 4096)


Target = tuple[bytes, pytsk3.FS_Info, list[range]]


@pytest.fixture(scope="module")
def garbage_targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Target]:
    """Each file system's bytes, its TSK handle and the byte ranges its allocation map is found through."""
    tmp = tmp_path_factory.mktemp("garbage")
    ext = _ext_volume(tmp, "ext4 1k blocks, 64-bit, flex_bg of 4")
    exfat = make_exfat(tmp / "exfat.img", 16)
    hfs = tmp / "hfsplus.raw"
    shutil.copyfile(HFSPLUS, hfs)
    exfat_data = exfat.read_bytes()
    heap_start, per_cluster, _ = exfat_heap(exfat_data[:SECTOR])
    fat = struct.unpack_from("<I", exfat_data, 80)[0] * SECTOR
    heap = range(heap_start * SECTOR, (heap_start + 4 * per_cluster) * SECTOR)  # bitmap, up-case table, root folder
    return {
        "ext4": (ext.read_bytes(), _pristine_fs(ext), [range(1024, 2048), range(2048, 4096)]),  # superblock, GDT
        "exfat": (exfat_data, _pristine_fs(exfat), [range(0, SECTOR), range(fat, fat + 64), heap]),  # boot, FAT, heap
        "hfs": (hfs.read_bytes(), _pristine_fs(hfs), [range(1024, 1536)]),  # volume header
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fs_type=st.sampled_from(["ext4", "exfat", "hfs"]), data=st.data())
def test_garbage_in_the_structures_never_raises_and_stays_inside_the_volume(
        garbage_targets: dict[str, Target], fs_type: str, data: st.DataObject) -> None:
    pristine, fs, targets = garbage_targets[fs_type]
    damaged = bytearray(pristine)
    for _ in range(data.draw(st.integers(1, 6))):
        target = data.draw(st.sampled_from(targets))
        at = data.draw(st.integers(target.start, target.stop - 1))
        garbage = data.draw(st.binary(min_size=1, max_size=8))
        damaged[at:at + len(garbage)] = garbage
    damaged = damaged[:len(pristine)]
    runs, _ = _runs_of(damaged, fs, fs_type)
    end = 0
    for offset, length in runs:
        assert end <= offset and length > 0 and offset + length <= len(damaged)
        end = offset + length


def test_a_truncated_image_lists_nothing_and_says_why(tmp_path: Path) -> None:
    image = _ext_volume(tmp_path, "ext4 4k blocks")
    kept = image.read_bytes()[: 6 * 4096]  # the superblock and descriptors; the bitmaps are cut off
    problems: list[str] = []
    runs = list(unallocated_runs(_pristine_fs(image), "ext4", 0, os.path.getsize(image),
                                 lambda at, size: kept[at:at + size], problems.append))
    assert runs == []
    assert len(problems) == 1 and "an ext block bitmap cannot be read whole" in problems[0]


def test_an_ext_volume_claiming_more_blocks_than_it_holds_is_read_to_its_end(tmp_path: Path) -> None:
    image = _ext_volume(tmp_path, "ext4 1k blocks, 64-bit, flex_bg of 4")
    expected = e2fsprogs_free_blocks(image)
    data = bytearray(image.read_bytes())
    _set(data, 1024 + 4, "<I", 0xFFFF_FFF0)
    runs, problems = _runs_of(data, _pristine_fs(image), "ext4")
    assert problems == [] and blocks_in(runs, 1024) == expected
