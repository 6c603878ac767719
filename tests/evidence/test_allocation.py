"""Allocation maps: every byte a container's media holds lies in a stored run, read from the format's own table, and
what it does not store (most of a media claimed far beyond its file) is left out; tables that do not add up give no
map, and carving is then bounded by what the files could hold."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import pytsk3

from fieldlab.evidence import allocation
from fieldlab.evidence.allocation import MAX_INFLATION, Allocation, read_allocation
from fieldlab.evidence.containers import MediaReader, open_container
from fieldlab.evidence.media_claim import carving_parts, media_claim
from fieldlab.evidence.unallocated import unallocated_runs
from fieldlab.evidence.verify import verify_media
from tests.conftest import REALDATA
from tests.evidence.chain_builders import chain, run
from tests.evidence.disk_builders import PlantedFile, build_disk

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
PLASO = REALDATA / "log2timeline__plaso" / "test_data"
MIB = 1 << 20


def _map(media: MediaReader) -> Allocation:
    paths = tuple(link.path for link in media.info.chain) or media.info.segments
    found = read_allocation(media.info.kind, paths, media.size)
    assert found.allocation is not None, found.problem
    return found.allocation


def _unmapped_data(media: MediaReader, allocation: Allocation) -> list[int]:
    """Offsets of 512-byte sectors of the media holding a non-zero byte outside every stored run."""
    data = np.frombuffer(media.read(0, media.size), dtype=np.uint8)
    sectors = np.flatnonzero(np.pad(data, (0, -len(data) % 512)).reshape(-1, 512).any(axis=1)) * 512
    stored = np.zeros(len(sectors), dtype=bool)
    for start, length in allocation.runs:
        stored |= (sectors >= start) & (sectors < start + length)
    return sectors[~stored].tolist()


@pytest.mark.parametrize("image", [
    DFVFS / "ext2.qcow2", DFVFS / "ext2.vhd", DFVFS / "ext2.vmdk", DFVFS / "hfsplus_zlib.dmg", DFVFS / "image.vhd",
    DFVFS / "lvm.qcow2", DFVFS / "windows_volume.qcow2", PLASO / "image.qcow2", PLASO / "image.vmdk",
    PLASO / "vsstest.qcow2",
], ids=lambda p: p.name)
def test_every_byte_of_a_real_containers_media_lies_in_its_map(image: Path) -> None:
    media = open_container(image)
    try:
        allocation = _map(media)
        assert _unmapped_data(media, allocation) == []
        assert 0 < allocation.stored <= media.size
    finally:
        media.close()


def _scattered_raw(path: Path, size: int, places: list[int]) -> dict[int, bytes]:
    """A sparse raw media of ``size`` bytes with 64 KiB of non-repeating data at each of ``places``."""
    written = {offset: b"".join(hashlib.sha256(b"%d/%d" % (offset, i)).digest() for i in range(2048))
               for offset in places}
    with path.open("wb") as f:
        f.truncate(size)
        for offset, data in written.items():
            f.seek(offset)
            f.write(data)
    return written


@pytest.mark.parametrize("fmt, options", [
    ("qcow2", []), ("qcow2", ["-c"]), ("vpc", []), ("vhdx", []), ("vmdk", []),
    ("vmdk", ["-o", "subformat=streamOptimized"]), ("vmdk", ["-o", "subformat=twoGbMaxExtentSparse"]), ("vdi", []),
], ids=["qcow2", "qcow2-compressed", "vhd", "vhdx", "vmdk", "vmdk-stream", "vmdk-split", "vdi"])
def test_qemu_images_map_their_data_and_leave_out_what_was_never_written(tmp_path: Path, fmt: str,
                                                                         options: list[str]) -> None:
    raw = tmp_path / "media.raw"
    _scattered_raw(raw, 256 * MIB, [0, 3 * MIB + 4096, 200 * MIB])
    image = tmp_path / f"disk.{fmt}"
    run("qemu-img", "convert", "-f", "raw", "-O", fmt, *options, str(raw), str(image))
    media = open_container(image)
    try:
        allocation = _map(media)
        assert _unmapped_data(media, allocation) == []
        assert list(allocation.clip(64 * MIB, 128 * MIB)) == []  # never written: not stored, whatever the block size
        assert allocation.stored <= 3 * 32 * MIB + 2 * MIB  # three written places, a format block each at most
    finally:
        media.close()


def _real_vhd_chain(folder: Path) -> list[Path]:
    """dfvfs's differencing VHD and its parent (qemu-img makes no differencing VHD)."""
    folder.mkdir()
    for name in ("image.vhd", "image-differential.vhd"):
        shutil.copyfile(DFVFS / name, folder / name)
    return [folder / "image.vhd", folder / "image-differential.vhd"]


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vhd", "vdi"])
def test_a_differencing_chains_map_joins_every_layers_map(tmp_path: Path, fmt: str) -> None:
    images = (_real_vhd_chain(tmp_path / "chain") if fmt == "vhd" else
              chain(tmp_path / "chain", fmt, [{"BASE.TXT": b"base " * 5000}, {"CHILD.TXT": b"child " * 7000}]))
    media = open_container(images[-1])
    try:
        assert len(media.info.chain) == 2
        allocation = _map(media)
        assert _unmapped_data(media, allocation) == []
    finally:
        media.close()


