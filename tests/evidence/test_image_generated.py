"""Generated disks with planted and deleted files: every file found, deleted ones flagged, identical through E01."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag
from tests.evidence.disk_builders import (
    BuiltDisk,
    PlantedFile,
    build_disk,
    random_bytes,
    standard_gpt_fat_ext_disk,
    standard_mbr_ntfs_disk,
    to_e01,
    to_split_raw,
)


def _listing(source: ImageSource) -> dict[str, tuple[Item, str | None]]:
    """Every item by path, with the MD5 of its content where it has any."""
    found = {}
    for entry in source.walk():
        if not isinstance(entry, Item):
            continue
        md5 = None
        if entry.kind.value == "file":
            reader = source.open_item(entry.locator)
            digest, buffer = hashlib.md5(), bytearray(1 << 16)
            while count := reader.readinto(buffer):
                digest.update(buffer[:count])
            md5 = digest.hexdigest()
        found[entry.path] = (entry, md5)
    return found


def _expected(disk: BuiltDisk, prefix_of) -> list[tuple[str, PlantedFile, bool]]:  # noqa: ANN001
    return [
        (prefix_of(part) + part.listed_path(planted), planted, part.deleted_content_recoverable)
        for part in disk.partitions
        for planted in part.files
    ]


def _volume_prefix(source: ImageSource):  # noqa: ANN202
    by_offset = {v.offset: v for v in source.facts.volumes}
    return lambda part: f"vol{by_offset[part.start_offset].index}@{part.start_offset}/"


def _assert_all_planted_found(source: ImageSource, disk: BuiltDisk) -> dict[str, tuple[Item, str | None]]:
    listing = _listing(source)
    for path, planted, recoverable in _expected(disk, _volume_prefix(source)):
        assert path in listing, f"{path} missing; found {sorted(listing)}"
        item, md5 = listing[path]
        assert (ItemFlag.DELETED in item.flags) == planted.deleted, path
        if not planted.deleted or recoverable:
            assert md5 == planted.md5, path
    return listing


@pytest.fixture(scope="module")
def ntfs_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    return standard_mbr_ntfs_disk(tmp_path_factory.mktemp("ntfs"))


@pytest.fixture(scope="module")
def gpt_disk(tmp_path_factory: pytest.TempPathFactory) -> BuiltDisk:
    return standard_gpt_fat_ext_disk(tmp_path_factory.mktemp("gpt"))


def test_mbr_ntfs_disk_all_planted_files_found_deleted_flagged_streams_separate(ntfs_disk: BuiltDisk) -> None:
    source = ImageSource(ntfs_disk.path)
    assert source.facts.partition_scheme == "dos"
    assert [v.file_system for v in source.facts.volumes] == ["ntfs"]
    listing = _assert_all_planted_found(source, ntfs_disk)
    streams = [p for p, (item, _) in listing.items() if item.locator.layers[-1].kind == "stream" and "$" not in p]
    assert streams == [p for p, planted, _ in _expected(ntfs_disk, _volume_prefix(source)) if planted.stream]


def test_gpt_disk_with_fat32_and_ext4_all_planted_files_found(gpt_disk: BuiltDisk) -> None:
    source = ImageSource(gpt_disk.path)
    assert source.facts.partition_scheme == "gpt"
    assert sorted(v.file_system for v in source.facts.volumes) == ["ext4", "fat32"]
    _assert_all_planted_found(source, gpt_disk)
    for offset, length in gpt_disk.gaps:
        assert any(o <= offset and offset + length <= o + n for o, n in source.facts.gaps), (offset, length)


@pytest.mark.parametrize("segment_mib", [None, 10])
def test_the_same_disk_through_e01_gives_identical_items_and_content(gpt_disk: BuiltDisk, tmp_path: Path, segment_mib) -> None:  # noqa: ANN001
    segments = to_e01(gpt_disk.path, tmp_path / "disk", segment_size_mib=segment_mib)
    if segment_mib:
        assert len(segments) > 1
    raw_listing = {p: (i.locator, i.flags, i.size, md5) for p, (i, md5) in _listing(ImageSource(gpt_disk.path)).items()}
    ewf = ImageSource(segments[0])
    assert ewf.container.kind == "ewf" and ewf.container.stored_hashes["md5"] == hashlib.md5(gpt_disk.path.read_bytes()).hexdigest()
    ewf_listing = {p: (i.locator, i.flags, i.size, md5) for p, (i, md5) in _listing(ewf).items()}
    assert ewf_listing == raw_listing


def test_split_raw_sets_open_from_their_first_segment(ntfs_disk: BuiltDisk, tmp_path: Path) -> None:
    for style in ("numeric", "alpha"):
        segments = to_split_raw(ntfs_disk.path, tmp_path / style / "disk", segment_size_mib=4, style=style)
        source = ImageSource(segments[0])
        assert source.container.kind == "split-raw" and len(source.container.segments) == len(segments)
        _assert_all_planted_found(source, ntfs_disk)


def test_a_partition_table_pointing_past_the_end_is_reported_and_the_rest_still_scanned(tmp_path: Path) -> None:
    files = [PlantedFile("a/known.bin", random_bytes(1, 5000))]
    disk = build_disk(tmp_path / "disk.img", "mbr", [("fat16", 8, files), ("fat16", 8, files)])
    truncated = tmp_path / "truncated.img"
    second = disk.partitions[1]
    truncated.write_bytes(disk.path.read_bytes()[: second.start_offset + second.size // 2])
    source = ImageSource(truncated)
    assert any("past the end" in p for p in source.facts.problems)
    listing = _listing(source)
    first = f"vol{source.facts.volumes[0].index}@{disk.partitions[0].start_offset}/a/known.bin"
    assert listing[first][1] == files[0].md5


def test_a_disk_with_no_partition_table_is_one_file_system(tmp_path: Path) -> None:
    files = [PlantedFile("DCIM/100/img.bin", random_bytes(2, 3000)), PlantedFile("gone.bin", random_bytes(3, 3000), deleted=True)]
    disk = build_disk(tmp_path / "card.img", "none", [("exfat", 8, files)])
    source = ImageSource(disk.path)
    assert source.facts.partition_scheme == "none" and source.facts.volumes[0].file_system == "exfat"
    listing = _listing(source)
    part = disk.partitions[0]
    for planted in files:
        item, md5 = listing[part.listed_path(planted)]
        assert md5 == planted.md5 and (ItemFlag.DELETED in item.flags) == planted.deleted


def test_a_directory_that_contains_itself_ends_the_walk(tmp_path: Path) -> None:
    disk = build_disk(tmp_path / "loop.img", "none", [("fat16", 8, [PlantedFile("a/b/c.bin", random_bytes(1, 100))])])
    import pytsk3

    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(disk.path)))
    folder_a = fs.open("/a")
    run = next(iter(next(iter(folder_a)))).addr  # first cluster run of folder a, in file-system blocks
    sector = run * fs.info.block_size
    image = bytearray(disk.path.read_bytes())
    entry = image.index(b"B          ", sector)
    first_cluster_of_a = int.from_bytes(image[entry + 26 : entry + 28], "little") - 0  # b's own cluster
    a_cluster = int.from_bytes(image[image.index(b"A          ") + 26 : image.index(b"A          ") + 28], "little")
    assert first_cluster_of_a != a_cluster
    image[entry + 26 : entry + 28] = a_cluster.to_bytes(2, "little")  # b now points back at a: a/b/b/b/...
    looped = tmp_path / "looped.img"
    looped.write_bytes(bytes(image))
    paths = [e.path for e in ImageSource(looped).walk() if isinstance(e, Item)]
    assert "a/b/c.bin" not in paths and len(paths) < 50, paths
    assert "a/b/b/b/b/b/b" not in " ".join(paths)


def test_damaged_file_table_records_are_reported_and_the_walk_goes_on(ntfs_disk: BuiltDisk, tmp_path: Path) -> None:
    import pytsk3

    part = ntfs_disk.partitions[0]
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(ntfs_disk.path)), offset=part.start_offset)
    mft = fs.open_meta(inode=0)
    first_run = next(r for a in mft if int(a.info.type) == 128 for r in a)
    mft_offset = part.start_offset + first_run.addr * fs.info.block_size
    image = bytearray(ntfs_disk.path.read_bytes())
    for record in range(64, 80):  # user files' records: overwrite their headers with noise
        start = mft_offset + record * 1024
        image[start : start + 64] = random_bytes(record, 64)
    damaged = tmp_path / "damaged.img"
    damaged.write_bytes(bytes(image))
    source = ImageSource(damaged)
    entries = list(source.walk())
    paths = {e.path.split("/", 1)[-1] for e in entries if isinstance(e, Item)}
    assert "$MFT" in paths  # system files are still there


def test_several_deleted_files_in_one_ntfs_folder_are_all_deleted_items(tmp_path: Path) -> None:
    files = [PlantedFile(f"Users/a/Pictures/{n}.bin", random_bytes(40 + n, 6000), deleted=n % 2 == 0) for n in range(6)]
    files.append(PlantedFile("Users/a/Pictures/keep.bin", random_bytes(50, 6000)))
    disk = build_disk(tmp_path / "ntfs.img", "mbr", [("ntfs", 8, files)])
    _assert_all_planted_found(ImageSource(disk.path), disk)
