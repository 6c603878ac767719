"""VirtualBox VDI disk images read as the disk they hold: qemu-img's dynamic and fixed VDIs of raw disks the builders
make give the raw disk byte for byte, and copies edited to be hostile give a clear error or a named problem."""

from __future__ import annotations

import random
import struct
import uuid
from pathlib import Path

import pytest

from fieldlab.evidence.allocation import read_allocation
from fieldlab.evidence.containers import ContainerError, MediaReader, open_container
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag
from fieldlab.problems import ProblemKind
from tests.evidence.chain_builders import run, vdi_child
from tests.evidence.disk_builders import PlantedFile, build_disk

MIB = 1 << 20
MAP_OFFSET, DATA_OFFSET, DISK_SIZE, BLOCKS = 0x154, 0x158, 0x170, 0x180  # header fields, from the file's start


@pytest.fixture(scope="module")
def raw_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MBR disk with a FAT32 and an ext4 partition, one file deleted: 1 MiB gaps of zeros between them, which a
    dynamic VDI leaves unstored."""
    folder = tmp_path_factory.mktemp("vdi")
    files = [PlantedFile("Pictures/kept.bin", random.Random(1).randbytes(300_000)),
             PlantedFile("Pictures/gone.bin", random.Random(2).randbytes(200_000), deleted=True)]
    return build_disk(folder / "disk.raw", "mbr", [("fat32", 40, files), ("ext4", 16, files)]).path


def _vdi(raw: Path, folder: Path, *options: str) -> Path:
    image = folder / f"disk{'-'.join(options)}.vdi"
    run("qemu-img", "convert", "-f", "raw", "-O", "vdi", *options, str(raw), str(image))
    return image


def _edited(image: Path, folder: Path, changes: dict[int, bytes], cut: int | None = None) -> Path:
    data = bytearray(image.read_bytes())
    for offset, new in changes.items():
        data[offset:offset + len(new)] = new
    copy = folder / "edited.vdi"
    copy.write_bytes(bytes(data[:cut]))
    return copy


def _field(image: Path, offset: int, fmt: str = "<I") -> int:
    return struct.unpack_from(fmt, image.read_bytes(), offset)[0]


@pytest.mark.parametrize("options", [(), ("-o", "static=on")], ids=["dynamic", "fixed"])
def test_every_byte_of_the_virtual_disk_is_the_raw_disks(raw_disk: Path, tmp_path: Path, options: tuple[str, ...]) -> None:
    image = _vdi(raw_disk, tmp_path, *options)
    raw = raw_disk.read_bytes()
    media = open_container(image)
    try:
        assert (media.info.kind, media.size, media.info.problems) == ("vdi", len(raw), ())
        assert media.read(0, media.size) == raw
        draw = random.Random(7)
        for _ in range(200):  # reads across block boundaries, of any length
            offset = draw.randrange(len(raw))
            size = draw.choice([1, 511, 4096, MIB - 1, MIB + 3, 3 * MIB])
            assert media.read(offset, size) == raw[offset:offset + size]
    finally:
        media.close()


def test_a_dynamic_vdis_map_leaves_out_what_was_never_written(raw_disk: Path, tmp_path: Path) -> None:
    image = tmp_path / "sparse.vdi"
    raw = tmp_path / "sparse.raw"
    with raw.open("wb") as f:
        f.truncate(64 * MIB)
        f.seek(5 * MIB + 100)
        f.write(b"written")
    run("qemu-img", "convert", "-f", "raw", "-O", "vdi", str(raw), str(image))
    media = open_container(image)
    try:
        found = read_allocation("vdi", media.info.segments, media.size)
        assert found.allocation is not None and found.allocation.runs == ((5 * MIB, MIB),)
        assert media.read(5 * MIB + 100, 7) == b"written" and media.read(0, MIB) == bytes(MIB)
    finally:
        media.close()


def test_the_file_systems_and_the_deleted_file_are_walked(raw_disk: Path, tmp_path: Path) -> None:
    def listing(image: Path) -> set[tuple[str, str, int, bool]]:
        source = ImageSource(image)
        try:
            return {(str(e.locator), e.path, e.size, ItemFlag.DELETED in e.flags) for e in source.walk()
                    if isinstance(e, Item)}
        finally:
            source.close()

    walked = listing(_vdi(raw_disk, tmp_path))
    assert walked == listing(raw_disk)
    assert any(path.endswith("/gone.bin") for _, path, _, deleted in walked if deleted)


def test_a_bad_signature_is_no_vdi(raw_disk: Path, tmp_path: Path) -> None:
    media = open_container(_edited(_vdi(raw_disk, tmp_path), tmp_path, {0x40: b"\x00\x00\x00\x00"}))
    try:
        assert media.info.kind == "raw"
    finally:
        media.close()


@pytest.mark.parametrize("change, said", [
    ({DISK_SIZE: struct.pack("<Q", 1 << 60)}, "a disk of 1,152,921,504,606,846,976 bytes"),
    ({BLOCKS: struct.pack("<I", 0x7FFFFFFF), DISK_SIZE: struct.pack("<Q", 0x7FFFFFFF * MIB)}, "block map"),
    ({MAP_OFFSET: struct.pack("<I", 0xFFFFFF00)}, "block map"),
    ({0x178: struct.pack("<I", 3 * MIB)}, "blocks of 3,145,728"),
    ({0x4C: struct.pack("<I", 9)}, "image type 9"),
    ({DATA_OFFSET: struct.pack("<I", 0x200)}, "overlaps its block map"),
], ids=["absurd-disk-size", "absurd-block-count", "map-past-the-end", "block-size", "type", "data-over-map"])
def test_a_header_that_does_not_add_up_is_a_clear_error(raw_disk: Path, tmp_path: Path, change: dict[int, bytes],
                                                        said: str) -> None:
    with pytest.raises(ContainerError, match=f"^VDI .*{said}"):
        open_container(_edited(_vdi(raw_disk, tmp_path), tmp_path, change))


def test_a_header_cut_short_is_a_clear_error(raw_disk: Path, tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="header is cut short"):
        open_container(_edited(_vdi(raw_disk, tmp_path), tmp_path, {}, cut=0x100))


def _child(base: Path, raw: Path, folder: Path, written: dict[int, bytes], discarded: int) -> Path:
    """A differencing VDI of ``base`` (the VDI of ``raw``) changing the ``written`` blocks, block ``discarded`` marked
    discarded."""
    after = bytearray(raw.read_bytes())
    for block, data in written.items():
        after[block * MIB:(block + 1) * MIB] = data
    child = vdi_child(base, raw.read_bytes(), bytes(after), folder / "changes.vdi")
    discard = {_field(child, MAP_OFFSET) + 4 * discarded: struct.pack("<I", 0xFFFFFFFE)}
    edited = _edited(child, folder, discard)
    child.unlink()
    return edited.rename(folder / "snapshot.vdi")


def test_a_differencing_vdi_reads_through_its_parent_found_by_identifier(raw_disk: Path, tmp_path: Path) -> None:
    (tmp_path / "vm").mkdir()
    base = _vdi(raw_disk, tmp_path / "vm")
    new = random.Random(3).randbytes(MIB)
    child = _child(base, raw_disk, tmp_path / "vm", {5: new}, discarded=6)
    expected = bytearray(raw_disk.read_bytes())
    expected[5 * MIB:6 * MIB], expected[6 * MIB:7 * MIB] = new, bytes(MIB)
    media = open_container(child)
    try:
        assert [Path(link.path).name for link in media.info.chain] == [child.name, base.name]
        assert media.info.chain[0].parent_identifier == media.info.chain[1].identifier
        assert media.read(0, media.size) == bytes(expected)
        found = read_allocation("vdi", tuple(link.path for link in media.info.chain), media.size)
        assert found.allocation is not None and list(found.allocation.clip(5 * MIB, MIB)) == [(5 * MIB, MIB)]
    finally:
        media.close()


def test_a_differencing_vdi_without_its_parent_names_the_identifier_and_fails_to_read(raw_disk: Path,
                                                                                      tmp_path: Path) -> None:
    base = _vdi(raw_disk, tmp_path)
    (tmp_path / "alone").mkdir()
    child = _child(base, raw_disk, tmp_path / "alone", {5: bytes(range(256)) * 4096}, discarded=6)
    media = open_container(child)
    try:
        parent = str(uuid.UUID(bytes_le=base.read_bytes()[0x188:0x198]))
        assert parent in (media.info.missing_parent or "") and "--parent" in (media.info.missing_parent or "")
        assert media.read(5 * MIB, 256) == bytes(range(256))
        with pytest.raises(OSError, match=f"parent VDI {parent}, which is missing"):
            media.read(0, 512)
    finally:
        media.close()
    given = open_container(child, parents=[base])
    try:
        assert given.info.missing_parent is None and given.read(0, 512) == raw_disk.read_bytes()[:512]
    finally:
        given.close()


def _stored_blocks(image: Path) -> list[int]:
    """The block map's data-area indexes, in disk order."""
    data = image.read_bytes()
    offset, count = _field(image, MAP_OFFSET), _field(image, BLOCKS)
    return list(struct.unpack_from(f"<{count}I", data, offset))