def test_a_sparse_raw_files_holes_are_left_out(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    _scattered_raw(raw, 512 * MIB, [0, 300 * MIB])
    media = open_container(raw)
    try:
        allocation = _map(media)
        assert _unmapped_data(media, allocation) == []
        assert list(allocation.clip(10 * MIB, 280 * MIB)) == []
    finally:
        media.close()


def _qcow2_header(image: Path) -> tuple[int, int, int]:
    """(cluster size, L1 entries, L1 offset) of a QCOW2 file."""
    header = image.read_bytes()[:104]
    return 1 << struct.unpack_from(">I", header, 20)[0], *struct.unpack_from(">IQ", header, 36)


def test_two_l2_tables_at_one_place_give_no_map_and_the_files_bound_carving(tmp_path: Path) -> None:
    image = tmp_path / "forged.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(image), "1T")
    run("qemu-io", "-f", "qcow2", "-c", "write -q -P 0x41 0 64k", str(image))
    _, entries, l1_offset = _qcow2_header(image)
    data = bytearray(image.read_bytes())
    first = data[l1_offset:l1_offset + 8]
    for index in range(1, 4096):  # every L1 entry names the one L2 table: a terabyte mapped onto 64 KiB
        data[l1_offset + 8 * index:l1_offset + 8 * index + 8] = first
    image.write_bytes(bytes(data))
    media = open_container(image)
    try:
        found = read_allocation("qcow2", media.info.segments, media.size)
        assert found.allocation is None
        assert found.problem == "its allocation table (forged.qcow2) could not be used: two L2 tables are said to lie at one place"
        claim = media_claim(media.info)
        assert claim.read_limit == MAX_INFLATION * image.stat().st_size
        parts = carving_parts([("gap", 0, media.size)], found.allocation, claim.read_limit)
        assert parts == [("gap", 0, claim.read_limit)]
    finally:
        media.close()


def test_an_l1_table_past_the_end_of_the_file_gives_no_map(tmp_path: Path) -> None:
    image = tmp_path / "cut.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(image), "1P")
    data = bytearray(image.read_bytes())
    struct.pack_into(">Q", data, 40, len(data) - 4096)  # the L1 table (16 MiB) said to start 4 KiB before the end
    image.write_bytes(bytes(data))
    found = read_allocation("qcow2", (str(image),), 1 << 50)
    assert found.allocation is None and found.problem is not None
    assert "the L1 table (16,777,216 bytes at" in found.problem and "lies outside the file" in found.problem


def test_a_vmdk_descriptor_listing_one_extent_file_twice_gives_no_map(tmp_path: Path) -> None:
    descriptor = tmp_path / "split.vmdk"
    run("qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", str(descriptor), "3G")
    descriptor.write_text(descriptor.read_text().replace("split-s002.vmdk", "split-s001.vmdk"))
    media = open_container(descriptor)
    try:
        found = read_allocation("vmdk", media.info.segments, media.size)
    finally:
        media.close()
    assert found.allocation is None
    assert found.problem == ("its allocation table (split.vmdk) could not be used: its descriptor lists the extent "
                             "file 'split-s001.vmdk' twice")


def test_carving_parts_are_the_stored_parts_of_each_region_in_media_order() -> None:
    allocation = Allocation(((0, 4096), (10 * MIB, MIB), (1 << 40, 2 * MIB)))
    regions = [("unallocated", 10 * MIB + 512, 8 * MIB), ("gap", 0, 1 << 50)]
    assert carving_parts(regions, allocation, None) == [
        ("gap", 0, 4096), ("gap", 10 * MIB, MIB), ("unallocated", 10 * MIB + 512, MIB - 512),
        ("gap", 1 << 40, 2 * MIB)]
    assert carving_parts(regions, allocation, 4096 + MIB) == [("gap", 0, 4096), ("gap", 10 * MIB, MIB)]


def test_a_media_claimed_far_beyond_its_file_is_not_hashed_without_a_stored_hash(tmp_path: Path) -> None:
    image = tmp_path / "huge.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(image), "1P")
    media = open_container(image)
    try:
        result = verify_media(media)
    finally:
        media.close()
    assert (result.state, result.computed) == ("no stored hash", {})
    assert "1,125,899,906,842,624 bytes" in result.message and "not hashed" in result.message


def test_free_runs_are_looked_for_only_inside_the_parts_asked_for(tmp_path: Path) -> None:
    disk = build_disk(tmp_path / "disk.raw", "none", [("ext4", 40, [PlantedFile("a.txt", b"a" * 70000)])])
    image = pytsk3.Img_Info(str(disk.path))
    fs = pytsk3.FS_Info(image)

    def runs(within: list[tuple[int, int]] | None) -> list[tuple[int, int]]:
        return list(unallocated_runs(fs, "ext4", 0, disk.path.stat().st_size, lambda o, n: image.read(o, n),
                                     within=within))

    every = runs(None)
    assert len(every) >= 2
    first_end = every[0][0] + every[0][1]
    last_start, last_length = every[-1]
    assert last_length > 80000
    asked = [(first_end - 4096, 8192), (last_start + 8192, 65536)]  # the first run's end and beyond; inside the last
    assert runs(asked) == [(first_end - 4096, 4096), (last_start + 8192, 65536)]
    assert runs([(first_end, every[1][0] - first_end)]) == []  # between two free runs: nothing free
    assert runs([]) == []


def test_a_raw_file_whose_file_system_cannot_say_where_its_holes_are_counts_as_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\1" * 4096)
    real_lseek = os.lseek

    def unsupported(fd: int, position: int, how: int) -> int:
        if how == os.SEEK_DATA:
            raise OSError(errno.EINVAL, "SEEK_DATA not supported")
        return real_lseek(fd, position, how)

    monkeypatch.setattr(os, "lseek", unsupported)
    assert allocation._raw_runs(image, 4096) == [(0, 4096)]
