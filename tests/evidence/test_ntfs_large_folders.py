"""NTFS folders too large for TSK's quadratic listing: listed from their own $I30 index and the MFT's file names,
giving exactly the items TSK's listing gives (the threshold is set low here, so a few hundred files suffice)."""

from __future__ import annotations

import ctypes
import subprocess
import zipfile
from pathlib import Path

import pytest
import pytsk3

from fieldlab.evidence import filesystem, ntfs_index, ntfs_orphans
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag, WalkError
from fieldlab.evidence.ntfs_index import IndexName, index_allocation_size
from fieldlab.evidence.ntfs_mft_names import MftName, MftNames, large_folders
from fieldlab.evidence.ntfs_orphans import orphan_names
from fieldlab.evidence.ntfs_record import MftRecords
from fieldlab.problems import ProblemKind
from tests.conftest import REALDATA
from tests.evidence.disk_builders import _ntfs_volume

DFTT = REALDATA / "sleuthkit__sleuthkit_test_data" / "from_brian"
FILES = 400  # an $INDEX_ALLOCATION of ~100 KiB
TSK_ONLY = 1 << 40  # a threshold no folder reaches: every folder listed by TSK
EVERY_FOLDER = -1  # every folder listed from its own index, the small ones indexed in their record alone included


@pytest.fixture(scope="module")
def big_folder_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw NTFS volume with ``Pictures`` of 400 files (every 7th deleted, one with a stream), a small folder, and
    an orphan: ``gone/lost.bin`` deleted with its folder, whose MFT record has since been used and freed again (its
    sequence number moved on, so it no longer is the parent ``lost.bin`` names)."""
    image = tmp_path_factory.mktemp("bigdir") / "ntfs.img"
    with image.open("wb") as raw:
        raw.truncate(32 << 20)
    subprocess.run(["mkntfs", "-F", "-f", "-Q", "-q", str(image)], check=True, capture_output=True)
    with _ntfs_volume(image) as volume:
        volume.make_folders("Pictures/x")
        volume.make_folders("small/x")
        volume.make_folders("gone/x")  # x: only its parents are made
        volume.write_file("gone/lost.bin", b"L" * 3000, {})
        for n in range(FILES):
            volume.write_file(f"Pictures/img{n:04d}.jpg", bytes([n % 251]) * (1000 + n), {"Zone": b"z"} if n == 5 else {})
        volume.write_file("small/note.txt", b"note", {})
        for n in range(0, FILES, 7):
            volume.delete(f"Pictures/img{n:04d}.jpg")
        volume.delete("gone/lost.bin")
        volume.delete("gone")
    _move_sequence_on(image, b"gone")
    return image


def _move_sequence_on(image: Path, name: bytes) -> None:
    """Advance the sequence number of the (deleted) record named ``name``, as a reuse and a second delete would."""
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    records = MftRecords.open(fs)
    assert records is not None
    record = next(r for r, first in MftNames.read(records, ()).first_names.items() if first == name)
    mft_start = next(run.addr for attribute in fs.open_meta(inode=0) if int(attribute.info.type) == 0x80
                     for run in attribute) * fs.info.block_size
    with image.open("r+b") as raw:
        raw.seek(mft_start + record * records.record_size + 0x10)
        sequence = int.from_bytes(raw.read(2), "little")
        raw.seek(-2, 1)
        raw.write((sequence + 3).to_bytes(2, "little"))


def _walk(image: Path, threshold: int, monkeypatch: pytest.MonkeyPatch) -> list[Item | WalkError]:
    return _walk_counting(image, threshold, monkeypatch)[0]


def _walk_counting(image: Path, threshold: int,
                   monkeypatch: pytest.MonkeyPatch) -> tuple[list[Item | WalkError], int, int]:
    """The walk's items, and how many folders and orphan searches fieldlab's own reading did (not TSK)."""
    monkeypatch.setattr(filesystem, "LARGE_NTFS_INDEX_BYTES", threshold)
    folders, orphans = [], []
    monkeypatch.setattr(filesystem, "list_ntfs_folder",
                        lambda *a, **k: folders.append(1) or ntfs_index.list_ntfs_folder(*a, **k))
    monkeypatch.setattr(filesystem, "orphan_names",
                        lambda *a, **k: orphans.append(1) or ntfs_orphans.orphan_names(*a, **k))
    return list(ImageSource(image).walk()), len(folders), len(orphans)


def _orphans_last(walked: list[Item | WalkError]) -> list[Item | WalkError]:
    """The walk's items in its order, those of ``$OrphanFiles`` moved after the rest (where the walk lists them)."""
    orphans = [i for i in walked if i.path.startswith("$OrphanFiles")]
    return [i for i in walked if not i.path.startswith("$OrphanFiles")] + orphans