def _problems(media: MediaReader) -> dict[ProblemKind, str]:
    return {problem.kind: problem.message for problem in media.info.problems}


def test_truncated_data_reads_as_zeros_and_is_named(raw_disk: Path, tmp_path: Path) -> None:
    image = _vdi(raw_disk, tmp_path)
    raw = raw_disk.read_bytes()
    last = max(range(len(_stored_blocks(image))), key=lambda block: _stored_blocks(image)[block])
    cut = image.stat().st_size - MIB // 2  # half of the last stored block is gone
    media = open_container(_edited(image, tmp_path, {}, cut=cut))
    try:
        assert "1 blocks of its disk" in _problems(media)[ProblemKind.TRUNCATED]
        kept = last * MIB
        assert media.read(kept, MIB // 2) == raw[kept:kept + MIB // 2]
        assert media.read(kept + MIB // 2, MIB // 2) == bytes(MIB // 2)
        assert media.read(0, kept) == raw[:kept]
        found = read_allocation("vdi", media.info.segments, media.size)
        assert found.allocation is not None and not list(found.allocation.clip(kept, MIB))
    finally:
        media.close()


def test_a_block_index_past_the_end_reads_as_zeros_and_is_named(raw_disk: Path, tmp_path: Path) -> None:
    image = _vdi(raw_disk, tmp_path)
    changed = _field(image, MAP_OFFSET)  # block 0: the MBR
    media = open_container(_edited(image, tmp_path, {changed: struct.pack("<I", 0xFFFFFFF0)}))
    try:
        assert "1 blocks of its disk" in _problems(media)[ProblemKind.TRUNCATED]
        assert media.read(0, MIB) == bytes(MIB)
        assert media.read(MIB, MIB) == raw_disk.read_bytes()[MIB:2 * MIB]
    finally:
        media.close()


def test_blocks_sharing_one_stored_block_are_named_and_give_no_map(raw_disk: Path, tmp_path: Path) -> None:
    image = _vdi(raw_disk, tmp_path)
    blocks = _stored_blocks(image)
    forged = {_field(image, MAP_OFFSET) + 4 * block: struct.pack("<I", blocks[0]) for block in range(len(blocks))}
    media = open_container(_edited(image, tmp_path, forged))
    try:
        assert f"gives {len(blocks) - 1:,} blocks" in _problems(media)[ProblemKind.DAMAGED]
        first = raw_disk.read_bytes()[:MIB]
        assert media.read(5 * MIB, MIB) == first  # every block reads the one stored block, as the map says
        found = read_allocation("vdi", media.info.segments, media.size)
        assert found.allocation is None and "at one place" in (found.problem or "")
    finally:
        media.close()
