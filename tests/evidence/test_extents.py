"""Files read by their media runs give exactly the bytes The Sleuth Kit's own read gives, on every real and generated
image at hand, and hostile runs are never followed."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import zipfile
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import pytsk3

from fieldlab.evidence.ewf_chunks import EwfChunkReader
from fieldlab.evidence.extents import (
    MAX_RUNS,
    Extents,
    ExtentsTable,
    VolumePlacement,
    default_stream_extents,
    mft_runs,
)
from fieldlab.evidence.filesystem import ImageFileReader
from fieldlab.evidence.image import ExtentReader, ImageSource
from fieldlab.evidence.item import Item, ItemKind
from fieldlab.evidence.ntfs_record import MAX_ATTRIBUTES, DataSizes, MftRecords, record_size, unnamed_data_sizes
from fieldlab.validation.disks import (
    PlantedFile,
    build_disk,
    random_bytes,
    standard_gpt_fat_ext_disk,
    standard_mbr_ntfs_disk,
    to_e01,
)
from tests.conftest import REALDATA

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
PLASO = REALDATA / "log2timeline__plaso" / "test_data"
DFTT = REALDATA / "sleuthkit__sleuthkit_test_data" / "from_brian"
DFIR_NTFS = REALDATA / "msuhanov__dfir_ntfs" / "test_data"


def _unzipped(archive: Path, tmp_path: Path) -> Path:
    with zipfile.ZipFile(archive) as opened:
        name = next(n for n in opened.namelist() if n.endswith((".dd", ".img", ".raw")))
        opened.extract(name, tmp_path)
    return tmp_path / name


def _gunzipped(archive: Path, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / archive.stem
    with gzip.open(archive) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    return target


def _digest(reader: ImageFileReader) -> tuple[str, int]:
    digest, buffer, total = hashlib.sha1(), bytearray(1 << 16), 0
    while count := reader.readinto(buffer):
        digest.update(buffer[:count])
        total += count
    return digest.hexdigest(), total


def _as_e01(image: Path, tmp_path: Path) -> Path:
    """A raw image acquired as an E01: TSK reads raw images itself, so the runs are used for containers only."""
    if image.suffix.upper() == ".E01":
        return image
    return to_e01(image, tmp_path / "e01" / image.stem, compression="deflate:fast")[0]


def _compare_every_file(image: Path) -> tuple[set[str], int]:
    """Digest every file the walk gave runs for both ways; (paths compared, number of files with content)."""
    source = ImageSource(image)
    try:
        files = [e for e in source.walk() if isinstance(e, Item) and e.kind is ItemKind.FILE]
        compared = set()
        for item in files:
            extents = source.extents.take(item.locator.to_text())
            if extents is None:
                continue
            assert _digest(source.open_extents(extents)) == _digest(source.open_item(item.locator)), item.path
            compared.add(item.path)
        return compared, sum(1 for item in files if item.size > 0)
    finally:
        source.close()


REAL_IMAGES = {
    "dftt-7-undel-ntfs": lambda tmp: _unzipped(DFTT / "7-undel-ntfs.zip", tmp),
    "dftt-8-jpeg-search-ntfs": lambda tmp: _unzipped(DFTT / "8-jpeg-search.zip", tmp),
    "dftt-6-undel-fat": lambda tmp: _unzipped(DFTT / "6-undel-fat.zip", tmp),
    "dftt-2-kwsrch-fat": lambda tmp: _unzipped(DFTT / "2-kwsrch-fat.zip", tmp),
    "dftt-5-fat-daylight": lambda tmp: _unzipped(DFTT / "5-fat-daylight.zip", tmp),
    "dftt-9-fat-label": lambda tmp: _unzipped(DFTT / "9-fat-label.zip", tmp),
    "dftt-4-kwsrch-ext3": lambda tmp: _unzipped(DFTT / "4-kwsrch-ext3.zip", tmp),
    "dfir-ntfs-fat12": lambda tmp: _gunzipped(DFIR_NTFS / "fat12.raw.gz", tmp),
    "dfir-ntfs-exfat": lambda tmp: _gunzipped(DFIR_NTFS / "exfat_win.raw.gz", tmp),
    "dfvfs-ext2-e01": lambda tmp: DFVFS / "ext2.E01",
    "pytsk-ext2-raw": lambda tmp: REALDATA / "py4n6__pytsk" / "test_data" / "image.raw",
    "plaso-ext2-e01": lambda tmp: PLASO / "image.E01",
    "plaso-syslog-ext2": lambda tmp: PLASO / "syslog_image.dd",
}


@pytest.mark.parametrize("name", sorted(REAL_IMAGES))
def test_every_file_of_real_images_reads_the_same_by_runs_as_through_tsk(name: str, tmp_path: Path) -> None:
    compared, with_content = _compare_every_file(_as_e01(REAL_IMAGES[name](tmp_path), tmp_path))
    assert len(compared) >= max(1, with_content - 2)  # named NTFS streams: through TSK


def test_generated_ntfs_fat_and_ext4_disks_acquired_as_e01_read_the_same_by_runs(tmp_path: Path) -> None:
    for disk in (standard_mbr_ntfs_disk(tmp_path / "ntfs"), standard_gpt_fat_ext_disk(tmp_path / "fat-ext")):
        segments = to_e01(disk.path, tmp_path / "e01" / disk.path.stem, compression="deflate:fast")
        compared, _ = _compare_every_file(segments[0])
        planted = {f.path for partition in disk.partitions for f in partition.files
                   if len(f.data) > 4096 and f.stream is None and (not f.deleted or partition.fs_type == "ntfs")}
        assert {path.split("/", 1)[-1] for path in compared} >= planted


def _ntfs_and_its_mft(image: Path, offset: int) -> tuple[list[tuple[int, int]], bytes]:
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)), offset=offset)
    mft = fs.open_meta(inode=0)
    return mft_runs(fs, VolumePlacement(offset, image.stat().st_size - offset)), mft.read_random(0, mft.info.meta.size)


@pytest.mark.parametrize("name", ["dftt-7-undel-ntfs", "dftt-8-jpeg-search-ntfs"])
def test_the_mft_runs_hold_the_mft_tsk_reads(name: str, tmp_path: Path) -> None:
    image = REAL_IMAGES[name](tmp_path)
    runs, mft = _ntfs_and_its_mft(image, 0)
    media = image.read_bytes()
    assert runs and b"".join(media[offset:offset + length] for offset, length in runs)[:len(mft)] == mft


def test_an_e01_walk_inflates_each_chunk_of_the_mft_once_however_small_the_cache(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    # files made in turn in 7 folders: each folder's records are spread over the whole MFT, which outgrows TSK's
    # own 2 MiB cache
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("ntfs", 64, [
        PlantedFile(f"folder{n % 7}/file{n:04}.txt", b"%d" % n) for n in range(3000)])])
    partition = disk.partitions[0]
    runs, _ = _ntfs_and_its_mft(disk.path, partition.start_offset)
    e01 = to_e01(disk.path, tmp_path / "e01" / "disk", compression="deflate:fast")[0]
    monkeypatch.setattr("fieldlab.evidence.ewf_chunks.DEFAULT_CACHE_BYTES", 2 << 15)  # two 32 KiB chunks
    inflated: Counter[int] = Counter()
    inflate = EwfChunkReader._inflate

    def counted(reader: EwfChunkReader, index: int, stored: memoryview, deflated: bool) -> bytes:
        inflated[index] += 1
        return inflate(reader, index, stored, deflated)

    monkeypatch.setattr(EwfChunkReader, "_inflate", counted)
    source = ImageSource(e01)
    inflated.clear()  # what the survey read before the walk
    try:
        walked = [e for e in source.walk() if isinstance(e, Item)]
    finally:
        source.close()
    assert {f.path for f in partition.files} <= {item.path.split("/", 1)[-1] for item in walked}
    chunk = 32 << 10
    mft_chunks = {index for offset, length in runs for index in range(offset // chunk, -(-(offset + length) // chunk))}
    touched = [inflated[index] for index in mft_chunks if inflated[index]]
    assert len(touched) > 4 and max(touched) == 1


class _Media:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]

    def read_into(self, buffer: memoryview, offset: int) -> int:
        data = self.read(offset, len(buffer))
        buffer[:len(data)] = data
        return len(data)


def test_raw_images_are_left_to_tsk_which_reads_them_in_c(tmp_path: Path) -> None:
    assert _compare_every_file(REAL_IMAGES["pytsk-ext2-raw"](tmp_path)) == (set(), 3)


def test_bytes_past_the_initialised_size_read_as_zeros_and_runs_are_joined_in_file_order() -> None:
    media = _Media(bytes(range(256)) * 4)
    extents = Extents(((512, 100), (10, 50)), size=150, initialized=120)
    reader = ExtentReader(media, extents)  # a plain range is all it reads
    buffer = bytearray(7)  # reads cut across both runs and the initialised size
    content = b""
    while count := reader.readinto(buffer):
        content += bytes(buffer[:count])
    assert content == media.data[512:612] + media.data[10:30] + bytes(30)


def test_a_run_past_the_end_of_the_media_is_an_error_of_the_item_not_short_content() -> None:
    reader = ExtentReader(_Media(bytes(100)), Extents(((90, 20),), size=20, initialized=20))
    with pytest.raises(OSError):
        reader.readinto(bytearray(20))


class _Run:
    def __init__(self, addr: int, length: int, offset: int, flags: int = 0) -> None:
        self.addr, self.len, self.offset, self.flags = addr, length, offset, flags


class _Info:
    type, name, flags, size, id = 1, None, 3, 0, 0


class _Attribute:
    """Runs as a hostile file system could claim them (on FAT: no initialised size to read)."""

    def __init__(self, runs: list[_Run], size: int) -> None:
        self.info = _Info()
        self.info.size = size
        self._runs = runs

    def __iter__(self):  # noqa: ANN204
        return iter(self._runs)


@pytest.mark.parametrize("runs, last_block, why", [
    ([_Run(10, 1, 0), _Run(100, 1, 1)], 63, "past the file system's last block"),
    ([_Run(1020, 20, 0)], 1 << 20, "past the volume's bytes on the media"),
    ([_Run(1, 1, 0), _Run(5, 1, 2)], 63, "a gap in the file's run list (TSK fills it with a filler run)"),
    ([_Run(1, 1, 0, flags=2)], 63, "a sparse run"),
    ([_Run(i, 1, i) for i in range(MAX_RUNS + 1)], 1 << 20, "more runs than the cap"),
])
def test_hostile_runs_leave_the_file_to_tsk(runs: list[_Run], last_block: int, why: str) -> None:
    attribute = _Attribute(runs, size=512)
    placement = VolumePlacement(offset=1 << 20, length=max(50, MAX_RUNS + 1) * 512)
    assert default_stream_extents(None, [attribute], 512, "fat32", 512, last_block, placement) is None, why


def test_the_table_of_held_extents_is_bounded_in_files_and_in_resident_bytes() -> None:
    table = ExtentsTable(limit=2)
    for n in range(5):
        table.offer(f"file:{n}", Extents(((n, 1),), 1, 1))
    assert len(table) == 2 and table.take("file:4") is None and table.take("file:0") is not None
    table = ExtentsTable(resident_limit=10)
    for n in range(3):
        table.offer(f"small:{n}", Extents((), 4, 4, b"abcd"))
    assert table.take("small:2") is None and table.take("small:1") is not None
    table.offer("small:3", Extents((), 4, 4, b"abcd"))  # room again once one was taken
    assert table.take("small:3") is not None


def test_ntfs_files_resident_in_their_record_are_handed_on_with_their_content(tmp_path: Path) -> None:
    source = ImageSource(_as_e01(REAL_IMAGES["dftt-7-undel-ntfs"](tmp_path), tmp_path))
    try:
        files = [e for e in source.walk() if isinstance(e, Item) and e.kind is ItemKind.FILE]
        resident = [(item, extents) for item in files
                    if (extents := source.extents.take(item.locator.to_text())) is not None and extents.resident]
        assert resident
        for item, extents in resident:
            assert _digest(source.open_extents(extents)) == _digest(source.open_item(item.locator)), item.path
    finally:
        source.close()



# --- NTFS: the initialised size, from the file's MFT record ---------------------------------------------------------

_USA_OFFSET = 0x30


def _protected(record: bytearray, sequence: bytes = b"\x07\x00") -> bytes:
    """The record as it lies on disk: each 512-byte stride's last two bytes saved in the update sequence array and
    replaced by the sequence number."""
    record[_USA_OFFSET:_USA_OFFSET + 2] = sequence
    for stride in range(len(record) // 512):
        end, saved = (stride + 1) * 512, _USA_OFFSET + 2 * (stride + 1)
        record[saved:saved + 2], record[end - 2:end] = record[end - 2:end], sequence
    return bytes(record)


def _unprotected(record: bytes) -> bytearray:
    fixed = bytearray(record)
    for stride in range(len(fixed) // 512):
        end, saved = (stride + 1) * 512, _USA_OFFSET + 2 * (stride + 1)
        fixed[end - 2:end] = fixed[saved:saved + 2]
    return fixed


def _attribute(kind: int, body: bytes, non_resident: int = 0, name_length: int = 0, flags: int = 0,
               ident: int = 0) -> bytes:
    length = 16 + len(body)
    return struct.pack("<IIBBHHH", kind, length, non_resident, name_length, 0x40, flags, ident) + body


def _data(ident: int = 3, allocated: int = 8192, size: int = 5000, initialized: int = 3000, flags: int = 0,
          name_length: int = 0) -> bytes:
    body = struct.pack("<qqHH4xqqq", 0, 1, 0x40, 0, allocated, size, initialized) + b"\x11\x02\x10" + bytes(5)
    return _attribute(0x80, body, non_resident=1, name_length=name_length, flags=flags, ident=ident)


_STANDARD_INFORMATION = _attribute(0x10, struct.pack("<IHBB", 0x48, 0x18, 0, 0) + bytes(0x48))


def _record(attributes: list[bytes], number: int = 42, size: int = 1024) -> bytearray:
    """An MFT record (fixups not yet applied) holding ``attributes``, then the end marker."""
    body = b"".join(attributes) + struct.pack("<II", 0xFFFFFFFF, 0)
    record, count = bytearray(size), size // 512 + 1
    first = -(-(_USA_OFFSET + 2 * count) // 8) * 8
    struct.pack_into("<4sHHQHHHHII", record, 0, b"FILE", _USA_OFFSET, count, 0, 1, 1, first, 1, first + len(body),
                     size)
    struct.pack_into("<I", record, 0x2C, number)
    record[first:first + len(body)] = body
    return record


def test_the_unnamed_data_sizes_are_read_from_a_sound_record_whatever_its_size() -> None:
    for size in (1024, 4096):
        record = _protected(_record([_STANDARD_INFORMATION, _data(ident=5)], number=42, size=size))
        assert unnamed_data_sizes(record, 42) == DataSizes(attribute_id=5, allocated=8192, size=5000,
                                                           initialized=3000)


def _break_fixup(record: bytearray) -> bytes:
    protected = bytearray(_protected(record))
    protected[1022] ^= 0xFF  # the second stride's check bytes no longer match: a torn write
    return bytes(protected)


def _set_length(index: int, length: int) -> Callable[[bytearray], bytes]:
    def mutate(record: bytearray) -> bytes:
        offset = struct.unpack_from("<H", record, 0x14)[0] + (len(_STANDARD_INFORMATION) if index else 0)
        struct.pack_into("<I", record, offset + 4, length)
        return _protected(record)
    return mutate


def _many_attributes(record: bytearray) -> bytes:
    tiny = _attribute(0x40, bytes(8))  # an object id's header alone: the smallest attribute there is
    return _protected(_record([tiny] * (MAX_ATTRIBUTES + 1) + [_data()], size=4096))


@pytest.mark.parametrize("mutate, why", [
    (_break_fixup, "an update-sequence check that does not match"),
    (_set_length(0, 0), "an attribute of length 0 (a walk that would never move)"),
    (_set_length(1, 0x10000), "an attribute running past the record"),
    (_set_length(1, 0x41), "an attribute length that is not a multiple of 8"),
    (lambda r: _protected(_record([_STANDARD_INFORMATION, _attribute(0x20, bytes(32)), _data()])),
     "an attribute list: the data may be (partly) in another record"),
    (lambda r: _protected(_record([_STANDARD_INFORMATION, _data(), _data(ident=4)])), "two unnamed data streams"),
    (lambda r: _protected(_record([_STANDARD_INFORMATION, _data(name_length=4)])), "only a named stream"),
    (lambda r: _protected(_record([_STANDARD_INFORMATION, _data(flags=0x8000)])), "a sparse stream"),
    (lambda r: _protected(_record([_STANDARD_INFORMATION, _data(initialized=9000)])), "initialised past allocated"),
    (lambda r: _protected(_record([_data()], number=43)), "a record that says it is another one"),
    (lambda r: _protected(_record([_data()]))[:1000], "a short read"),
    (lambda r: b"BAAD" + _protected(r)[4:], "a record marked bad"),
    (_many_attributes, "more attributes than the cap"),
])
def test_a_hostile_or_unexpected_record_gives_no_initialised_size(mutate: Callable[[bytearray], bytes],
                                                                   why: str) -> None:
    record = _record([_STANDARD_INFORMATION, _data()])
    assert unnamed_data_sizes(mutate(record), 42) is None, why


def test_the_record_size_comes_from_the_boot_sector() -> None:
    boot = bytearray(512)
    boot[3:11] = b"NTFS    "
    struct.pack_into("<HB", boot, 0x0B, 512, 8)
    for per_record, expected in ((-10, 1024), (-12, 4096), (2, 8192), (0, None), (-40, None), (3, None)):
        struct.pack_into("<b", boot, 0x40, per_record)
        assert record_size(bytes(boot)) == expected, per_record
    assert record_size(b"\xeb\x52\x90" + b"FAT32   " + bytes(501)) is None


def _patch_initialised_size(image: Path, partition_offset: int, path: str, initialized: int) -> int:
    """Set the initialised size of ``path``'s data in its MFT record, on the raw image, fixups kept valid; returns
    the file's size."""
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)), offset=partition_offset)
    number = fs.open(path).info.meta.addr
    records = MftRecords.open(fs)
    assert records is not None
    cluster = fs.info.block_size
    runs = [run for attribute in fs.open_meta(inode=0) if int(attribute.info.type) == 0x80 for run in attribute]
    position, at = number * records.record_size, None
    for run in runs:  # the record's place on the media, through the $MFT's own runs
        if run.offset * cluster <= position < (run.offset + run.len) * cluster:
            at = partition_offset + (run.addr - run.offset) * cluster + position
    assert at is not None
    with open(image, "r+b") as disk:
        disk.seek(at)
        record = _unprotected(disk.read(records.record_size))
        sequence = bytes(record[_USA_OFFSET:_USA_OFFSET + 2])
        offset = struct.unpack_from("<H", record, 0x14)[0]
        while struct.unpack_from("<I", record, offset)[0] != 0x80:
            offset += struct.unpack_from("<I", record, offset + 4)[0]
        size = struct.unpack_from("<q", record, offset + 0x30)[0]
        struct.pack_into("<q", record, offset + 0x38, initialized)
        disk.seek(at)
        disk.write(_protected(record, sequence))
    return size


