"""Apple disk images (UDIF .dmg) as evidence: dfvfs's zlib-compressed .dmg of a GPT disk holding an HFS+ volume, read
through libmodi, checked against The Sleuth Kit's own tools on the media, and the same file cut short or damaged.

No Debian package makes .dmg files (dmg2img only converts them, and its 1.6.7 writes this one's GPT garbled and
15,872 bytes short), so every case here is the real file or a damaged copy of it."""

from __future__ import annotations

import bz2
import hashlib
import plistlib
import struct
from pathlib import Path

import pymodi
import pytest

from fieldlab.evidence.containers import open_container
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.sources import describe_source
from fieldlab.evidence.unrecognised_volume import why_no_file_system
from fieldlab.evidence.verify import verify_media
from fieldlab.problems import ProblemKind
from tests.conftest import REALDATA
from tests.evidence.test_image_realdata import EXT2_SHA256, _content, _sleuth_kit_digests

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
DMG = DFVFS / "hfsplus_zlib.dmg"
HFS_OFFSET = 40 * 512  # the GPT's one partition, "disk image" (Apple_HFS)
TRAILER = 512


def _media(tmp_path: Path) -> Path:
    """The media as libmodi itself gives it, for the system's Sleuth Kit to read."""
    handle = pymodi.handle()
    handle.open(str(DMG), "r")
    media = tmp_path / "media.raw"
    media.write_bytes(handle.read_buffer_at_offset(handle.get_media_size(), 0))
    handle.close()
    return media


def _walk(image: Path) -> tuple[ImageSource, list[Item], list[WalkError]]:
    source = ImageSource(image)
    entries = list(source.walk())
    return (source, [e for e in entries if isinstance(e, Item)], [e for e in entries if isinstance(e, WalkError)])


def _damaged(tmp_path: Path, change: dict[int, bytes]) -> Path:
    data = bytearray(DMG.read_bytes())
    for offset, new in change.items():
        data[offset:offset + len(new)] = new
    copy = tmp_path / "damaged.dmg"
    copy.write_bytes(bytes(data))
    return copy


def _trailer_field(offset: int, fmt: str) -> int:
    data = DMG.read_bytes()
    return int(struct.unpack_from(fmt, data, len(data) - TRAILER + offset)[0])


def _chunk(first_sector: int) -> tuple[int, int]:
    """(offset, length) in the file of the compressed chunk holding ``first_sector``, from the plist's block tables."""
    data = DMG.read_bytes()
    plist = plistlib.loads(data[_trailer_field(216, ">Q"):][:_trailer_field(224, ">Q")])
    for block in plist["resource-fork"]["blkx"]:
        table = block["Data"]
        start, count = struct.unpack_from(">Q", table, 8)[0], struct.unpack_from(">I", table, 200)[0]
        for index in range(count):
            kind, _, sector, sectors, offset, length = struct.unpack_from(">IIQQQQ", table, 204 + 40 * index)
            if kind == 0x80000005 and start + sector <= first_sector < start + sector + sectors:
                return offset, length
    raise AssertionError(f"no zlib chunk holds sector {first_sector}")


def test_a_zlib_dmg_is_read_as_its_gpt_disk_with_the_hfsplus_volume_inside() -> None:
    source = ImageSource(DMG)
    try:
        assert source.container.kind == "dmg" and source.container.segments == (str(DMG),)
        assert source.facts.partition_scheme == "gpt" and source.facts.problems == []
        [volume] = source.facts.volumes
        assert (volume.offset, volume.description, volume.file_system, volume.problem) == (
            HFS_OFFSET, "disk image", "hfs", None)
    finally:
        source.close()