def _index_bytes(image: Path, folder: str) -> int:
    return index_allocation_size(pytsk3.FS_Info(pytsk3.Img_Info(str(image))).open(folder))


def test_a_large_folder_listed_from_its_own_index_gives_the_items_tsk_gives(
        big_folder_volume: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threshold = _index_bytes(big_folder_volume, "/Pictures") - 1
    assert threshold > 2 * _index_bytes(big_folder_volume, "/")  # only Pictures is over it
    tsk, *tsk_counts = _walk_counting(big_folder_volume, TSK_ONLY, monkeypatch)
    own, *own_counts = _walk_counting(big_folder_volume, threshold, monkeypatch)
    assert (tsk_counts, own_counts) == ([0, 0], [1, 1])  # Pictures and $OrphanFiles read by fieldlab
    assert _orphans_last(own) == _orphans_last(tsk)  # names, flags, sizes, times, locators, streams, order
    items = [i for i in own if isinstance(i, Item)]
    deleted = {i.path for i in items if ItemFlag.DELETED in i.flags and i.path.startswith("Pictures/")}
    assert deleted == {f"Pictures/img{n:04d}.jpg" for n in range(0, FILES, 7)}
    assert "Pictures/img0005.jpg:Zone" in {i.path for i in items}
    orphans = [i for i in items if ItemFlag.ORPHAN in i.flags and ItemFlag.PSEUDO not in i.flags]
    assert [(i.path, i.size) for i in orphans] == [("$OrphanFiles/lost.bin", 3000)]


def test_every_folder_listed_from_its_own_index_gives_the_items_tsk_gives(
        big_folder_volume: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own, folders, orphan_searches = _walk_counting(big_folder_volume, EVERY_FOLDER, monkeypatch)
    assert (folders, orphan_searches) == (5, 1)  # /, Pictures, small, gone (deleted) and $Extend
    assert _orphans_last(own) == _orphans_last(_walk(big_folder_volume, TSK_ONLY, monkeypatch))


@pytest.mark.parametrize(("archive", "member"), [
    ("7-undel-ntfs.zip", "7-undel-ntfs/7-ntfs-undel.dd"),  # deleted, reallocated, resident files, a deleted ADS
    ("8-jpeg-search.zip", "8-jpeg-search/8-jpeg-search.dd"),
])
def test_dftt_ntfs_images_listed_from_their_own_indexes_give_the_items_tsk_gives(
        archive: str, member: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with zipfile.ZipFile(DFTT / archive) as opened:
        opened.extract(member, tmp_path)
    image = tmp_path / member
    tsk = _walk(image, TSK_ONLY, monkeypatch)
    assert any(isinstance(i, Item) and ItemFlag.DELETED in i.flags for i in tsk)
    own, folders, orphan_searches = _walk_counting(image, EVERY_FOLDER, monkeypatch)
    assert folders >= 3 and orphan_searches == 1
    assert _orphans_last(own) == _orphans_last(tsk)


@pytest.mark.parametrize("image", [
    REALDATA / "log2timeline__plaso" / "test_data" / "vsstest.qcow2",
    REALDATA / "log2timeline__dfvfs" / "test_data" / "windows_volume.qcow2",
])
def test_ntfs_images_made_by_windows_listed_from_their_own_indexes_give_the_items_tsk_gives(
        image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tsk = _walk(image, TSK_ONLY, monkeypatch)
    assert len([i for i in tsk if isinstance(i, Item)]) > 20
    own, folders, orphan_searches = _walk_counting(image, EVERY_FOLDER, monkeypatch)
    assert folders >= 3 and orphan_searches == 1
    assert _orphans_last(own) == _orphans_last(tsk)


def test_names_that_are_not_valid_utf16_read_as_tsk_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "names.img"
    with image.open("wb") as raw:
        raw.truncate(16 << 20)
    subprocess.run(["mkntfs", "-F", "-f", "-Q", "-q", str(image)], check=True, capture_output=True)
    odd = [b"1\x00\x00\xd8", b"2\x00\x00\xdcx\x00", b"3\x00\x3d\xd8\x00\xdey\x00", b"4\x00\x00\xd8\x00\xd8z\x00",
           b"5\x00\x00\xdc\x00\xdcw\x00", b"6\x00\x00\xd8b\x00\xfd\xff\x07\x00"]  # lone, paired, doubled surrogates
    with _ntfs_volume(image) as volume:
        volume.make_folders("odd/x")
        for name in odd:
            folder = volume._open("odd")
            units = ctypes.create_string_buffer(name)
            created = volume._lib.ntfs_create(folder, 0, ctypes.addressof(units), len(name) // 2, 0o100000)
            volume._lib.ntfs_inode_close_in_dir(created, folder)
            volume._lib.ntfs_inode_close(folder)
    tsk = _walk(image, TSK_ONLY, monkeypatch)
    assert len([i for i in tsk if isinstance(i, Item) and i.path.startswith("odd/")]) == len(odd)
    assert _orphans_last(_walk(image, EVERY_FOLDER, monkeypatch)) == _orphans_last(tsk)


def test_a_damaged_index_record_is_a_recorded_problem_and_the_folder_is_still_listed(
        big_folder_volume: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    damaged = tmp_path / "damaged.img"
    image = bytearray(big_folder_volume.read_bytes())
    records = [o for o in range(0, len(image), 4096) if image[o:o + 4] == b"INDX" and b"i\x00m\x00g" in
               image[o:o + 4096]]
    assert len(records) > 3
    victim = records[1]
    image[victim + 510:victim + 512] = b"\xde\xad"  # the first stride's check bytes: a torn write
    damaged.write_bytes(image)
    threshold = _index_bytes(damaged, "/Pictures") - 1
    tsk = _walk(damaged, TSK_ONLY, monkeypatch)
    assert any(isinstance(e, WalkError) and e.path == "Pictures" for e in tsk)  # TSK gives up on the whole folder
    own = _walk(damaged, threshold, monkeypatch)
    problems = [e for e in own if isinstance(e, WalkError) and e.path == "Pictures"]
    assert [p.kind for p in problems] == [ProblemKind.DAMAGED] and "fixups" in problems[0].message
    listed = {i.path for i in own if isinstance(i, Item) and i.path.startswith("Pictures/")
              and ItemFlag.DELETED not in i.flags}
    # the names of the lost record come back from their files' own MFT records, as TSK adds a folder's files
    # missing from its index
    assert listed == {f"Pictures/img{n:04d}.jpg" for n in range(FILES) if n % 7} | {"Pictures/img0005.jpg:Zone"}
    noise = bytearray(image)
    noise[records[2]:records[2] + 4096] = bytes((n * 37 + 11) % 256 for n in range(4096))
    damaged.write_bytes(noise)
    assert any(isinstance(i, Item) for i in _walk(damaged, threshold, monkeypatch))  # noise: bounded, goes on


def test_an_index_entry_naming_the_root_folder_ends_the_walk_as_tsk_does(
        big_folder_volume: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = bytearray(big_folder_volume.read_bytes())
    key = image.find("img0100.jpg".encode("utf-16-le"), 4 << 20)  # its index entry, past the MFT's start
    entry = key - 0x42 - 0x10  # the name sits 0x42 into the key, the key 0x10 into the entry
    assert image[entry + 0x10 + 0x40] == len("img0100.jpg") and (entry % 512) < 500
    image[entry:entry + 8] = (5).to_bytes(6, "little") + (5).to_bytes(2, "little")  # the root folder, record 5
    looping = tmp_path / "loop.img"
    looping.write_bytes(image)
    threshold = _index_bytes(looping, "/Pictures") - 1
    tsk = _walk(looping, TSK_ONLY, monkeypatch)
    assert _orphans_last(_walk(looping, threshold, monkeypatch)) == _orphans_last(tsk)
    paths = {i.path for i in tsk}
    assert "Pictures/img0100.jpg" in paths  # the file itself, from its MFT record
    assert not any(p.startswith("Pictures/img0100.jpg/") for p in paths)  # the root, already walked, not entered again


def test_a_folder_past_the_entry_limit_keeps_the_first_and_says_so(big_folder_volume: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filesystem, "MAX_ENTRIES_PER_DIRECTORY", 50)
    own = _walk(big_folder_volume, _index_bytes(big_folder_volume, "/Pictures") - 1, monkeypatch)
    assert len([i for i in own if isinstance(i, Item) and i.path.startswith("Pictures/img")]) == 50 + 1  # + stream
    assert any(isinstance(e, WalkError) and e.kind is ProblemKind.LIMIT and e.path == "Pictures" for e in own)


def test_orphan_files_come_after_every_other_folder_whoever_lists_them(
        big_folder_volume: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def orphans_at_the_end(walked: list[Item | WalkError]) -> bool:
        return any(i.path.startswith("$OrphanFiles/") for i in walked) and walked == _orphans_last(walked)

    assert orphans_at_the_end(_walk(big_folder_volume, TSK_ONLY, monkeypatch))  # TSK's orphan search
    assert orphans_at_the_end(_walk(big_folder_volume, _index_bytes(big_folder_volume, "/Pictures") - 1,
                                    monkeypatch))  # fieldlab's, from the MFT's names


def test_large_folders_are_found_from_the_mft_before_tsk_opens_them_and_only_their_names_are_kept(big_folder_volume: Path) -> None:
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(big_folder_volume)))
    records = MftRecords.open(fs)
    assert records is not None
    pictures = fs.open("/Pictures").info.meta.addr
    threshold = _index_bytes(big_folder_volume, "/Pictures") - 1
    assert large_folders(records, threshold) == {pictures}
    assert large_folders(records, threshold + 1) == frozenset()
    names = MftNames.read(records, {pictures})  # the large folder's names, and the unallocated records' only
    assert len(names.by_parent[pictures]) == FILES
    others = [n for parent, found in names.by_parent.items() if parent != pictures for n in found]
    assert {n.name for n in others} == {b"gone", b"lost.bin"} and {n.record for n in others} <= names.unallocated


def test_an_mft_claiming_more_records_than_the_bound_is_read_up_to_it_with_a_problem(big_folder_volume: Path) -> None:
    records = MftRecords.open(pytsk3.FS_Info(pytsk3.Img_Info(str(big_folder_volume))))
    assert records is not None
    names = MftNames.read(records, (), limit=30)
    assert [p.kind for p in names.problems] == [ProblemKind.LIMIT]
    assert names.unallocated and max(names.unallocated) < 30  # the reserved records 16-23 among them


def test_orphan_folders_naming_each_other_in_a_cycle_end_and_one_of_them_is_shown() -> None:
    names = MftNames(
        by_parent={40: (MftName(41, 40, 1, b"b"),), 41: (MftName(40, 41, 1, b"a"), MftName(42, 41, 1, b"c.jpg"))},
        unallocated=frozenset({40, 41, 42}), first_names={40: b"a", 41: b"b", 42: b"c.jpg"},
        directories=frozenset({40, 41}), problems=())
    assert orphan_names(names, set(), lambda _: True, 100) == (IndexName(b"a", 40, True),)
    assert orphan_names(names, {40}, lambda _: True, 100) == (IndexName(b"b", 41, True),)