def test_an_ntfs_file_initialised_short_of_its_size_reads_the_same_zeros_by_runs_as_through_tsk(
        tmp_path: Path) -> None:
    disk = standard_mbr_ntfs_disk(tmp_path / "ntfs")
    partition = disk.partitions[0]
    planted = next(f for f in partition.files if f.path.endswith("IMG_2041.jpg"))
    size = _patch_initialised_size(disk.path, partition.start_offset, "/" + planted.path, 1000)
    assert size == len(planted.data) > 4096
    source = ImageSource(to_e01(disk.path, tmp_path / "e01" / "ntfs", compression="deflate:fast")[0])
    try:
        item = next(e for e in source.walk() if isinstance(e, Item) and e.path.endswith(planted.path))
        extents = source.extents.take(item.locator.to_text())
        assert extents is not None and not extents.resident and extents.initialized == 1000
        expected = (hashlib.sha1(planted.data[:1000] + bytes(size - 1000)).hexdigest(), size)
        assert _digest(source.open_extents(extents)) == _digest(source.open_item(item.locator)) == expected
    finally:
        source.close()


def _set_exfat_valid_data_length(image: Path, size: int, valid: int) -> None:
    """Give the exFAT file of ``size`` bytes a ValidDataLength of ``valid`` (its stream extension entry), with the
    entry set's checksum recomputed."""
    raw = bytearray(image.read_bytes())
    stream = next(at for at in range(32, len(raw), 32)
                  if raw[at] == 0xC0 and struct.unpack_from("<Q", raw, at + 24)[0] == size)
    struct.pack_into("<Q", raw, stream + 8, valid)
    primary = stream - 32
    assert raw[primary] == 0x85
    entries = raw[primary:primary + 32 * (raw[primary + 1] + 1)]
    checksum = 0
    for index, byte in enumerate(entries):
        if index not in (2, 3):
            checksum = (((checksum << 15) | (checksum >> 1)) + byte) & 0xFFFF
    struct.pack_into("<H", raw, primary + 2, checksum)
    image.write_bytes(raw)


def test_exfat_bytes_past_the_valid_data_length_are_read_as_they_lie_both_ways(tmp_path: Path) -> None:
    """TSK 4.15 does not read exFAT's ValidDataLength: the runs are read whole, as TSK reads them."""
    planted = PlantedFile("DCIM/clip.bin", random_bytes(7, 20_000))
    disk = build_disk(tmp_path / "card.img", "none", [("exfat", 8, [planted])])
    _set_exfat_valid_data_length(disk.path, len(planted.data), 1000)
    source = ImageSource(to_e01(disk.path, tmp_path / "e01" / "card", compression="deflate:fast")[0])
    try:
        item = next(e for e in source.walk() if isinstance(e, Item) and e.path.endswith(planted.path))
        extents = source.extents.take(item.locator.to_text())
        assert extents is not None and extents.initialized == extents.size == len(planted.data)
        expected = (planted.sha1, len(planted.data))
        assert _digest(source.open_extents(extents)) == _digest(source.open_item(item.locator)) == expected
    finally:
        source.close()