def test_every_file_of_the_dmg_is_listed_and_read_as_the_sleuth_kit_reads_the_media(tmp_path: Path) -> None:
    expected = _sleuth_kit_digests(_media(tmp_path), offset=HFS_OFFSET // 512, algorithm="sha1")
    source, items, errors = _walk(DMG)
    try:
        assert errors == []
        prefix = f"vol4@{HFS_OFFSET}/"
        listed = {item.path.removeprefix(prefix): item for item in items}  # folders are not items
        assert set(listed) == set(expected)  # the HFS+ metadata files, three files, a resource fork, a link
        assert {path: _content(source, listed[path], "sha1") for path in expected} == expected
        # and the files are those dfvfs put in every image of this set
        assert {p: _content(source, listed[p], "sha256") for p in EXT2_SHA256} == EXT2_SHA256
    finally:
        source.close()


def test_the_dmg_has_no_stored_hash_so_verification_hashes_the_media_and_says_so(tmp_path: Path) -> None:
    media = open_container(DMG)
    try:
        result = verify_media(media)
    finally:
        media.close()
    assert result.state == "no stored hash"
    assert result.computed["sha1"] == hashlib.sha1(_media(tmp_path).read_bytes()).hexdigest()


@pytest.mark.parametrize("cut", ["last byte", "trailer", "half the plist", "inside the chunks", "first chunk"])
def test_a_dmg_cut_short_is_named_as_compressed_data_without_its_trailer(tmp_path: Path, cut: str) -> None:
    data = DMG.read_bytes()
    plist_start, plist_length = _trailer_field(216, ">Q"), _trailer_field(224, ">Q")
    keep = {"last byte": len(data) - 1, "trailer": len(data) - TRAILER, "half the plist": plist_start + plist_length // 2,
            "inside the chunks": plist_start // 2, "first chunk": 100}[cut]
    short = tmp_path / "cut.dmg"
    short.write_bytes(data[:keep])
    source, items, errors = _walk(short)
    source.close()
    assert source.container.kind == "raw" and items == []
    [error] = errors
    assert error.message.startswith("zlib-compressed data from its first byte, as an Apple disk image (UDIF .dmg) "
                                    "starts: if it is one, its trailer is cut off or damaged")


def test_a_trailer_whose_mark_is_gone_reads_like_a_cut_dmg(tmp_path: Path) -> None:
    damaged = _damaged(tmp_path, {len(DMG.read_bytes()) - TRAILER: b"\0\0\0\0"})
    source, items, errors = _walk(damaged)
    source.close()
    assert items == [] and [e.message[:30] for e in errors] == ["zlib-compressed data from its "]


@pytest.mark.parametrize("field, value, why", [
    (216, struct.pack(">Q", 1 << 40), "unable to read UDIF XML plist"),  # the plist's offset past the end
    (224, struct.pack(">Q", 1 << 40), "unable to read UDIF XML plist"),  # its length past the end
    (224, struct.pack(">Q", 0), "its chunk tables give 11,984 bytes of media, but reads of them end before that"),
])
def test_a_damaged_trailer_is_a_damaged_problem_and_the_file_is_read_as_raw_bytes(
        tmp_path: Path, field: int, value: bytes, why: str) -> None:
    damaged = _damaged(tmp_path, {len(DMG.read_bytes()) - TRAILER + field: value})
    source, items, errors = _walk(damaged)
    source.close()
    assert source.container.kind == "raw" and items == []
    first, volume = errors
    assert first.kind is ProblemKind.DAMAGED and why in first.message
    assert first.message.startswith("an Apple disk image (UDIF .dmg) that cannot be read as one (")
    assert first.message.endswith("read as raw bytes, so only what it holds uncompressed can be found")
    assert volume.message.startswith("an Apple disk image (UDIF .dmg) not read as one: a .dmg given as the exhibit "
                                     "is read unless its trailer or chunk tables are damaged")


def test_a_damaged_plist_is_a_damaged_problem(tmp_path: Path) -> None:
    damaged = _damaged(tmp_path, {_trailer_field(216, ">Q") + 300: b"<<<<"})
    source, _, errors = _walk(damaged)
    source.close()
    assert errors[0].kind is ProblemKind.DAMAGED and "unable to parse XML" in errors[0].message


def test_a_trailer_stating_another_media_size_is_recorded_and_the_chunk_tables_read(tmp_path: Path) -> None:
    damaged = _damaged(tmp_path, {len(DMG.read_bytes()) - TRAILER + 492: struct.pack(">Q", 1 << 40)})
    source, items, errors = _walk(damaged)
    try:
        assert source.container.kind == "dmg" and source.container.media_size == 3817 * 512
        assert [(e.kind, e.message) for e in errors] == [(ProblemKind.DAMAGED, (
            "its trailer says the media is 562,949,953,421,312 bytes, its chunk tables 1,954,304: read as the chunk "
            "tables say"))]
        passwords = next(i for i in items if i.path.endswith("/passwords.txt"))
        assert _content(source, passwords, "sha256") == EXT2_SHA256["passwords.txt"]
    finally:
        source.close()


def test_a_segmented_dmg_is_named_unsupported_and_read_as_raw_bytes(tmp_path: Path) -> None:
    damaged = _damaged(tmp_path, {len(DMG.read_bytes()) - TRAILER + 56: struct.pack(">II", 1, 3)})
    source, items, errors = _walk(damaged)
    source.close()
    assert source.container.kind == "raw" and items == []
    assert (errors[0].kind, errors[0].message) == (ProblemKind.UNSUPPORTED, (
        "an Apple disk image (UDIF .dmg) that cannot be read as one (segment 1 of an image in 3 segments (.dmgpart "
        "files), which libmodi does not read): read as raw bytes, so only what it holds uncompressed can be found"))


def test_a_chunk_that_fails_to_inflate_is_a_read_error_there_and_nowhere_else(tmp_path: Path) -> None:
    offset, length = _chunk(HFS_OFFSET // 512)  # the chunk holding the HFS+ volume header, catalog and files
    damaged = _damaged(tmp_path, {offset + length // 2: b"\xff" * 16})
    media = open_container(damaged)
    try:
        with pytest.raises(OSError, match="unable to read data"):
            media.read(HFS_OFFSET, 4096)
        good = open_container(DMG)
        assert media.read(media.size - 512, 512) == good.read(good.size - 512, 512)  # the backup GPT header
        good.close()
    finally:
        media.close()
    source, items, errors = _walk(damaged)
    source.close()
    assert items == []
    [error] = errors
    assert error.kind is ProblemKind.DAMAGED
    assert error.message.startswith("a read failed while its file system was opened (pymodi_handle_read_buffer_at_"
                                    "offset: unable to read data.")


def test_a_damaged_last_chunk_says_the_end_is_unreadable_and_the_volume_is_still_walked(tmp_path: Path) -> None:
    media = open_container(DMG)
    last_sector = media.size // 512 - 1
    media.close()
    offset, length = _chunk(last_sector)  # the backup GPT header
    source, items, errors = _walk(_damaged(tmp_path, {offset + length // 2: b"\xff" * 8}))
    source.close()
    assert [e.message[:48] for e in errors] == ["the image is incomplete: its end cannot be read "]
    assert {i.path.removeprefix(f"vol4@{HFS_OFFSET}/") for i in items} >= set(EXT2_SHA256)


def _forged_after(disk: bytes) -> bytes:
    """``disk`` followed by the whole .dmg, its chunk offsets (libmodi takes them from the file's start) and plist
    offset moved past the disk: a raw disk whose end was made to look like a .dmg."""
    data = DMG.read_bytes()
    plist_start, plist_length = _trailer_field(216, ">Q"), _trailer_field(224, ">Q")
    plist = plistlib.loads(data[plist_start:plist_start + plist_length])
    for block in plist["resource-fork"]["blkx"]:
        table = bytearray(block["Data"])
        for index in range(struct.unpack_from(">I", table, 200)[0]):
            entry = 204 + 40 * index
            struct.pack_into(">Q", table, entry + 24, struct.unpack_from(">Q", table, entry + 24)[0] + len(disk))
        block["Data"] = bytes(table)
    new_plist = plistlib.dumps(plist)
    trailer = bytearray(data[-TRAILER:])
    struct.pack_into(">QQ", trailer, 216, len(disk) + plist_start, len(new_plist))
    return disk + data[:plist_start] + new_plist + bytes(trailer)


def test_a_raw_disk_ending_like_a_dmg_is_read_as_the_dmg_and_the_file_system_it_hides_is_named(tmp_path: Path) -> None:
    disk = b"".join((DFVFS / f"ext2.splitraw.{n:03d}").read_bytes() for n in range(2))  # ext2 from its first byte
    forged = tmp_path / "usb.dd"
    forged.write_bytes(_forged_after(disk))
    source, items, errors = _walk(forged)
    source.close()
    assert source.container.kind == "dmg"
    assert {i.path.removeprefix(f"vol4@{HFS_OFFSET}/") for i in items} >= set(EXT2_SHA256)  # the forged .dmg's files
    assert [(e.kind, e.message) for e in errors] == [(ProblemKind.DAMAGED, (
        "its own bytes hold a file system (ext2) from the first byte, which its media as a .dmg does not start with: a "
        "raw disk whose end was made to look like a .dmg trailer reads so. Only the .dmg's media is scanned; a copy "
        "without its last 512 bytes is read as a raw disk"))]
    copy = tmp_path / "usb-without-trailer.dd"
    copy.write_bytes(forged.read_bytes()[:-TRAILER])
    source, items, _ = _walk(copy)
    source.close()
    assert source.container.kind == "raw" and {i.path for i in items} >= set(EXT2_SHA256)


def test_a_file_ending_with_a_udif_trailer_is_an_image_even_if_it_starts_like_a_bzip2_stream(tmp_path: Path) -> None:
    # a .dmg of bzip2 chunks starts with one: read as a compressed stream, only its first chunk would be scanned
    dmg = tmp_path / "bzip2.dmg"
    dmg.write_bytes(bz2.compress(bytes(4096)) + DMG.read_bytes()[-TRAILER:])
    assert describe_source(dmg).kind == "image"
    plain = tmp_path / "plain.bz2"
    plain.write_bytes(bz2.compress(bytes(4096)))
    assert describe_source(plain).kind == "file"


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


@pytest.mark.parametrize("head, words", [
    (bz2.compress(bytes(8192)), "bzip2-compressed data from its first byte, as an Apple disk image"),
    (b"bvx2" + bytes(8192), "LZFSE-compressed data from its first byte, as an Apple disk image"),
    (b"encrcdsa" + bytes(8192), "an encrypted Apple disk image (.dmg): not read (unsupported)"),
    (b"\x78\x01" + bytes(8192), "no file system recognised"),  # a zlib header that inflates nothing is no mark
])
def test_what_is_left_of_a_dmg_is_named_by_its_first_bytes(head: bytes, words: str) -> None:
    assert why_no_file_system(OSError("Unable to open the image as a file system"), _Bytes(head)).startswith(words)
