"""HFS+ folders The Sleuth Kit 4.15 refuses are listed from the catalog B-tree: every file in them found and hashed
through a real scan, the listing the same as TSK's wherever TSK lists, and a damaged or hostile catalog a recorded
problem, never a crash or an endless walk."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import struct
from pathlib import Path

import pytest
import pytsk3
from typer.testing import CliRunner

from fieldlab.case.store import DATABASE_FILE
from fieldlab.cli import app
from fieldlab.evidence.filesystem import MAX_ENTRIES_PER_DIRECTORY, walk_file_system
from fieldlab.evidence.hfsplus_catalog import CatalogListing, HfsCatalog
from fieldlab.evidence.item import Item, WalkError
from fieldlab.problems import ProblemKind
from fieldlab.validation.disks import PlantedFile, build_disk
from fieldlab.validation.hfsplus import BLOCK, CATALOG_NODE, HfsFile, write_hfsplus

# 47 files of 12-character names in A put B's thread record 470 bytes before the end of catalog node 2, within
# the 528 bytes TSK 4.15 refuses (tests assert the refusal, so a change of writer or TSK shows here first)
FILLERS = [(f"A/f{i:03d}_xxxx.bin", b"a" * 10) for i in range(47)]
REFUSED = [(f"B/picture_{i:02d}.jpg", random.Random(i).randbytes(3000 + i)) for i in range(12)]
REFUSED += [("B/Sub/deeper.jpg", b"deep" * 500)]
AFTER = [("C/after.jpg", b"after" * 300)]
NODE_WITH_THREAD = 2


def _volume(tmp_path: Path) -> tuple[Path, pytsk3.FS_Info]:
    image = tmp_path / "volume.img"
    with open(image, "wb") as out:
        out.truncate(8 << 20)
    write_hfsplus(image, [HfsFile(p, d) for p, d in FILLERS + REFUSED + AFTER], b"identity", 1_715_949_000)
    return image, pytsk3.FS_Info(pytsk3.Img_Info(str(image)))


def _cnid(fs: pytsk3.FS_Info, path: str) -> int:
    return int(fs.open(path).info.meta.addr)


def _refused(fs: pytsk3.FS_Info, cnid: int) -> bool:
    try:
        fs.open_dir(inode=cnid)
    except OSError:
        return True
    return False


def _catalog(image: Path) -> bytearray:
    """The catalog file's bytes: the writer gives it one extent, named in the volume header's catalog fork."""
    data = image.read_bytes()
    length = struct.unpack_from(">Q", data, 1024 + 272)[0]
    start = struct.unpack_from(">I", data, 1024 + 272 + 16)[0]
    return bytearray(data[start * BLOCK: start * BLOCK + length])


def _over(catalog: bytearray) -> HfsCatalog:
    return HfsCatalog(lambda offset, length: bytes(catalog[offset: offset + length]), len(catalog))


def test_a_folder_the_sleuth_kit_refuses_is_listed_and_every_file_in_it_hashed_by_a_scan(tmp_path: Path) -> None:
    files = [PlantedFile(p, d) for p, d in FILLERS + REFUSED + AFTER]
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "mac.dd", "gpt", [("hfsplus", 8, files)])
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(disk.path)), offset=disk.partitions[0].start_offset)
    assert _refused(fs, _cnid(fs, "/B"))  # the bug this guards: TSK 4.15 will not list B

    case = tmp_path / "case"
    scanned = CliRunner().invoke(app, ["scan", str(disk.path), "--case", str(case), "--exhibit", "MAC1", "--sha256",
                                       "--workers", "1", "--no-live", "--no-verify"])
    assert scanned.exit_code == 0, scanned.output
    with sqlite3.connect(case / DATABASE_FILE) as db:
        rows = db.execute("SELECT path, locator, state, md5, sha256, flags FROM items WHERE kind = 'file'").fetchall()
        walk_errors = db.execute("SELECT path, message FROM errors WHERE stage = 'walk'").fetchall()
    by_path = {path.split("/", 1)[1]: row for path, *row in rows}  # vol1@<offset>/...
    for path, data in REFUSED + AFTER + FILLERS[:3]:
        locator, state, md5, sha256, flags = by_path[path]
        assert (state, md5, sha256) == ("done", hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()), path
        assert flags == ""  # HFS+ catalog entries are allocated: TSK lists none as deleted
        address = int(locator.rsplit("|fsfile:", 1)[1].split(":", 1)[0])
        assert locator.endswith(f"|fsfile:{address}:{path}")  # TSK's walk's form: the CNID, then the path
        assert fs.open_meta(inode=address).read_random(0, len(data) + 1) == data
    assert walk_errors == []


def test_the_catalog_lists_every_folder_as_the_sleuth_kit_does(tmp_path: Path) -> None:
    names = [f"Album_{i % 9}/P_{i}_{'x' * (i % 40)}.jpg" for i in range(2500)] + ["Album_3/Deeper/inner.txt"]
    image = tmp_path / "volume.img"
    with open(image, "wb") as out:
        out.truncate(16 << 20)
    write_hfsplus(image, [HfsFile(name, b"") for name in names], b"identity", 1_715_949_000)
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    catalog = HfsCatalog.of(fs)
    folders = [fs.info.root_inum] + [_cnid(fs, f"/Album_{i}") for i in range(9)] + [_cnid(fs, "/Album_3/Deeper")]
    assert struct.unpack_from(">H", _catalog(image), 14)[0] >= 2  # the tree has an index to descend
    for folder in folders:
        listed = {(e.info.name.name, int(e.info.meta.addr)) for e in fs.open_dir(inode=folder)
                  if e.info.name.name not in (b".", b"..") and not e.info.name.name.startswith(b"$")}
        listing = catalog.children(folder, limit=MAX_ENTRIES_PER_DIRECTORY)
        assert listing.problems == ()
        assert {(child.name, child.cnid) for child in listing.children} == listed, folder
        assert len(listing.children) == len(listed)


def test_names_are_spelt_as_the_sleuth_kit_spells_them(tmp_path: Path) -> None:
    image = tmp_path / "volume.img"
    with open(image, "wb") as out:
        out.truncate(4 << 20)
    write_hfsplus(image, [HfsFile(f"A/{name}.jpg", b"x") for name in ("eX", "sXy", "nXl")], b"identity", 0)
    data = bytearray(image.read_bytes())
    for ascii_name, stored in (("eX", "e\u0301"), ("sXy", "s/y"), ("nXl", "n\0l")):  # decomposed é, '/', NUL
        at = data.index(ascii_name.encode("utf-16-be"))  # the file record's key (its thread's name comes later)
        data[at: at + 2 * len(stored)] = stored.encode("utf-16-be")
    image.write_bytes(data)
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    folder = _cnid(fs, "/A")
    listed = [e.info.name.name for e in fs.open_dir(inode=folder) if e.info.name.name != b".."]
    assert listed == [child.name for child in HfsCatalog.of(fs).children(folder, limit=10).children]
    assert listed == ["e\u0301.jpg".encode(), b"n^l.jpg", b"s:y.jpg"]  # é as stored, decomposed: not NFC


def test_the_walk_lists_a_refused_folder_and_its_sub_folder_with_their_contents(tmp_path: Path) -> None:
    _, fs = _volume(tmp_path)
    found = list(walk_file_system(fs, None, ""))
    files = {entry.path: entry for entry in found if isinstance(entry, Item)}
    assert {p for p, _ in REFUSED + AFTER} <= set(files)
    assert all(files[p].size == len(d) for p, d in REFUSED)
    assert not [entry for entry in found if isinstance(entry, WalkError)]


def test_a_corrupted_catalog_node_is_a_recorded_problem_and_the_walk_goes_on(tmp_path: Path) -> None:
    image, fs = _volume(tmp_path)
    catalog = _catalog(image)
    start = struct.unpack_from(">I", image.read_bytes(), 1024 + 272 + 16)[0] * BLOCK
    after = NODE_WITH_THREAD + 1  # where B's later records are
    with open(image, "r+b") as volume:  # the node's record count: more records than a node can hold
        volume.seek(start + after * CATALOG_NODE + 10)
        volume.write(struct.pack(">H", 0xFFFF))
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    found = list(walk_file_system(fs, None, ""))
    problems = [entry for entry in found if isinstance(entry, WalkError) and entry.path == "B"]
    assert [problem.kind for problem in problems] == [ProblemKind.DAMAGED]
    assert f"node {after}" in problems[0].message and "refused by The Sleuth Kit" in problems[0].message
    listed = {entry.path for entry in found if isinstance(entry, Item)}
    assert {p for p, _ in FILLERS} <= listed  # the rest of the volume is walked
    listing = _over(catalog).children(_cnid(fs, "/B"), limit=100)  # the catalog before the damage: B in 2 nodes
    in_thread_node = {c.name.decode() for c in listing.children} - {p.split("/")[1] for p in listed if p[:2] == "B/"}
    assert in_thread_node and len(in_thread_node) < len(listing.children)  # only what the bad node held is lost


@pytest.mark.parametrize("damage", ["leaf points at itself", "index points at itself", "record past its node",
                                    "key past its record", "node past the catalog"])
def test_a_hostile_catalog_stays_bounded_and_says_what_is_wrong(tmp_path: Path, damage: str) -> None:
    image, fs = _volume(tmp_path)
    b_folder = _cnid(fs, "/B")
    catalog = _catalog(image)
    node = NODE_WITH_THREAD * CATALOG_NODE
    root = struct.unpack_from(">I", catalog, 16)[0]
    records = struct.unpack_from(">H", catalog, node + 10)[0]
    if damage == "leaf points at itself":
        struct.pack_into(">I", catalog, node, NODE_WITH_THREAD)
        expected = f"node {NODE_WITH_THREAD} is reached twice"
    elif damage == "index points at itself":
        at = root * CATALOG_NODE
        for index in range(struct.unpack_from(">H", catalog, at + 10)[0]):
            offset = struct.unpack_from(">H", catalog, at + CATALOG_NODE - 2 * (index + 1))[0]
            key_length = struct.unpack_from(">H", catalog, at + offset)[0]
            struct.pack_into(">I", catalog, at + offset + 2 + key_length, root)
        expected = f"node {root} is reached twice"
    elif damage == "record past its node":
        struct.pack_into(">H", catalog, node + CATALOG_NODE - 2 * (records + 1), CATALOG_NODE - 1)
        expected = f"record {records - 1} of node {NODE_WITH_THREAD} lies outside it"
    elif damage == "key past its record":
        last = struct.unpack_from(">H", catalog, node + CATALOG_NODE - 2 * records)[0]
        struct.pack_into(">H", catalog, node + last, 0x7000)
        expected = "runs past the record"
    else:
        struct.pack_into(">I", catalog, node, 10_000)
        expected = "node 10,000 lies outside"
    listing = _over(catalog).children(b_folder, limit=100)
    assert [p.kind for p in listing.problems] == [ProblemKind.DAMAGED]
    assert expected in listing.problems[0].message
    assert len(listing.children) <= len(REFUSED)


def test_random_damage_to_the_catalog_never_raises_or_loops(tmp_path: Path) -> None:
    image, fs = _volume(tmp_path)
    pristine = _catalog(image)
    b_folder = _cnid(fs, "/B")
    sub = {child.name: child.cnid for child in _over(pristine).children(b_folder, limit=100).children}[b"Sub"]
    folders = [fs.info.root_inum, _cnid(fs, "/A"), b_folder, sub, _cnid(fs, "/C")]
    for seed in range(60):
        rng = random.Random(seed)
        catalog = bytearray(pristine)
        for _ in range(rng.choice((1, 8, 64))):
            at = rng.randrange(len(catalog) if seed % 2 else 4 * CATALOG_NODE)  # odd seeds anywhere, even the tree
            catalog[at] = rng.randrange(256)
        for folder in folders:
            listing = _over(catalog).children(folder, limit=1000)
            assert len(listing.children) <= 1000
            assert all(problem.kind in (ProblemKind.DAMAGED, ProblemKind.LIMIT) for problem in listing.problems)


def test_an_unreadable_catalog_is_a_problem_not_an_empty_folder(tmp_path: Path) -> None:
    listing = HfsCatalog(lambda offset, length: b"", 0).children(2, limit=10)
    assert listing.children == () and [p.kind for p in listing.problems] == [ProblemKind.DAMAGED]


def test_a_folder_the_catalog_does_not_hold_is_a_problem_one_with_no_entries_is_not(tmp_path: Path) -> None:
    image = tmp_path / "volume.img"
    with open(image, "wb") as out:
        out.truncate(4 << 20)
    write_hfsplus(image, [HfsFile("A/a.jpg", b"x")], b"identity", 0)
    catalog = HfsCatalog.of(pytsk3.FS_Info(pytsk3.Img_Info(str(image))))
    missing = catalog.children(4000, limit=10)
    assert missing.children == () and "no record of folder 4000" in missing.problems[0].message
    no_entries = catalog.children(17, limit=10)  # a.jpg's CNID: only its thread record, which names no entry
    assert no_entries == CatalogListing((), ())
