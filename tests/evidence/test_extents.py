"""Files read by their media runs give exactly the bytes The Sleuth Kit's own read gives, on every real and generated
image at hand, and hostile runs are never followed."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from fieldlab.evidence.extents import MAX_RUNS, Extents, ExtentsTable, VolumePlacement, default_stream_extents
from fieldlab.evidence.filesystem import ImageFileReader
from fieldlab.evidence.image import ExtentReader, ImageSource
from fieldlab.evidence.item import Item, ItemKind
from fieldlab.validation.disks import standard_gpt_fat_ext_disk, standard_mbr_ntfs_disk, to_e01
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


class _Media:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


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
    """Runs as a hostile file system could claim them; its initialised size is never reached, as every case
    here must be refused before that."""

    def __init__(self, runs: list[_Run], size: int) -> None:
        self.info = _Info()
        self.info.size = size
        self._runs = runs

    def __iter__(self):  # noqa: ANN204
        return iter(self._runs)


@pytest.mark.parametrize("runs, last_block, why", [
    ([_Run(10, 1, 0), _Run(100, 1, 1)], 63, "past the file system's last block"),
    ([_Run(40, 20, 0)], 1 << 20, "past the volume's bytes on the media"),
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

